/* SPDX-License-Identifier: Apache-2.0 */
/* A tar layer that holds exactly one regular file: present that file as a byte source. */
#ifndef VMPULL_UNWRAP_TAR_H
#define VMPULL_UNWRAP_TAR_H

#include "pipeline/source.h"

/* Takes ownership of inner. The tar may itself be gzip/zstd compressed (layer media
 * type +gzip/+zstd): the tar's own compression is removed here. *entry_name is the
 * base name of the file (leading ./ stripped); links, "..", absolute paths, zero or
 * several regular files are errors. Directory entries are ignored. */
int unwrap_tar_new(struct byte_source *inner, struct byte_source **out, char **entry_name, lib_error *err);
/* A resolved tar layer's content (*content, taken) replaced by the file inside, *image_name by that
 * file's name; errors are wrapped with display (the source, for messages). */
int unwrap_tar_layer(struct byte_source **content, char **image_name, const char *display, lib_error *err);

#endif
