/* SPDX-License-Identifier: Apache-2.0 */
/* Compression format detection: magic bytes first, then the file-name suffix rules. */
#ifndef VMPULL_DETECT_H
#define VMPULL_DETECT_H

#include "base/error.h"
#include "base/hooks.h"

#include <stddef.h>
#include <stdint.h>

enum format {
  FORMAT_NONE = 0,
  FORMAT_XZ,
  FORMAT_LZMA, /* LZMA_Alone (.lzma) */
  FORMAT_LZIP,
  FORMAT_GZIP,
  FORMAT_ZSTD,
  FORMAT_BZIP2,
  FORMAT_ZIP,
};

/* Bytes detection wants to see (fewer is fine at end of stream). */
#define DETECT_PEEK 16

/* head: the first bytes of the stream (len 0 means the source is empty, an error).
 * name: the image file name, for the suffix rules; may be NULL. */
int detect_format(const uint8_t *head, size_t len, const char *name, enum format *out, lib_error *err);

struct byte_source;
/* Takes content and hands it out again as *stream, its start peeked (still unread) and its format
 * detected (name as for detect_format); hooks (may be NULL) get a log line with the format. */
int detect_source(struct byte_source *content, const char *name, const struct call_hooks *hooks,
                  struct byte_source **stream, enum format *out, lib_error *err);

const char *format_name(enum format f);
/* The suffix the naming rule strips for f (".xz"...), or NULL for none. */
const char *format_suffix(enum format f);

#endif
