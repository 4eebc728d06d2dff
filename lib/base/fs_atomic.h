/* SPDX-License-Identifier: Apache-2.0 */
/* Files that appear whole or not at all: a temporary in the folder, written, then linked or renamed
 * into place. The one home of the random temporary names, the O_TMPFILE link (lib/base/platform.h)
 * and the small-file "write, fsync, rename". */
#ifndef VMPULL_FS_ATOMIC_H
#define VMPULL_FS_ATOMIC_H

#include <stddef.h>

/* n random characters [a-z0-9] and a NUL into out (getrandom, else the clock and the pid). */
void random_name(char *out, size_t n);
/* prefix followed by 16 random characters, for a temporary beside its final name; NULL when out of
 * memory. */
char *tmp_name_new(const char *prefix);
/* Give the unnamed O_TMPFILE fd the name name in dirfd (plat_tmpfile_link: linkat AT_EMPTY_PATH,
 * else through /proc/self/fd, which needs no CAP_DAC_READ_SEARCH). 0 or -errno. */
int tmpfile_link(int fd, int dirfd, const char *name);
/* buf as the whole content of dirfd/name (mode 0600), replacing it at once: written under
 * tmp_prefix<random> (O_EXCL, O_NOFOLLOW), fsynced first when durable, then renamed over name;
 * nothing is left behind on failure. 0 or -errno. */
int file_write_atomic(int dirfd, const char *name, const void *buf, size_t len, const char *tmp_prefix, int durable);

#endif
