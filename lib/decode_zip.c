/* SPDX-License-Identifier: Apache-2.0 */
/* zip: libarchive, read as a stream; the archive must hold exactly one regular file. */
#include <archive.h>
#include <archive_entry.h>

#include "decode.h"
#include "error.h"
#include "util.h"

static inline void archive_freep(struct archive **a) {
  if (*a)
    archive_read_free(*a);
}

struct zip_reader {
  struct byte_source *in;
  uint8_t *buf;
  vmpull_error source_err; /* what the byte source said, if it failed */
  int source_failed;
};

static la_ssize_t zip_read(struct archive *a, void *data, const void **buf) {
  (void)a;
  struct zip_reader *z = data;
  size_t got = 0;
  if (source_read(z->in, z->buf, DECODE_IN_BUF, &got, &z->source_err) < 0) {
    z->source_failed = 1;
    return -1;
  }
  *buf = z->buf;
  return (la_ssize_t)got;
}

static int archive_failure(struct zip_reader *z, struct archive *a, vmpull_error *err) {
  if (z->source_failed) {
    *err = z->source_err;
    return -err->code;
  }
  const char *msg = archive_error_string(a);
  return error_set(err, VMPULL_E_CORRUPT, "zip: %s", msg ? msg : "archive is corrupt");
}

int decode_zip(struct byte_source *in, struct sink *out, const struct decode_options *o, vmpull_error *err) {
  (void)o;
  _cleanup_free_ uint8_t *buf = malloc(DECODE_IN_BUF);
  if (!buf)
    return error_oom(err);
  struct zip_reader z = {.in = in, .buf = buf};
  __attribute__((cleanup(archive_freep))) struct archive *a = archive_read_new();
  if (!a)
    return error_oom(err);
  archive_read_support_format_zip_streamable(a);
  if (archive_read_open(a, &z, NULL, zip_read, NULL) != ARCHIVE_OK)
    return archive_failure(&z, a, err);

  unsigned files = 0;
  for (;;) {
    struct archive_entry *e;
    int ret = archive_read_next_header(a, &e);
    if (ret == ARCHIVE_EOF)
      break;
    if (ret < ARCHIVE_WARN)
      return archive_failure(&z, a, err);
    mode_t type = archive_entry_filetype(e);
    if (type == AE_IFDIR)
      continue;
    if (type != AE_IFREG)
      return error_set(err, VMPULL_E_CORRUPT, "zip: entry '%s' is not a regular file",
                       archive_entry_pathname(e) ? archive_entry_pathname(e) : "?");
    files++;
    if (files > 1)
      continue; /* only counted, for the error below */
    if (archive_entry_size_is_set(e))
      sink_declare_size(out, (uint64_t)archive_entry_size(e));
    for (;;) {
      const void *block;
      size_t len;
      la_int64_t offset;
      ret = archive_read_data_block(a, &block, &len, &offset);
      if (ret == ARCHIVE_EOF)
        break;
      if (ret < ARCHIVE_WARN)
        return archive_failure(&z, a, err);
      if ((uint64_t)offset != out->offset)
        return error_set(err, VMPULL_E_CORRUPT, "zip: unexpected data offset");
      int r = sink_write(out, block, len, err);
      if (r < 0)
        return r;
    }
  }
  if (files != 1)
    return error_set(err, VMPULL_E_CORRUPT, "zip archive must contain exactly one file (found %u)", files);
  return 0;
}
