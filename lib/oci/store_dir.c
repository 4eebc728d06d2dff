/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci-dir://PATH[:REF]: an OCI image layout on disk. Every file is opened
 * relative to the layout folder without following a link anywhere below it
 * (fs_beneath.h), blobs only as blobs/<alg>/<hex>, so a symlink planted in the
 * layout cannot make vmpull read a file outside it; and only regular files are
 * read (a FIFO there would block the open and every read).
 */
#include "base/error.h"
#include "base/fs_beneath.h"
#include "base/json_util.h"
#include "base/platform.h"
#include "base/redact.h"
#include "base/util.h"
#include "oci/oci_digest.h"
#include "oci/oci_ref.h"
#include "oci/oci_store.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <sys/stat.h>

struct dir_store {
  struct oci_store base;
  int dirfd;
  char *path;
  char *ref_name; /* REF of oci-dir://PATH:REF, or NULL */
};

/* Open a layout file that is read: a regular file, reached without following a link (fs_beneath.h);
 * O_NONBLOCK while opening, so a FIFO put there cannot hang the open. */
static int open_layout_file(struct dir_store *s, const char *name, int *fd_out, struct stat *st, lib_error *err) {
  int fd = beneath_open_file(s->dirfd, name, st);
  if (fd < 0)
    return beneath_error(err, fd == -ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, fd, s->dirfd, s->path, name, "open");
  *fd_out = fd;
  return 0;
}

/* Read a small layout file (at most max bytes) into a NUL-terminated buffer; a missing one is VMPULL_E_NOT_FOUND. */
static int read_small_at(struct dir_store *s, const char *name, size_t max, char **out, size_t *len, lib_error *err) {
  int r = beneath_read_small(s->dirfd, s->path, name, max, out, len, err);
  if (r == 0)
    return beneath_error(err, VMPULL_E_NOT_FOUND, -ENOENT, s->dirfd, s->path, name, "open");
  return r < 0 ? r : 0;
}

/* blobs/<alg>/<hex>, no step of it a link. */
static int open_blob_fd(struct dir_store *s, const char *digest, int *fd_out, struct stat *st, lib_error *err) {
  /* The parser let only sha256:/sha512: digests through. */
  const char *colon = strchr(digest, ':');
  if (!colon || colon - digest != 6)
    return error_set(err, VMPULL_E_MANIFEST, "digest '%.100s' is not usable", digest);
  _cleanup_free_ char *name = xasprintf("blobs/%.6s/%s", digest, colon + 1);
  if (!name)
    return error_oom(err);
  return open_layout_file(s, name, fd_out, st, err);
}

static int dir_fetch(void *userdata, const struct oci_descriptor *d, char **buf, size_t *len, lib_error *err) {
  struct dir_store *s = userdata;
  _cleanup_close_ int fd = -1;
  struct stat st;
  int r = open_blob_fd(s, d->digest, &fd, &st, err);
  if (r < 0)
    return r;
  const char *kind = oci_media_is_index(d->media_type) ? "index" : "manifest";
  if ((uint64_t)st.st_size != d->size)
    return error_set(err, VMPULL_E_DIGEST, "%s %s: blob is %llu bytes, but the descriptor says %llu", kind, d->digest,
                     (unsigned long long)st.st_size, (unsigned long long)d->size);
  r = oci_layout_doc_size_check(d, kind, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *data = malloc(d->size + 1);
  if (!data)
    return error_oom(err);
  size_t used = 0;
  while (used < d->size) {
    ssize_t n = read(fd, data + used, d->size - used);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return error_set_errno(err, VMPULL_E_IO, errno, "%s %s: read", kind, d->digest);
    if (n == 0)
      break;
    used += (size_t)n;
  }
  data[used] = '\0';
  return oci_layout_doc_take(d, kind, &data, used, buf, len, err);
}

static int dir_open_blob(struct oci_store *base, const struct oci_descriptor *d, struct byte_source **out,
                         lib_error *err) {
  struct dir_store *s = (struct dir_store *)base;
  _cleanup_close_ int fd = -1;
  struct stat st;
  int r = open_blob_fd(s, d->digest, &fd, &st, err);
  if (r < 0)
    return r;
  if ((uint64_t)st.st_size != d->size)
    return error_set(err, VMPULL_E_DIGEST, "blob %s: %llu bytes, but the descriptor says %llu", d->digest,
                     (unsigned long long)st.st_size, (unsigned long long)d->size);
  _cleanup_free_ char *name = xasprintf("blob %s", d->digest);
  if (!name)
    return error_oom(err);
  return source_file_from_fd(TAKE_FD(fd), name, (uint64_t)st.st_size, out, err);
}

static int dir_read_file(struct oci_store *base, const char *name, size_t max, char **buf, size_t *len,
                         lib_error *err) {
  struct dir_store *s = (struct dir_store *)base;
  return beneath_read_small(s->dirfd, s->path, name, max, buf, len, err);
}

static void dir_free(struct oci_store *base) {
  struct dir_store *s = (struct dir_store *)base;
  closep(&s->dirfd);
  free(s->path);
  free(s->ref_name);
  free(s);
}

int oci_layout_file_check(const char *buf, size_t len, const char *path, lib_error *err) {
  json_object *root = NULL;
  const char *why;
  if (json_parse_strict(buf, len, NULL, &root, &why) == JSON_PARSE_NO_MEMORY)
    return error_oom(err);
  json_object *v = NULL;
  int ok = root && json_object_is_type(root, json_type_object) &&
           json_object_object_get_ex(root, "imageLayoutVersion", &v) && json_object_is_type(v, json_type_string);
  int r = 0;
  if (!ok)
    r = error_set(err, VMPULL_E_MANIFEST, "%s: oci-layout has no imageLayoutVersion", path);
  else if (strcmp(json_object_get_string(v), "1.0.0") != 0)
    r = error_set(err, VMPULL_E_UNSUPPORTED, "%s: image layout version %.40s is not supported (only 1.0.0)", path,
                  json_object_get_string(v));
  if (root)
    json_object_put(root);
  return r;
}

int oci_dir_store_open(const char *source, const struct oci_selection *want, struct oci_store **out, lib_error *err) {
  _cleanup_(oci_dir_ref_clear) struct oci_dir_ref ref = {0};
  int r = oci_dir_ref_parse(source, &ref, err);
  if (r < 0)
    return r;
  struct dir_store *s = calloc(1, sizeof(*s));
  if (!s)
    return error_oom(err);
  s->dirfd = -1;
  s->base.free = dir_free;
  s->base.open_blob = dir_open_blob;
  s->base.read_file = dir_read_file;
  s->base.pinned_reference = oci_layout_pinned_reference;
  _cleanup_oci_store_ struct oci_store *store = &s->base;
  s->path = TAKE_PTR(ref.path);
  store->display = redact_source(source);
  if (!store->display)
    return error_oom(err);

  s->dirfd = plat_openat(AT_FDCWD, s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (s->dirfd < 0) {
    if (errno == ENOTDIR)
      return error_set(err, VMPULL_E_USAGE, "%s is not a folder (oci-dir:// takes an OCI image layout folder)",
                       s->path);
    return error_set_errno(err, errno == ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, errno, "open layout %s", s->path);
  }
  _cleanup_free_ char *layout = NULL;
  size_t layout_len = 0;
  r = read_small_at(s, "oci-layout", 4096, &layout, &layout_len, err);
  if (r < 0) {
    if (err && err->code == VMPULL_E_NOT_FOUND)
      return error_set(err, VMPULL_E_NOT_FOUND, "%s is not an OCI image layout (no oci-layout file)", s->path);
    return r;
  }
  r = oci_layout_file_check(layout, layout_len, s->path, err);
  if (r < 0)
    return r;
  size_t root_len = 0;
  r = read_small_at(s, "index.json", OCI_DOC_MAX, &store->root, &root_len, err);
  if (r < 0)
    return r;

  s->ref_name = TAKE_PTR(ref.ref);
  r = oci_layout_walk_init(store, want, root_len, dir_fetch, s, s->ref_name, err);
  if (r < 0)
    return r;
  *out = TAKE_PTR(store);
  return 0;
}
