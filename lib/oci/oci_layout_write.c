/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layout folders: every file goes through the sink (sink.h), which writes an
 * unnamed temporary and links it under its name only once complete, so a
 * blob is either there whole or not at all and kill -9 leaves nothing. A new
 * layout is made valid (oci-layout and an empty index.json) before the first
 * blob goes in. index.json is read, changed and renamed into place under an
 * flock on the folder, so saves running at once both land.
 *
 * Archives are written member by member (layout_archive.h). A member's size
 * goes in its header, so bytes whose size or digest is not known before they
 * arrive (a plain download) are spooled to an unnamed file first.
 */
#include "oci/oci_layout_write.h"

#include "base/error.h"
#include "base/fs_beneath.h"
#include "base/json_util.h"
#include "base/platform.h"
#include "base/progress.h"
#include "base/util.h"
#include "oci/layout_archive.h"
#include "oci/layout_index.h"
#include "oci/oci_manifest.h"
#include "oci/oci_store.h"
#include "pipeline/memory_source.h"
#include "pipeline/record_source.h"
#include "pipeline/sink.h"
#include "pipeline/tee.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>

#define COPY_BUF (256u << 10)
#define LAYOUT_FILE_MAX 4096u

struct layout_writer {
  struct layout_writer_options o;
  char *path;
  int dirfd;   /* folder */
  int created; /* the folder is this writer's: removed again unless committed */
  int committed;
  struct layout_archive archive; /* o.archive */
  char **members;                /* blob digests written (archive members, or files of a new folder) */
  size_t n_members;
  uint8_t *buf;
  json_object *extra; /* entries besides the one commit names: [[entry, ref name], ...] */
};

/* --- helpers --- */

/* "sha256:hex" -> "blobs/sha256/hex" (the digest was validated by the caller). */
static char *blob_path(const char *digest) {
  return xasprintf("blobs/%.6s/%s", digest, digest + 7);
}

static int check_digest(const char *digest, lib_error *err) {
  if (!oci_digest_valid(digest))
    return error_set(err, VMPULL_E_MANIFEST, "digest '%.100s' is not sha256:/sha512: with lowercase hex", digest);
  return 0;
}

/* Write a small file of the layout atomically (sink: unnamed temporary, fsync, rename), replacing one of
 * that name: name is relative to the layout, folder_fd its folder. */
static int write_small_file(struct layout_writer *w, int folder_fd, const char *name, const char *buf, size_t len,
                            lib_error *err) {
  _cleanup_free_ char *path = xasprintf("%s/%s", w->path, name);
  if (!path)
    return error_oom(err);
  struct sink_options so = {.replace = 1, .mode = 0644, .max_size = UINT64_MAX, .in_folder = 1, .folder_fd = folder_fd};
  _cleanup_(sink_close) struct sink sink = SINK_INIT;
  int r = sink_open(&sink, path, &so, err);
  if (r < 0)
    return r;
  r = sink_write(&sink, (const uint8_t *)buf, len, err);
  if (r < 0)
    return r;
  return sink_commit(&sink, NULL, err);
}

/* The folder's index.json: 1 read, 0 missing. */
static int read_index(struct layout_writer *w, char **out, size_t *len, lib_error *err) {
  return beneath_read_small(w->dirfd, w->path, "index.json", OCI_DOC_MAX, out, len, err);
}

static int write_layout_file(struct layout_writer *w, lib_error *err) {
  return write_small_file(w, w->dirfd, "oci-layout", OCI_LAYOUT_CONTENT, strlen(OCI_LAYOUT_CONTENT), err);
}

/* The folder's lock: held while index.json is read, changed and replaced. */
static int lock_layout(struct layout_writer *w, struct plat_folder_lock *lock, lib_error *err) {
  if (plat_folder_lock(w->dirfd, lock) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "lock %s", w->path);
  return 0;
}

/* --- opening --- */

static int open_folder(struct layout_writer *w, lib_error *err) {
  /* new folders 0755: a layout is meant to be carried and shared */
  int r = mkdir_parents_or_fail(w->path, 0755, &w->created, err);
  if (r < 0)
    return r;
  w->dirfd = plat_openat(AT_FDCWD, w->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (w->dirfd < 0)
    return error_set_errno(err, errno == ENOTDIR ? VMPULL_E_EXISTS : VMPULL_E_IO, errno, "open layout %s", w->path);
  _cleanup_(plat_folder_unlock) struct plat_folder_lock lock = PLAT_FOLDER_LOCK_INIT;
  r = lock_layout(w, &lock, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *layout = NULL;
  size_t layout_len = 0;
  r = beneath_read_small(w->dirfd, w->path, "oci-layout", LAYOUT_FILE_MAX, &layout, &layout_len, err);
  if (r < 0)
    return r;
  if (r > 0) {
    r = oci_layout_file_check(layout, layout_len, w->path, err);
    if (r < 0)
      return r;
  } else {
    /* Not a layout yet: only an empty folder becomes one (never litter someone's files). */
    _cleanup_close_ int dfd = plat_openat(w->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    struct plat_dir *d = dfd >= 0 ? plat_dir_open(TAKE_FD(dfd)) : NULL;
    if (!d)
      return error_set_errno(err, VMPULL_E_IO, errno, "read folder %s", w->path);
    const char *ent;
    int empty = 1;
    while (empty && (ent = plat_dir_read(d)))
      empty = !strcmp(ent, ".") || !strcmp(ent, "..");
    plat_dir_close(d);
    if (!empty)
      return error_set(err, VMPULL_E_EXISTS, "%s is a folder but not an OCI image layout (no oci-layout file)",
                       w->path);
    r = write_layout_file(w, err);
    if (r < 0)
      return r;
  }
  /* A layout always has an index, if an empty one: from here on the folder reads as a layout. An index
   * that would not take the entry is found now, before anything is copied. */
  _cleanup_free_ char *index = NULL;
  size_t index_len = 0;
  r = read_index(w, &index, &index_len, err);
  if (r < 0)
    return r;
  if (r == 0)
    return write_small_file(w, w->dirfd, "index.json", layout_index_empty(), strlen(layout_index_empty()), err);
  _cleanup_json_ json_object *parsed = NULL;
  return layout_index_parse(index, index_len, w->path, &parsed, err);
}

int layout_writer_open(const char *path, const struct layout_writer_options *o, struct layout_writer **out,
                       lib_error *err) {
  struct layout_writer *w = calloc(1, sizeof(*w));
  if (!w)
    return error_oom(err);
  w->o = *o;
  w->dirfd = -1;
  w->archive.sink = (struct sink)SINK_INIT;
  _cleanup_layout_writer_ struct layout_writer *guard = w;
  w->path = strdup(path);
  w->buf = malloc(COPY_BUF);
  if (!w->path || !w->buf)
    return error_oom(err);
  int r = o->archive ? layout_archive_open(&w->archive, w->path, o->replace, err) : open_folder(w, err);
  if (r < 0)
    return r;
  *out = TAKE_PTR(guard);
  return 0;
}

/* A failed save into a folder it made: take back what it wrote, then the folders (if empty), unless
 * another save committed into the folder meanwhile. */
static void remove_created(struct layout_writer *w) {
  lib_error ignored;
  _cleanup_(plat_folder_unlock) struct plat_folder_lock lock = PLAT_FOLDER_LOCK_INIT;
  if (lock_layout(w, &lock, &ignored) < 0)
    return;
  _cleanup_free_ char *index = NULL;
  size_t len = 0;
  if (read_index(w, &index, &len, &ignored) > 0 && strcmp(index, layout_index_empty()) != 0)
    return;
  for (size_t i = 0; i < w->n_members; i++) {
    _cleanup_free_ char *name = blob_path(w->members[i]);
    if (name)
      beneath_unlink(w->dirfd, name, 0);
  }
  plat_unlinkat(w->dirfd, "index.json", 0);
  plat_unlinkat(w->dirfd, "oci-layout", 0);
  beneath_unlink(w->dirfd, "blobs/sha256", AT_REMOVEDIR);
  beneath_unlink(w->dirfd, "blobs/sha512", AT_REMOVEDIR);
  plat_unlinkat(w->dirfd, "blobs", AT_REMOVEDIR);
  rmdir(w->path);
}

void layout_writer_free(struct layout_writer *w) {
  if (!w)
    return;
  if (w->created && !w->committed && w->dirfd >= 0)
    remove_created(w);
  layout_archive_close(&w->archive);
  closep(&w->dirfd);
  for (size_t i = 0; i < w->n_members; i++)
    free(w->members[i]);
  free(w->members);
  free(w->buf);
  free(w->path);
  if (w->extra)
    json_object_put(w->extra);
  free(w);
}

/* --- blobs --- */

int layout_writer_has_blob(struct layout_writer *w, const char *digest, uint64_t size) {
  if (!oci_digest_valid(digest))
    return 0;
  if (w->o.archive) {
    for (size_t i = 0; i < w->n_members; i++)
      if (!strcmp(w->members[i], digest))
        return 1;
    return 0;
  }
  _cleanup_free_ char *name = blob_path(digest);
  struct stat st;
  return name && beneath_stat(w->dirfd, name, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
}

/* Where a blob's bytes go: a sink (folder) or the open archive member. */
static int put_bytes(struct layout_writer *w, struct sink *sink, const uint8_t *buf, size_t len, lib_error *err) {
  return sink ? sink_write(sink, buf, len, err) : layout_archive_write(&w->archive, buf, len, err);
}

static int copy_blob(struct layout_writer *w, const char *digest, uint64_t size, struct byte_source *src,
                     struct progress_state *progress, lib_error *err) {
  _cleanup_source_ struct byte_source *in = src;
  int r = check_digest(digest, err);
  if (r < 0)
    return r;
  if (size == UINT64_MAX)
    return error_set(err, VMPULL_E_MANIFEST, "blob %s: no size", digest);
  /* sha256 is what the tee hashes; another algorithm is checked by a digest source below it. */
  int sha256 = starts_with(digest, "sha256:");
  if (!sha256) {
    r = oci_digest_source_new(TAKE_PTR(in), digest, &in, err);
    if (r < 0)
      return r;
  }
  struct tee_options to = {.expected_size = size, .progress = progress};
  r = tee_new(in, &to, &in, err);
  if (r < 0)
    return r;
  struct byte_source *tee = in;

  _cleanup_free_ char *name = blob_path(digest);
  if (!name)
    return error_oom(err);
  _cleanup_(sink_close) struct sink sink = SINK_INIT;
  struct sink *to_sink = NULL;
  if (w->o.archive) {
    r = layout_archive_begin_blob(&w->archive, digest, size, err);
    if (r < 0)
      return r;
  } else {
    char dir[16];
    snprintf(dir, sizeof(dir), "blobs/%.6s", digest);
    /* Neither folder may be a link: the blob would be written wherever it points. */
    _cleanup_close_ int dirfd = beneath_mkdirs(w->dirfd, dir, 0755, NULL);
    if (dirfd < 0)
      return beneath_error(err, VMPULL_E_IO, dirfd, w->dirfd, w->path, dir, "create");
    _cleanup_free_ char *path = xasprintf("%s/%s", w->path, name);
    if (!path)
      return error_oom(err);
    /* replace: a file under that name with the wrong size is a leftover of something else */
    struct sink_options so = {.replace = 1, .mode = 0644, .max_size = UINT64_MAX, .in_folder = 1, .folder_fd = dirfd};
    r = sink_open(&sink, path, &so, err);
    if (r < 0)
      return r;
    to_sink = &sink;
  }
  for (;;) {
    size_t got = 0;
    r = source_read(in, w->buf, COPY_BUF, &got, err);
    if (r < 0)
      return r;
    if (!got)
      break;
    r = put_bytes(w, to_sink, w->buf, got, err);
    if (r < 0)
      return r;
  }
  if (sha256) {
    char have[80];
    r = tee_digest(tee, have, err);
    if (r < 0)
      return r;
    if (strcmp(have, digest) != 0)
      return error_set(err, VMPULL_E_DIGEST, "blob %s: digest mismatch: expected %s, got %s", digest, digest, have);
  }
  if (to_sink) {
    r = sink_commit(to_sink, NULL, err);
    if (r < 0)
      return r;
    if (!w->created)
      return 0;
  }
  layout_archive_end_blob(&w->archive);
  char **grown = realloc(w->members, (w->n_members + 1) * sizeof(*grown));
  if (!grown)
    return error_oom(err);
  w->members = grown;
  if (!(w->members[w->n_members] = strdup(digest)))
    return error_oom(err);
  w->n_members++;
  return 0;
}

/* copy_blob, unless an archive already broke off (takes src either way). */
static int put_blob(struct layout_writer *w, const char *digest, uint64_t size, struct byte_source *src,
                    struct progress_state *progress, lib_error *err) {
  if (w->archive.failed) {
    source_free(src);
    return layout_archive_incomplete(&w->archive, err);
  }
  return copy_blob(w, digest, size, src, progress, err);
}

int layout_writer_put_blob(struct layout_writer *w, const char *digest, uint64_t size, struct byte_source *src,
                           lib_error *err) {
  return put_blob(w, digest, size, src, w->o.progress, err);
}

int layout_writer_put_document(struct layout_writer *w, const char *buf, size_t len, const char *want,
                               char digest[OCI_DIGEST_MAX], lib_error *err) {
  char computed[OCI_DIGEST_MAX];
  if (!want) {
    int r = oci_digest_buffer("sha256:", buf, len, computed, err);
    if (r < 0)
      return r;
    want = computed;
  }
  if (digest)
    snprintf(digest, OCI_DIGEST_MAX, "%s", want);
  if (layout_writer_has_blob(w, want, len))
    return 1;
  struct byte_source *src = NULL;
  int r = memory_source_new(buf, len, want, &src, err);
  if (r < 0)
    return r;
  return layout_writer_put_blob(w, want, len, src, err);
}

/* An unnamed file next to the output for spooling (O_TMPFILE, else a name unlinked at once). */
static int open_spool(struct layout_writer *w, int *fd, lib_error *err) {
  _cleanup_free_ char *copy = strdup(w->path);
  if (!copy)
    return error_oom(err);
  const char *dir = w->o.archive ? dirname(copy) : w->path;
  *fd = plat_tmpfile_open(AT_FDCWD, dir, 0600);
  if (*fd >= 0)
    return 0;
  _cleanup_free_ char *name = xasprintf("%s/.vmpull-spool-XXXXXX", dir);
  if (!name)
    return error_oom(err);
  *fd = mkostemp(name, O_CLOEXEC);
  if (*fd < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "create a temporary file in %s", dir);
  unlink(name);
  return 0;
}

int layout_writer_put_new_blob(struct layout_writer *w, struct byte_source *src, const char *want,
                               char digest[OCI_DIGEST_MAX], uint64_t *size, lib_error *err) {
  _cleanup_source_ struct byte_source *in = src;
  _cleanup_close_ int spool = -1;
  int r = open_spool(w, &spool, err);
  if (r < 0)
    return r;
  /* The bytes are written into the spool as they pass, from the buffer the tee hashes. */
  struct record_options ro = {.fd = spool};
  r = record_source_new(TAKE_PTR(in), &ro, &in, err);
  if (r < 0)
    return r;
  struct tee_options to = {.expected_size = UINT64_MAX, .progress = w->o.progress};
  r = tee_new(in, &to, &in, err);
  if (r < 0)
    return r;
  for (;;) {
    size_t got = 0;
    r = source_read(in, w->buf, COPY_BUF, &got, err);
    if (r < 0)
      return r;
    if (!got)
      break;
  }
  r = tee_digest(in, digest, err);
  if (r < 0)
    return r;
  *size = tee_bytes(in);
  if (want && strcmp(want, digest) != 0)
    return error_set(err, VMPULL_E_DIGEST, "digest mismatch: expected %s, got %s", want, digest);
  if (layout_writer_has_blob(w, digest, *size))
    return 1;
  _cleanup_free_ char *name = xasprintf("blob %s", digest);
  if (!name)
    return error_oom(err);
  struct byte_source *again = NULL;
  r = source_file_from_fd(TAKE_FD(spool), name, *size, &again, err);
  if (r < 0)
    return r;
  /* Counted once, as it was fetched. */
  return put_blob(w, digest, *size, again, NULL, err);
}

int layout_writer_put_file(struct layout_writer *w, const char *folder, const char *name, const char *buf, size_t len,
                           lib_error *err) {
  _cleanup_free_ char *rel = xasprintf("%s/%s", folder, name);
  if (!rel)
    return error_oom(err);
  if (w->o.archive)
    return layout_archive_add(&w->archive, rel, buf, len, err);
  _cleanup_close_ int fd = beneath_mkdirs(w->dirfd, folder, 0755, NULL);
  if (fd < 0)
    return beneath_error(err, VMPULL_E_IO, fd, w->dirfd, w->path, folder, "mkdir");
  return write_small_file(w, fd, rel, buf, len, err);
}

int layout_writer_add_entry(struct layout_writer *w, json_object *entry, const char *ref_name, lib_error *err) {
  if (!w->extra && !(w->extra = json_object_new_array()))
    return error_oom(err);
  json_object *pair = json_object_new_array();
  json_object *name = json_object_new_string(ref_name);
  if (!pair || !name || json_object_array_add(pair, json_object_get(entry)) < 0 ||
      json_object_array_add(pair, name) < 0 || json_object_array_add(w->extra, pair) < 0) {
    json_object_put(pair);
    return error_oom(err);
  }
  return 0;
}

/* old (NULL: a new layout) with the extra entries, then entry, added by name. */
static int index_with_entries(struct layout_writer *w, const char *old, size_t old_len, json_object *entry,
                              const char *ref_name, char **out, lib_error *err) {
  _cleanup_free_ char *text = NULL;
  for (size_t i = 0; w->extra && i < json_object_array_length(w->extra); i++) {
    json_object *pair = json_object_array_get_idx(w->extra, i);
    char *next = NULL;
    int r =
        layout_index_add(text ? text : old, text ? strlen(text) : old_len, w->path, json_object_array_get_idx(pair, 0),
                         json_object_get_string(json_object_array_get_idx(pair, 1)), &next, err);
    if (r < 0)
      return r;
    free(text);
    text = next;
  }
  return layout_index_add(text ? text : old, text ? strlen(text) : old_len, w->path, entry, ref_name, out, err);
}

int layout_writer_commit(struct layout_writer *w, json_object *entry, const char *ref_name, lib_error *err) {
  _cleanup_free_ char *text = NULL;
  if (w->o.archive) {
    if (w->archive.failed)
      return layout_archive_incomplete(&w->archive, err);
    int r = index_with_entries(w, NULL, 0, entry, ref_name, &text, err);
    if (r == 0)
      r = layout_archive_finish(&w->archive, text, strlen(text), err);
    w->committed = r == 0;
    return r;
  }
  _cleanup_(plat_folder_unlock) struct plat_folder_lock lock = PLAT_FOLDER_LOCK_INIT;
  int r = lock_layout(w, &lock, err);
  if (r < 0)
    return r;
  /* (A save that created the folder and failed at the same time took its oci-layout back.) */
  struct stat layout_st;
  if (plat_fstatat(w->dirfd, "oci-layout", &layout_st, AT_SYMLINK_NOFOLLOW) < 0) {
    r = write_layout_file(w, err);
    if (r < 0)
      return r;
  }
  _cleanup_free_ char *old = NULL;
  size_t old_len = 0;
  r = read_index(w, &old, &old_len, err);
  if (r < 0)
    return r;
  r = index_with_entries(w, old, old_len, entry, ref_name, &text, err);
  if (r < 0)
    return r;
  r = write_small_file(w, w->dirfd, "index.json", text, strlen(text), err);
  w->committed = r == 0;
  return r;
}
