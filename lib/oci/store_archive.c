/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci-archive://FILE[:REF]: an OCI image layout packed as one tar (what
 * `vmpull save --to-archive` and `skopeo copy ... oci-archive:` write), read
 * in place with libarchive: nothing is extracted. Opening the store reads the
 * headers once (index.json and oci-layout, and that neither is there twice);
 * each document or blob is then found by scanning the headers again, which
 * for a plain tar seeks over every other member's data, and its bytes stream
 * straight out of the tar. A compressed tar (.tar.gz, ...) works too, at the
 * price of decompressing the members it passes.
 *
 * Only regular-file members named oci-layout, index.json,
 * blobs/<alg>/<hex> or signatures/<alg>-<hex>/signature-N (lookaside copies,
 * policy_eval.h; a leading ./ allowed) are ever read; links and anything
 * else are not followed. Every document and blob is checked against its
 * digest, as for a layout folder.
 */
#include "base/error.h"
#include "base/platform.h"
#include "base/redact.h"
#include "base/util.h"
#include "oci/oci_digest.h"
#include "oci/oci_ref.h"
#include "oci/oci_store.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>

#define SCAN_BUF (64u << 10)
#define LAYOUT_FILE_MAX 4096u

struct archive_store {
  struct oci_store base;
  int fd;
  uint64_t file_size;
  char *path;
  char *ref_name;
};

/* One pass over the tar: libarchive reads through pread at its own offset, so passes share the fd. */
struct scan {
  struct archive *a;
  int fd;
  uint64_t off, end;
  uint8_t *buf;
};

static la_ssize_t scan_read(struct archive *a, void *userdata, const void **buf) {
  struct scan *s = userdata;
  for (;;) {
    ssize_t n = plat_pread(s->fd, s->buf, SCAN_BUF, s->off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      archive_set_error(a, errno, "read: %s", strerror(errno));
      return -1;
    }
    s->off += (uint64_t)n;
    *buf = s->buf;
    return n;
  }
}

static la_int64_t scan_skip(struct archive *a, void *userdata, la_int64_t request) {
  (void)a;
  struct scan *s = userdata;
  uint64_t left = s->end > s->off ? s->end - s->off : 0;
  uint64_t n = MIN((uint64_t)request, left);
  s->off += n;
  return (la_int64_t)n;
}

static void scan_close(struct scan *s) {
  if (s->a)
    archive_read_free(s->a);
  free(s->buf);
  *s = (struct scan){.fd = -1};
}

static int scan_open(struct archive_store *st, struct scan *s, lib_error *err) {
  *s = (struct scan){.fd = st->fd, .end = st->file_size};
  s->buf = malloc(SCAN_BUF);
  s->a = archive_read_new();
  if (!s->buf || !s->a)
    return error_oom(err);
  archive_read_support_format_tar(s->a);
  archive_read_support_filter_all(s->a);
  if (archive_read_open2(s->a, s, NULL, scan_read, scan_skip, NULL) != ARCHIVE_OK)
    return error_set(err, VMPULL_E_CORRUPT, "%s: %s", st->path, archive_error_string(s->a));
  return 0;
}

/* The member name as a layout path: "./blobs/x" -> "blobs/x". */
static const char *member_name(struct archive_entry *e) {
  const char *n = archive_entry_pathname(e);
  if (!n)
    return "";
  while (n[0] == '.' && n[1] == '/') {
    n += 2;
    while (*n == '/')
      n++;
  }
  return n;
}

/* Advance s to the regular-file member called name: 1 there (data next), 0 not in the archive. */
static int scan_to(struct archive_store *st, struct scan *s, const char *name, uint64_t *size, lib_error *err) {
  struct archive_entry *e;
  for (;;) {
    int r = archive_read_next_header(s->a, &e);
    if (r == ARCHIVE_EOF)
      return 0;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return error_set(err, VMPULL_E_CORRUPT, "%s: %s", st->path, archive_error_string(s->a));
    if (archive_entry_filetype(e) == AE_IFREG && !strcmp(member_name(e), name)) {
      *size = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : UINT64_MAX;
      return 1;
    }
  }
}

/* Read the current member's data (exactly size bytes) into a NUL-terminated buffer. */
static int read_member(struct archive_store *st, struct scan *s, const char *name, uint64_t size, char **out,
                       lib_error *err) {
  _cleanup_free_ char *buf = malloc(size + 1);
  if (!buf)
    return error_oom(err);
  uint64_t used = 0;
  while (used < size) {
    la_ssize_t n = archive_read_data(s->a, buf + used, size - used);
    if (n < 0)
      return error_set(err, VMPULL_E_CORRUPT, "%s: %s: %s", st->path, name, archive_error_string(s->a));
    if (n == 0)
      return error_set(err, VMPULL_E_CORRUPT, "%s: %s is cut short", st->path, name);
    used += (uint64_t)n;
  }
  buf[used] = '\0';
  *out = TAKE_PTR(buf);
  return 0;
}

static int blob_name(const char *digest, char *out, size_t len, lib_error *err) {
  const char *colon = strchr(digest, ':');
  if (!colon || colon - digest != 6)
    return error_set(err, VMPULL_E_MANIFEST, "digest '%.100s' is not usable", digest);
  snprintf(out, len, "blobs/%.6s/%s", digest, colon + 1);
  return 0;
}

/* Find d's blob and check its size: s is then at its data. */
static int find_blob(struct archive_store *st, struct scan *s, const struct oci_descriptor *d, const char *kind,
                     lib_error *err) {
  char name[OCI_DIGEST_MAX + 16];
  int r = blob_name(d->digest, name, sizeof(name), err);
  if (r < 0)
    return r;
  r = scan_open(st, s, err);
  if (r < 0)
    return r;
  uint64_t size = 0;
  r = scan_to(st, s, name, &size, err);
  if (r < 0)
    return r;
  if (r == 0)
    return error_set(err, VMPULL_E_NOT_FOUND, "%s: %s %s: no member %s", st->path, kind, d->digest, name);
  if (size != d->size)
    return error_set(err, VMPULL_E_DIGEST, "%s %s: %llu bytes, but the descriptor says %llu", kind, d->digest,
                     (unsigned long long)size, (unsigned long long)d->size);
  return 0;
}

static int archive_fetch(void *userdata, const struct oci_descriptor *d, char **buf, size_t *len, lib_error *err) {
  struct archive_store *st = userdata;
  const char *kind = oci_media_is_index(d->media_type) ? "index" : "manifest";
  int r = oci_layout_doc_size_check(d, kind, err);
  if (r < 0)
    return r;
  _cleanup_(scan_close) struct scan s = {.fd = -1};
  r = find_blob(st, &s, d, kind, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *data = NULL;
  r = read_member(st, &s, d->digest, d->size, &data, err);
  if (r < 0)
    return r;
  return oci_layout_doc_take(d, kind, &data, d->size, buf, len, err);
}

/* A file of the layout outside blobs/ (its lookaside signatures): one scan for its member. */
static int archive_read_file(struct oci_store *base, const char *name, size_t max, char **buf, size_t *len,
                             lib_error *err) {
  struct archive_store *st = (struct archive_store *)base;
  _cleanup_(scan_close) struct scan s = {.fd = -1};
  int r = scan_open(st, &s, err);
  uint64_t size = 0;
  if (r == 0)
    r = scan_to(st, &s, name, &size, err);
  if (r <= 0)
    return r;
  if (size > max)
    return error_set(err, VMPULL_E_LIMIT, "%s: %s is more than %zu bytes", st->path, name, max);
  r = read_member(st, &s, name, size, buf, err);
  if (r < 0)
    return r;
  *len = (size_t)size;
  return 1;
}

/* --- a blob streaming out of the tar --- */

/* It holds a reference to its store: the store's fd is what the scan reads, and the pull frees the
 * store (after resolving) while the blob is still being read. */
struct member_source {
  struct byte_source base;
  struct scan scan;
  struct oci_store *store;
  char *path; /* the archive, for messages */
};

static int member_read(struct byte_source *src, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  struct member_source *m = (struct member_source *)src;
  la_ssize_t n = archive_read_data(m->scan.a, buf, cap);
  if (n < 0)
    return error_set(err, VMPULL_E_CORRUPT, "%s: %s: %s", m->path, src->name, archive_error_string(m->scan.a));
  *got = (size_t)n;
  return 0;
}

static void member_free(struct byte_source *src) {
  struct member_source *m = (struct member_source *)src;
  scan_close(&m->scan);
  oci_store_free(m->store);
  free(m->path);
  free(m->base.name);
  free(m);
}

static const struct byte_source_ops member_ops = {.read = member_read, .free = member_free};

static int archive_open_blob(struct oci_store *base, const struct oci_descriptor *d, struct byte_source **out,
                             lib_error *err) {
  struct archive_store *st = (struct archive_store *)base;
  struct member_source *m = calloc(1, sizeof(*m));
  if (!m)
    return error_oom(err);
  m->base.ops = &member_ops;
  m->scan.fd = -1;
  m->store = oci_store_ref(base);
  _cleanup_source_ struct byte_source *guard = &m->base;
  m->base.name = xasprintf("blob %s", d->digest);
  m->path = strdup(st->path);
  if (!m->base.name || !m->path)
    return error_oom(err);
  int r = find_blob(st, &m->scan, d, "blob", err);
  if (r < 0)
    return r;
  m->base.size = d->size;
  *out = TAKE_PTR(guard);
  return 0;
}

static void tar_store_free(struct oci_store *base) {
  struct archive_store *st = (struct archive_store *)base;
  closep(&st->fd);
  free(st->path);
  free(st->ref_name);
  free(st);
}

/* oci-archive://FILE[:REF] (or skopeo's oci-archive:FILE[:REF]), split at the first colon as oci-dir:// is. */
static int archive_ref_parse(const char *source, char **path, char **ref, lib_error *err) {
  const char *rest = oci_layout_spec(source, 1);
  if (!rest)
    return error_set(err, VMPULL_E_USAGE, "'%s' is not an oci-archive:// reference", source);
  const char *colon = oci_layout_ref_colon(rest, OCI_WINDOWS_PATHS);
  size_t path_len = colon ? (size_t)(colon - rest) : strlen(rest);
  if (path_len == 0)
    return error_set(err, VMPULL_E_USAGE, "%s: no archive file given (oci-archive://FILE[:REF])", source);
  if (colon && !colon[1])
    return error_set(err, VMPULL_E_USAGE, "%s: empty REF after ':' (oci-archive://FILE[:REF])", source);
  *path = strndup(rest, path_len);
  *ref = colon ? strdup(colon + 1) : NULL;
  if (!*path || (colon && !*ref))
    return error_oom(err);
  return 0;
}

/* One pass over every header: read oci-layout and index.json, and refuse either twice. */
static int read_layout_files(struct archive_store *st, char **layout, size_t *layout_len, char **index,
                             size_t *index_len, lib_error *err) {
  _cleanup_(scan_close) struct scan s = {.fd = -1};
  int r = scan_open(st, &s, err);
  if (r < 0)
    return r;
  struct archive_entry *e;
  for (;;) {
    r = archive_read_next_header(s.a, &e);
    if (r == ARCHIVE_EOF)
      break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return error_set(err, VMPULL_E_CORRUPT, "%s: %s", st->path, archive_error_string(s.a));
    const char *name = member_name(e);
    int is_layout = !strcmp(name, "oci-layout"), is_index = !strcmp(name, "index.json");
    if (!is_layout && !is_index)
      continue;
    if (archive_entry_filetype(e) != AE_IFREG)
      return error_set(err, VMPULL_E_MANIFEST, "%s: %s is not a regular file", st->path, name);
    char **dst = is_layout ? layout : index;
    if (*dst)
      return error_set(err, VMPULL_E_MANIFEST, "%s: the archive holds %s twice", st->path, name);
    uint64_t size = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : UINT64_MAX;
    uint64_t max = is_layout ? LAYOUT_FILE_MAX : OCI_DOC_MAX;
    if (size > max)
      return error_set(err, VMPULL_E_LIMIT, "%s: %s is more than %llu bytes", st->path, name, (unsigned long long)max);
    r = read_member(st, &s, name, size, dst, err);
    if (r < 0)
      return r;
    *(is_layout ? layout_len : index_len) = (size_t)size;
  }
  if (!*layout)
    return error_set(err, VMPULL_E_NOT_FOUND, "%s is not an OCI image layout archive (no oci-layout member)", st->path);
  if (!*index)
    return error_set(err, VMPULL_E_NOT_FOUND, "%s: no index.json member", st->path);
  return 0;
}

int oci_archive_store_open(const char *source, const struct oci_selection *want, struct oci_store **out,
                           lib_error *err) {
  struct archive_store *st = calloc(1, sizeof(*st));
  if (!st)
    return error_oom(err);
  st->fd = -1;
  st->base.free = tar_store_free;
  st->base.open_blob = archive_open_blob;
  st->base.read_file = archive_read_file;
  st->base.pinned_reference = oci_layout_pinned_reference;
  _cleanup_oci_store_ struct oci_store *store = &st->base;
  int r = archive_ref_parse(source, &st->path, &st->ref_name, err);
  if (r < 0)
    return r;
  store->display = redact_source(source);
  if (!store->display)
    return error_oom(err);

  /* O_NONBLOCK: a FIFO given as the archive is refused below rather than waited on here. */
  st->fd = plat_openat(AT_FDCWD, st->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
  if (st->fd < 0)
    return error_set_errno(err, errno == ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, errno, "open archive %s", st->path);
  struct stat sb;
  if (fstat(st->fd, &sb) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "%s", st->path);
  if (!S_ISREG(sb.st_mode))
    return error_set(err, VMPULL_E_USAGE, "%s is not a file (oci-archive:// takes a tar file)", st->path);
  if (plat_set_blocking(st->fd) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "%s", st->path);
  st->file_size = (uint64_t)sb.st_size;

  _cleanup_free_ char *layout = NULL;
  size_t layout_len = 0, root_len = 0;
  r = read_layout_files(st, &layout, &layout_len, &store->root, &root_len, err);
  if (r < 0)
    return r;
  r = oci_layout_file_check(layout, layout_len, st->path, err);
  if (r < 0)
    return r;
  r = oci_layout_walk_init(store, want, root_len, archive_fetch, st, st->ref_name, err);
  if (r < 0)
    return r;
  *out = TAKE_PTR(store);
  return 0;
}
