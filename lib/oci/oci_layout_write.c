/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layout folders: every file goes through the sink (sink.h), which writes an
 * unnamed temporary and links it under its name only once complete, so a
 * blob is either there whole or not at all and kill -9 leaves nothing. A new
 * layout is made valid (oci-layout and an empty index.json) before the first
 * blob goes in. index.json is read, changed and renamed into place under an
 * flock on the folder, so saves running at once both land.
 *
 * Archives: the tar is the sink's temporary, streamed member by member
 * (oci-layout, the blobs, index.json last) and put in place at the end; a
 * failed save leaves no file. A member's size goes in its header, so bytes
 * whose size or digest is not known before they arrive (a plain download) are
 * spooled to an unnamed file first.
 */
#include "oci/oci_layout_write.h"

#include "base/error.h"
#include "base/fs_beneath.h"
#include "base/json_util.h"
#include "base/progress.h"
#include "base/util.h"
#include "oci/layout_index.h"
#include "oci/oci_manifest.h"
#include "oci/oci_store.h"
#include "pipeline/memory_source.h"
#include "pipeline/record_source.h"
#include "pipeline/sink.h"
#include "pipeline/tee.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/file.h>
#include <sys/stat.h>

#define COPY_BUF (256u << 10)
#define LAYOUT_FILE_MAX 4096u
#define OCI_LAYOUT_CONTENT "{\"imageLayoutVersion\":\"1.0.0\"}"

struct layout_writer {
  struct layout_writer_options o;
  char *path;
  int dirfd;   /* folder */
  int created; /* the folder is this writer's: removed again unless committed */
  int committed;
  /* archive */
  struct sink sink;
  struct archive *a;
  int failed;        /* a member broke off: the archive cannot be finished */
  unsigned alg_dirs; /* blobs/sha256/ (1) and blobs/sha512/ (2) members written */
  char **members;    /* blob digests written (archive members, or files of a new folder) */
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

/* Write a small file of the folder atomically (sink: unnamed temporary, fsync, rename). */
static int write_small_file(struct layout_writer *w, const char *name, const char *buf, size_t len, int replace,
                            lib_error *err) {
  _cleanup_free_ char *path = xasprintf("%s/%s", w->path, name);
  if (!path)
    return error_oom(err);
  struct sink_options so = {
      .replace = replace, .mode = 0644, .max_size = UINT64_MAX, .in_folder = 1, .folder_fd = w->dirfd};
  _cleanup_(sink_close) struct sink sink = SINK_INIT;
  int r = sink_open(&sink, path, &so, err);
  if (r < 0)
    return r;
  r = sink_write(&sink, (const uint8_t *)buf, len, err);
  if (r < 0)
    return r;
  return sink_commit(&sink, NULL, err);
}

/* Read a small file of the folder: 1 read, 0 missing. */
static int read_small_file(struct layout_writer *w, const char *name, size_t max, char **out, size_t *len,
                           lib_error *err) {
  struct stat st;
  _cleanup_close_ int fd = beneath_open_file(w->dirfd, name, &st);
  if (fd == -ENOENT)
    return 0;
  if (fd < 0)
    return beneath_error(err, VMPULL_E_IO, fd, w->dirfd, w->path, name, "open");
  if ((uint64_t)st.st_size > max)
    return error_set(err, VMPULL_E_LIMIT, "%s: %s is more than %zu bytes", w->path, name, max);
  _cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
  if (!buf)
    return error_oom(err);
  size_t used = 0;
  while (used < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + used, (size_t)st.st_size - used);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return error_set_errno(err, VMPULL_E_IO, errno, "%s: read %s", w->path, name);
    if (n == 0)
      break;
    used += (size_t)n;
  }
  buf[used] = '\0';
  *len = used;
  *out = TAKE_PTR(buf);
  return 1;
}

/* The folder's index.json: 1 read, 0 missing. */
static int read_index(struct layout_writer *w, char **out, size_t *len, lib_error *err) {
  return read_small_file(w, "index.json", OCI_DOC_MAX, out, len, err);
}

static int write_layout_file(struct layout_writer *w, lib_error *err) {
  return write_small_file(w, "oci-layout", OCI_LAYOUT_CONTENT, strlen(OCI_LAYOUT_CONTENT), 1, err);
}

static int archive_incomplete(struct layout_writer *w, lib_error *err) {
  return error_set(err, VMPULL_E_IO, "%s: the archive is incomplete after an earlier error", w->path);
}

/* flock on the folder: held while index.json is read, changed and replaced. */
static int lock_layout(struct layout_writer *w, int *fd, lib_error *err) {
  *fd = openat(w->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (*fd < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "%s", w->path);
  while (flock(*fd, LOCK_EX) < 0) {
    if (errno != EINTR)
      return error_set_errno(err, VMPULL_E_IO, errno, "lock %s", w->path);
  }
  return 0;
}

/* --- opening --- */

static int open_folder(struct layout_writer *w, lib_error *err) {
  /* new folders 0755: a layout is meant to be carried and shared */
  int r = mkdir_parents_or_fail(w->path, 0755, &w->created, err);
  if (r < 0)
    return r;
  w->dirfd = open(w->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (w->dirfd < 0)
    return error_set_errno(err, errno == ENOTDIR ? VMPULL_E_EXISTS : VMPULL_E_IO, errno, "open layout %s", w->path);
  _cleanup_close_ int lock = -1;
  r = lock_layout(w, &lock, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *layout = NULL;
  size_t layout_len = 0;
  r = read_small_file(w, "oci-layout", LAYOUT_FILE_MAX, &layout, &layout_len, err);
  if (r < 0)
    return r;
  if (r > 0) {
    r = oci_layout_file_check(layout, layout_len, w->path, err);
    if (r < 0)
      return r;
  } else {
    /* Not a layout yet: only an empty folder becomes one (never litter someone's files). */
    _cleanup_close_ int dfd = openat(w->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d)
      return error_set_errno(err, VMPULL_E_IO, errno, "read folder %s", w->path);
    dfd = -1;
    struct dirent *de;
    int empty = 1;
    while (empty && (de = readdir(d)))
      empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    closedir(d);
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
    return write_small_file(w, "index.json", layout_index_empty(), strlen(layout_index_empty()), 1, err);
  _cleanup_json_ json_object *parsed = NULL;
  return layout_index_parse(index, index_len, w->path, &parsed, err);
}

static la_ssize_t archive_sink_write(struct archive *a, void *userdata, const void *buf, size_t len) {
  struct layout_writer *w = userdata;
  lib_error e;
  if (sink_write(&w->sink, buf, len, &e) < 0) {
    archive_set_error(a, EIO, "%s", e.message);
    return -1;
  }
  return (la_ssize_t)len;
}

static int archive_failed(struct layout_writer *w, const char *what, lib_error *err) {
  w->failed = 1;
  return error_set(err, VMPULL_E_IO, "%s: %s: %s", w->path, what, archive_error_string(w->a));
}

static int add_member_header(struct layout_writer *w, const char *name, int dir, uint64_t size, lib_error *err) {
  struct archive_entry *e = archive_entry_new();
  if (!e)
    return error_oom(err);
  archive_entry_set_pathname(e, name);
  archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
  archive_entry_set_perm(e, dir ? 0755 : 0644);
  archive_entry_set_size(e, dir ? 0 : (la_int64_t)size);
  archive_entry_set_mtime(e, 0, 0); /* the same content makes the same archive */
  int r = archive_write_header(w->a, e);
  archive_entry_free(e);
  if (r != ARCHIVE_OK)
    return archive_failed(w, name, err);
  return 0;
}

static int add_member(struct layout_writer *w, const char *name, const char *buf, size_t len, lib_error *err) {
  int r = add_member_header(w, name, 0, len, err);
  if (r < 0)
    return r;
  if (len && archive_write_data(w->a, buf, len) != (la_ssize_t)len)
    return archive_failed(w, name, err);
  return 0;
}

static int open_archive(struct layout_writer *w, lib_error *err) {
  struct sink_options so = {.replace = w->o.replace, .mode = 0644, .max_size = UINT64_MAX};
  int r = sink_open(&w->sink, w->path, &so, err);
  if (r < 0)
    return r;
  w->a = archive_write_new();
  if (!w->a)
    return error_oom(err);
  if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
      archive_write_open2(w->a, w, NULL, archive_sink_write, NULL, NULL) != ARCHIVE_OK)
    return archive_failed(w, "start", err);
  r = add_member(w, "oci-layout", OCI_LAYOUT_CONTENT, strlen(OCI_LAYOUT_CONTENT), err);
  if (r < 0)
    return r;
  return add_member_header(w, "blobs/", 1, 0, err);
}

int layout_writer_open(const char *path, const struct layout_writer_options *o, struct layout_writer **out,
                       lib_error *err) {
  struct layout_writer *w = calloc(1, sizeof(*w));
  if (!w)
    return error_oom(err);
  w->o = *o;
  w->dirfd = -1;
  w->sink = (struct sink)SINK_INIT;
  _cleanup_layout_writer_ struct layout_writer *guard = w;
  w->path = strdup(path);
  w->buf = malloc(COPY_BUF);
  if (!w->path || !w->buf)
    return error_oom(err);
  int r = o->archive ? open_archive(w, err) : open_folder(w, err);
  if (r < 0)
    return r;
  *out = TAKE_PTR(guard);
  return 0;
}

/* A failed save into a folder it made: take back what it wrote, then the folders (if empty), unless
 * another save committed into the folder meanwhile. */
static void remove_created(struct layout_writer *w) {
  lib_error ignored;
  _cleanup_close_ int lock = -1;
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
  unlinkat(w->dirfd, "index.json", 0);
  unlinkat(w->dirfd, "oci-layout", 0);
  beneath_unlink(w->dirfd, "blobs/sha256", AT_REMOVEDIR);
  beneath_unlink(w->dirfd, "blobs/sha512", AT_REMOVEDIR);
  unlinkat(w->dirfd, "blobs", AT_REMOVEDIR);
  rmdir(w->path);
}

void layout_writer_free(struct layout_writer *w) {
  if (!w)
    return;
  if (w->created && !w->committed && w->dirfd >= 0)
    remove_created(w);
  if (w->a)
    archive_write_free(w->a); /* after a failure: the sink's temporary goes below */
  sink_close(&w->sink);
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
  if (sink)
    return sink_write(sink, buf, len, err);
  if (archive_write_data(w->a, buf, len) != (la_ssize_t)len)
    return archive_failed(w, "blob", err);
  return 0;
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
    unsigned bit = sha256 ? 1u : 2u;
    if (!(w->alg_dirs & bit)) {
      char dir[16];
      snprintf(dir, sizeof(dir), "blobs/%.6s/", digest);
      r = add_member_header(w, dir, 1, 0, err);
      if (r < 0)
        return r;
      w->alg_dirs |= bit;
    }
    r = add_member_header(w, name, 0, size, err);
    if (r < 0)
      return r;
    w->failed = 1; /* until the member is complete */
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
  w->failed = 0;
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
  if (w->failed) {
    source_free(src);
    return archive_incomplete(w, err);
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
  *fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
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
  _cleanup_free_ char *path = rel ? xasprintf("%s/%s", w->path, rel) : NULL;
  if (!path)
    return error_oom(err);
  if (w->o.archive)
    return add_member(w, rel, buf, len, err);
  _cleanup_close_ int fd = beneath_mkdirs(w->dirfd, folder, 0755, NULL);
  if (fd < 0)
    return beneath_error(err, VMPULL_E_IO, fd, w->dirfd, w->path, folder, "mkdir");
  struct sink_options so = {.replace = 1, .mode = 0644, .max_size = UINT64_MAX, .in_folder = 1, .folder_fd = fd};
  _cleanup_(sink_close) struct sink sink = SINK_INIT;
  int r = sink_open(&sink, path, &so, err);
  if (r == 0)
    r = sink_write(&sink, (const uint8_t *)buf, len, err);
  return r < 0 ? r : sink_commit(&sink, NULL, err);
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
    if (w->failed)
      return archive_incomplete(w, err);
    int r = index_with_entries(w, NULL, 0, entry, ref_name, &text, err);
    if (r < 0)
      return r;
    r = add_member(w, "index.json", text, strlen(text), err);
    if (r < 0)
      return r;
    if (archive_write_close(w->a) != ARCHIVE_OK)
      return archive_failed(w, "finish", err);
    r = sink_commit(&w->sink, NULL, err);
    w->committed = r == 0;
    return r;
  }
  _cleanup_close_ int lock = -1;
  int r = lock_layout(w, &lock, err);
  if (r < 0)
    return r;
  /* (A save that created the folder and failed at the same time took its oci-layout back.) */
  if (faccessat(w->dirfd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
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
  r = write_small_file(w, "index.json", text, strlen(text), 1, err);
  w->committed = r == 0;
  return r;
}
