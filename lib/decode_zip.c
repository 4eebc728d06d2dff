/* SPDX-License-Identifier: Apache-2.0 */
/* zip: libarchive, read as a stream; the archive must hold exactly one regular file. */
#include "decode.h"
#include "error.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>

static inline void archive_freep(struct archive **a) {
  if (*a)
    archive_read_free(*a);
}

/* The end of central directory record (22 bytes and a comment of up to 64 KiB) closes every zip. */
#define EOCD_MIN 22u
#define EOCD_MAX (EOCD_MIN + 65535u)

struct zip_reader {
  struct byte_source *in;
  uint8_t *buf;
  vmpull_error source_err; /* what the byte source said, if it failed */
  int source_failed;
  uint8_t tail[EOCD_MAX]; /* the last bytes of the archive seen so far */
  size_t tail_len;
};

static void keep_tail(struct zip_reader *z, const uint8_t *p, size_t n) {
  if (n >= EOCD_MAX) {
    memcpy(z->tail, p + n - EOCD_MAX, EOCD_MAX);
    z->tail_len = EOCD_MAX;
    return;
  }
  size_t drop = z->tail_len + n > EOCD_MAX ? z->tail_len + n - EOCD_MAX : 0;
  memmove(z->tail, z->tail + drop, z->tail_len - drop);
  z->tail_len -= drop;
  memcpy(z->tail + z->tail_len, p, n);
  z->tail_len += n;
}

static int zip_source_read(struct zip_reader *z, size_t *got) {
  if (source_read(z->in, z->buf, DECODE_IN_BUF, got, &z->source_err) < 0) {
    z->source_failed = 1;
    return -1;
  }
  keep_tail(z, z->buf, *got);
  return 0;
}

static la_ssize_t zip_read(struct archive *a, void *data, const void **buf) {
  (void)a;
  struct zip_reader *z = data;
  size_t got = 0;
  if (zip_source_read(z, &got) < 0)
    return -1;
  *buf = z->buf;
  return (la_ssize_t)got;
}

/* The streaming reader stops at the central directory, so a download cut short inside it would
 * pass: read to the end and require the end record, its comment reaching exactly to the end. */
static int check_archive_end(struct zip_reader *z, vmpull_error *err) {
  for (;;) {
    size_t got = 0;
    if (zip_source_read(z, &got) < 0) {
      *err = z->source_err;
      return -err->code;
    }
    if (got == 0)
      break;
  }
  for (size_t i = z->tail_len >= EOCD_MIN ? z->tail_len - EOCD_MIN + 1 : 0; i-- > 0;) {
    const uint8_t *p = z->tail + i;
    if (p[0] == 'P' && p[1] == 'K' && p[2] == 5 && p[3] == 6 &&
        i + EOCD_MIN + (size_t)(p[20] | p[21] << 8) == z->tail_len)
      return 0;
  }
  return error_set(err, VMPULL_E_CORRUPT, "zip: archive is truncated (no end of central directory record)");
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
  _cleanup_free_ struct zip_reader *z = calloc(1, sizeof(*z)); /* 64 KiB tail: not on the stack */
  if (!buf || !z)
    return error_oom(err);
  z->in = in;
  z->buf = buf;
  __attribute__((cleanup(archive_freep))) struct archive *a = archive_read_new();
  if (!a)
    return error_oom(err);
  archive_read_support_format_zip_streamable(a);
  if (archive_read_open(a, z, NULL, zip_read, NULL) != ARCHIVE_OK)
    return archive_failure(z, a, err);

  unsigned files = 0;
  for (;;) {
    struct archive_entry *e;
    int ret = archive_read_next_header(a, &e);
    if (ret == ARCHIVE_EOF)
      break;
    if (ret < ARCHIVE_WARN)
      return archive_failure(z, a, err);
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
      /* libarchive reports a CRC mismatch as a mere warning: for a disk image it is corruption. */
      if (ret != ARCHIVE_OK)
        return archive_failure(z, a, err);
      if ((uint64_t)offset != out->accepted)
        return error_set(err, VMPULL_E_CORRUPT, "zip: unexpected data offset");
      int r = sink_write(out, block, len, err);
      if (r < 0)
        return r;
    }
  }
  if (files != 1)
    return error_set(err, VMPULL_E_CORRUPT, "zip archive must contain exactly one file (found %u)", files);
  return check_archive_end(z, err);
}
