/* SPDX-License-Identifier: Apache-2.0 */
#include "pipeline/detect.h"

#include "base/error.h"
#include "base/util.h"
#include "pipeline/source.h"

#include <string.h>

static const struct {
  enum format format;
  const char *name;
  const char *suffix; /* stripped by the naming rule; a name with it must carry the magic */
  const uint8_t magic[6];
  size_t magic_len;
} formats[] = {
    {FORMAT_XZ, "xz", ".xz", {0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00}, 6},
    {FORMAT_GZIP, "gzip", ".gz", {0x1F, 0x8B}, 2},
    {FORMAT_ZSTD, "zstd", ".zst", {0x28, 0xB5, 0x2F, 0xFD}, 4},
    {FORMAT_BZIP2, "bzip2", ".bz2", {0x42, 0x5A, 0x68}, 3},
    {FORMAT_ZIP, "zip", ".zip", {0x50, 0x4B, 0x03, 0x04}, 4},
    {FORMAT_LZIP, "lzip", ".lz", {0x4C, 0x5A, 0x49, 0x50}, 4},
    {FORMAT_LZMA, "lzma", ".lzma", {0}, 0}, /* no magic: LZMA_Alone is known by its suffix */
};

const char *format_name(enum format f) {
  for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
    if (formats[i].format == f)
      return formats[i].name;
  return "none";
}

const char *format_suffix(enum format f) {
  for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
    if (formats[i].format == f)
      return formats[i].suffix;
  return NULL;
}

int detect_format(const uint8_t *head, size_t len, const char *name, enum format *out, lib_error *err) {
  const char *shown = name ? name : "input";
  if (len == 0)
    return error_set(err, VMPULL_E_CORRUPT, "%s: empty image", shown);
  for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
    if (formats[i].magic_len && len >= formats[i].magic_len &&
        memcmp(head, formats[i].magic, formats[i].magic_len) == 0) {
      *out = formats[i].format;
      return 0;
    }
  }
  /* No magic. A zip may start with something other than a local header (a
   * self-extractor stub, an empty archive), and LZMA_Alone has no magic:
   * for those two the suffix decides, and the decoder judges the content. */
  if (name && ends_with_ci(name, ".zip")) {
    *out = FORMAT_ZIP;
    return 0;
  }
  if (name && ends_with_ci(name, ".lzma")) {
    *out = FORMAT_LZMA;
    return 0;
  }
  if (name) {
    for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
      if (ends_with_ci(name, formats[i].suffix))
        return error_set(err, VMPULL_E_CORRUPT, "%s: name says %s but the data has no %s header", shown,
                         formats[i].name, formats[i].name);
  }
  *out = FORMAT_NONE;
  return 0;
}

int detect_source(struct byte_source *content, const char *name, const struct call_hooks *hooks,
                  struct byte_source **stream, enum format *out, lib_error *err) {
  _cleanup_source_ struct byte_source *peek = source_peek_new(content);
  if (!peek) {
    source_free(content);
    return error_oom(err);
  }
  const uint8_t *head;
  size_t head_len;
  int r = source_peek(peek, DETECT_PEEK, &head, &head_len, err);
  if (r < 0)
    return r;
  r = detect_format(head, head_len, name, out, err);
  if (r < 0)
    return r;
  hooks_log(hooks, VMPULL_LOG_INFO, "%s: format %s", name ? name : "input", format_name(*out));
  *stream = TAKE_PTR(peek);
  return 0;
}
