/* SPDX-License-Identifier: Apache-2.0 */
/* A folder's names, sorted: scandir(3) over the platform layer's listing (lib/base/platform.h), for
 * the folders the library reads whole (key files, certs.d). */
#ifndef VMPULL_DIR_LIST_H
#define VMPULL_DIR_LIST_H

/* The names in the folder path ("." and ".." included, as scandir gives them), sorted by strcmp,
 * into *names (free with dir_list_free): their count, or -1 and errno. */
int dir_list(const char *path, char ***names);
void dir_list_free(char **names, int n);

#endif
