/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tar layer unwrap (the first podman machine-image format: FROM scratch +
 * COPY disk.qcow2.xz /). libarchive reads the tar as a stream, removing the
 * layer's own gzip/zstd first; the one regular file's data is handed on as a
 * byte source. The rest of the archive is read after that file's data, so a
 * second file or a link behind it still fails the pull before commit.
 */
#include "pipeline/unwrap_tar.h"

#include "base/error.h"
#include "base/naming.h"
#include "base/util.h"

#include <archive.h>
#include <archive_entry.h>

#define TAR_IN_BUF (1u << 20)

struct tar_source {
  struct byte_source base;
  struct byte_source *inner;
  struct archive *a;
  uint8_t *buf;
  char *entry;         /* path of the file inside the tar, as given (for messages) */
  lib_error inner_err; /* what the inner source said, when it failed under libarchive */
  int inner_failed;
  int done;
};

static la_ssize_t tar_read_cb(struct archive *a, void *data, const void **buf) {
  (void)a;
  struct tar_source *t = data;
  size_t got = 0;
  if (source_read(t->inner, t->buf, TAR_IN_BUF, &got, &t->inner_err) < 0) {
    t->inner_failed = 1;
    return -1;
  }
  *buf = t->buf;
  return (la_ssize_t)got;
}

/* A failure inside libarchive: the inner source's own error when it was the cause. */
static int tar_failure(struct tar_source *t, lib_error *err) {
  if (t->inner_failed) {
    if (err)
      *err = t->inner_err;
    return -t->inner_err.code;
  }
  const char *msg = archive_error_string(t->a);
  return error_set(err, VMPULL_E_CORRUPT, "tar layer: %s", msg ? msg : "archive is damaged");
}

/* The entry's path with leading "./" removed, or an error for anything that could point elsewhere. */
static int entry_path_check(const char *path, const char **clean, lib_error *err) {
  if (!path || !*path)
    return error_set(err, VMPULL_E_CORRUPT, "tar layer: entry without a name");
  if (path[0] == '/')
    return error_set(err, VMPULL_E_CORRUPT, "tar layer: entry '%s' has an absolute path", path);
  while (path[0] == '.' && path[1] == '/') {
    path += 2;
    while (*path == '/')
      path++;
  }
  for (const char *p = path; *p;) {
    size_t len = strcspn(p, "/");
    if (len == 2 && p[0] == '.' && p[1] == '.')
      return error_set(err, VMPULL_E_CORRUPT, "tar layer: entry '%s' contains '..'", path);
    p += len;
    while (*p == '/')
      p++;
  }
  *clean = path;
  return 0;
}

enum entry_kind { ENTRY_SKIP, ENTRY_FILE };

/* Classify one header: directories are skipped; links and special files are errors. */
static int entry_classify(struct archive_entry *e, enum entry_kind *kind, lib_error *err) {
  const char *path = archive_entry_pathname(e);
  const char *clean = NULL;
  int r = entry_path_check(path, &clean, err);
  if (r < 0)
    return r;
  if (archive_entry_hardlink(e))
    return error_set(err, VMPULL_E_CORRUPT, "tar layer: entry '%s' is a hard link, not a regular file", path);
  switch (archive_entry_filetype(e)) {
  case AE_IFDIR: *kind = ENTRY_SKIP; return 0;
  case AE_IFREG: *kind = ENTRY_FILE; return 0;
  case AE_IFLNK:
    return error_set(err, VMPULL_E_CORRUPT, "tar layer: entry '%s' is a symbolic link, not a regular file", path);
  default: return error_set(err, VMPULL_E_CORRUPT, "tar layer: entry '%s' is not a regular file", path);
  }
}

/* The next header that is not a directory: 1 (a regular file, *e), 0 at the end of the tar. */
static int next_file_entry(struct tar_source *t, struct archive_entry **e, lib_error *err) {
  for (;;) {
    int ret = archive_read_next_header(t->a, e);
    if (ret == ARCHIVE_EOF)
      return 0;
    if (ret < ARCHIVE_WARN)
      return tar_failure(t, err);
    enum entry_kind kind = ENTRY_SKIP; /* gcc -O2 cannot see that entry_classify sets it on success */
    int r = entry_classify(*e, &kind, err);
    if (r < 0)
      return r;
    if (kind == ENTRY_FILE)
      return 1;
  }
}

/* Past the file's data: everything left must be directories. */
static int tar_finish(struct tar_source *t, lib_error *err) {
  struct archive_entry *e;
  int r = next_file_entry(t, &e, err);
  if (r <= 0)
    return r;
  return error_set(err, VMPULL_E_CORRUPT, "tar layer must hold exactly one regular file, found '%s' and '%s'", t->entry,
                   archive_entry_pathname(e));
}

static int tar_source_read(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  struct tar_source *t = (struct tar_source *)s;
  *got = 0;
  if (t->done)
    return 0;
  la_ssize_t n = archive_read_data(t->a, buf, cap);
  if (n < 0)
    return tar_failure(t, err);
  if (n > 0) {
    *got = (size_t)n;
    return 0;
  }
  int r = tar_finish(t, err);
  if (r < 0)
    return r;
  t->done = 1;
  return 0;
}

static void tar_source_free(struct byte_source *s) {
  struct tar_source *t = (struct tar_source *)s;
  if (t->a)
    archive_read_free(t->a);
  source_free(t->inner);
  free(t->buf);
  free(t->entry);
  free(t);
}

static const struct byte_source_ops tar_source_ops = {.read = tar_source_read, .free = tar_source_free};

static inline void tar_source_freep(struct tar_source **t) {
  if (*t)
    tar_source_free(&(*t)->base);
}

int unwrap_tar_new(struct byte_source *inner, struct byte_source **out, char **entry_name, lib_error *err) {
  _cleanup_(tar_source_freep) struct tar_source *t = calloc(1, sizeof(*t));
  if (!t) {
    source_free(inner);
    return error_oom(err);
  }
  t->base.ops = &tar_source_ops;
  t->base.name = inner->name;
  t->base.size = UINT64_MAX;
  t->inner = inner;
  t->buf = malloc(TAR_IN_BUF);
  t->a = archive_read_new();
  if (!t->buf || !t->a)
    return error_oom(err);
  archive_read_support_filter_gzip(t->a);
  archive_read_support_filter_zstd(t->a);
  archive_read_support_format_tar(t->a);
  if (archive_read_open(t->a, t, NULL, tar_read_cb, NULL) != ARCHIVE_OK)
    return tar_failure(t, err);

  struct archive_entry *e;
  int r = next_file_entry(t, &e, err);
  if (r < 0)
    return r;
  if (r == 0)
    return error_set(err, VMPULL_E_CORRUPT, "tar layer must hold exactly one regular file, found none");
  const char *clean = NULL;
  (void)entry_path_check(archive_entry_pathname(e), &clean, NULL);
  r = image_name_check(path_base_name(clean), err);
  if (r < 0) {
    err->code = VMPULL_E_CORRUPT; /* the layer's fault, like its other bad entries */
    return error_wrap(err, "tar layer entry '%s'", clean);
  }
  t->entry = strdup(clean);
  _cleanup_free_ char *name = strdup(path_base_name(clean));
  if (!t->entry || !name)
    return error_oom(err);
  if (archive_entry_size_is_set(e))
    t->base.size = (uint64_t)archive_entry_size(e);
  *entry_name = TAKE_PTR(name);
  *out = &TAKE_PTR(t)->base;
  return 0;
}

int unwrap_tar_layer(struct byte_source **content, char **image_name, const char *display, lib_error *err) {
  _cleanup_free_ char *entry = NULL;
  int r = unwrap_tar_new(*content, content, &entry, err);
  if (r < 0)
    return error_wrap(err, "%s", display);
  free(*image_name);
  *image_name = TAKE_PTR(entry);
  return 0;
}
