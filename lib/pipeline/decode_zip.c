/* SPDX-License-Identifier: Apache-2.0 */
/* zip: libarchive, read as a stream; the archive must hold exactly one regular file. */
#include "base/error.h"
#include "base/util.h"
#include "pipeline/decode.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

DEFINE_CLEANUP_FUNC(struct archive *, archive_read_free)

/* The end of central directory record (22 bytes and a comment of up to 64 KiB) closes every zip. */
#define EOCD_MIN 22u
#define EOCD_MAX (EOCD_MIN + 65535u)
/* Before it, the central directory: the only place an entry's file type is written (a symlink
 * entry's local header looks like a file's). One disk and some folders need far less. */
#define CENTRAL_DIR_MAX (64u << 10)
#define ZIP64_LOCATOR 20u
#define TAIL_MAX (CENTRAL_DIR_MAX + ZIP64_LOCATOR + EOCD_MAX)

struct zip_reader {
  struct byte_source *in;
  uint8_t *buf;
  lib_error source_err; /* what the byte source said, if it failed */
  int source_failed;
  uint64_t total;         /* bytes of the archive read so far */
  uint8_t tail[TAIL_MAX]; /* the last bytes of the archive seen so far */
  size_t tail_len;
};

static void keep_tail(struct zip_reader *z, const uint8_t *p, size_t n) {
  z->total += n;
  if (n >= TAIL_MAX) {
    memcpy(z->tail, p + n - TAIL_MAX, TAIL_MAX);
    z->tail_len = TAIL_MAX;
    return;
  }
  size_t drop = z->tail_len + n > TAIL_MAX ? z->tail_len + n - TAIL_MAX : 0;
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

static uint32_t le16(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static uint32_t le32(const uint8_t *p) {
  return le16(p) | le16(p + 2) << 16;
}
static uint64_t le64(const uint8_t *p) {
  return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Every entry the central directory (ending at tail[end]) lists must hold data or be a folder:
 * the streaming reader only saw local headers, where a symlink looks like a file whose data is
 * the link target. (Info-ZIP marks what it read from a pipe, `zip - -`, as a FIFO: its data is
 * the file.) */
static int check_central_directory(struct zip_reader *z, size_t end, lib_error *err) {
  const uint8_t *eocd = z->tail + end;
  uint64_t size = le32(eocd + 12);
  if (end >= ZIP64_LOCATOR && le32(eocd - ZIP64_LOCATOR) == 0x07064b50u) {
    /* zip64: the locator gives the zip64 end record's offset, and the record the directory's size. */
    uint64_t record = le64(eocd - ZIP64_LOCATOR + 8), tail_start = z->total - z->tail_len;
    if (record < tail_start || record - tail_start + 56 > end - ZIP64_LOCATOR ||
        le32(z->tail + (record - tail_start)) != 0x06064b50u)
      return error_set(err, VMPULL_E_CORRUPT, "zip: the zip64 end of central directory record is missing");
    end = (size_t)(record - tail_start);
    size = le64(z->tail + end + 40);
  }
  if (size > end)
    return error_set(err, VMPULL_E_UNSUPPORTED, "zip: central directory larger than %u KiB", CENTRAL_DIR_MAX >> 10);
  for (size_t at = end - (size_t)size; at < end;) {
    const uint8_t *e = z->tail + at;
    if (end - at < 46 || le32(e) != 0x02014b50u)
      return error_set(err, VMPULL_E_CORRUPT, "zip: central directory is damaged");
    size_t name_len = le16(e + 28), len = 46 + name_len + le16(e + 30) + le16(e + 32);
    if (len > end - at)
      return error_set(err, VMPULL_E_CORRUPT, "zip: central directory is damaged");
    unsigned system = le16(e + 4) >> 8; /* made by: 3 Unix, 19 OS X keep the mode in the top half */
    uint32_t type = (le32(e + 38) >> 16) & S_IFMT;
    if ((system == 3 || system == 19) && type && type != S_IFREG && type != S_IFDIR && type != S_IFIFO)
      return error_set(err, VMPULL_E_CORRUPT, "zip: entry '%.*s' is %s, not a regular file", (int)name_len,
                       (const char *)e + 46, type == S_IFLNK ? "a symbolic link" : "a device or socket");
    at += len;
  }
  return 0;
}

/* The streaming reader stops at the central directory, so a download cut short inside it would
 * pass: read to the end and require the end record, its comment reaching exactly to the end. */
static int check_archive_end(struct zip_reader *z, lib_error *err) {
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
      return check_central_directory(z, i, err);
  }
  return error_set(err, VMPULL_E_CORRUPT, "zip: archive is truncated (no end of central directory record)");
}

static int archive_failure(struct zip_reader *z, struct archive *a, lib_error *err) {
  if (z->source_failed) {
    *err = z->source_err;
    return -err->code;
  }
  const char *msg = archive_error_string(a);
  return error_set(err, VMPULL_E_CORRUPT, "zip: %s", msg ? msg : "archive is corrupt");
}

int decode_zip(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err) {
  (void)o;
  _cleanup_free_ uint8_t *buf = malloc(DECODE_IN_BUF);
  _cleanup_free_ struct zip_reader *z = calloc(1, sizeof(*z)); /* 64 KiB tail: not on the stack */
  if (!buf || !z)
    return error_oom(err);
  z->in = in;
  z->buf = buf;
  _cleanup_(archive_read_freep) struct archive *a = archive_read_new();
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
