/* SPDX-License-Identifier: Apache-2.0 */
/* An OCI image layout written as one tar (layout_archive.h), with libarchive into a sink. */
#include "oci/layout_archive.h"

#include "base/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static la_ssize_t archive_sink_write(struct archive *a, void *userdata, const void *buf, size_t len) {
  struct layout_archive *la = userdata;
  lib_error e;
  if (sink_write(&la->sink, buf, len, &e) < 0) {
    archive_set_error(a, EIO, "%s", e.message);
    return -1;
  }
  return (la_ssize_t)len;
}

static int archive_failed(struct layout_archive *la, const char *what, lib_error *err) {
  la->failed = 1;
  return error_set(err, VMPULL_E_IO, "%s: %s: %s", la->path, what, archive_error_string(la->a));
}

int layout_archive_incomplete(struct layout_archive *la, lib_error *err) {
  return error_set(err, VMPULL_E_IO, "%s: the archive is incomplete after an earlier error", la->path);
}

static int add_header(struct layout_archive *la, const char *name, int dir, uint64_t size, lib_error *err) {
  struct archive_entry *e = archive_entry_new();
  if (!e)
    return error_oom(err);
  archive_entry_set_pathname(e, name);
  archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
  archive_entry_set_perm(e, dir ? 0755 : 0644);
  archive_entry_set_size(e, dir ? 0 : (la_int64_t)size);
  archive_entry_set_mtime(e, 0, 0); /* the same content makes the same archive */
  int r = archive_write_header(la->a, e);
  archive_entry_free(e);
  if (r != ARCHIVE_OK)
    return archive_failed(la, name, err);
  return 0;
}

int layout_archive_add(struct layout_archive *la, const char *name, const char *buf, size_t len, lib_error *err) {
  int r = add_header(la, name, 0, len, err);
  if (r < 0)
    return r;
  if (len && archive_write_data(la->a, buf, len) != (la_ssize_t)len)
    return archive_failed(la, name, err);
  return 0;
}

int layout_archive_open(struct layout_archive *la, const char *path, int replace, lib_error *err) {
  *la = (struct layout_archive){.path = path, .sink = SINK_INIT};
  struct sink_options so = {.replace = replace, .mode = 0644, .max_size = UINT64_MAX};
  int r = sink_open(&la->sink, path, &so, err);
  if (r < 0)
    return r;
  la->a = archive_write_new();
  if (!la->a)
    return error_oom(err);
  if (archive_write_set_format_pax_restricted(la->a) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(la->a, 1) != ARCHIVE_OK ||
      archive_write_open2(la->a, la, NULL, archive_sink_write, NULL, NULL) != ARCHIVE_OK)
    return archive_failed(la, "start", err);
  r = layout_archive_add(la, "oci-layout", OCI_LAYOUT_CONTENT, strlen(OCI_LAYOUT_CONTENT), err);
  if (r < 0)
    return r;
  return add_header(la, "blobs/", 1, 0, err);
}

void layout_archive_close(struct layout_archive *la) {
  if (la->a)
    archive_write_free(la->a); /* after a failure: the sink's temporary goes below */
  la->a = NULL;
  sink_close(&la->sink);
}

int layout_archive_begin_blob(struct layout_archive *la, const char *digest, uint64_t size, lib_error *err) {
  unsigned bit = starts_with(digest, "sha256:") ? 1u : 2u;
  if (!(la->alg_dirs & bit)) {
    char dir[16];
    snprintf(dir, sizeof(dir), "blobs/%.6s/", digest);
    int r = add_header(la, dir, 1, 0, err);
    if (r < 0)
      return r;
    la->alg_dirs |= bit;
  }
  _cleanup_free_ char *name = xasprintf("blobs/%.6s/%s", digest, digest + 7);
  if (!name)
    return error_oom(err);
  int r = add_header(la, name, 0, size, err);
  if (r < 0)
    return r;
  la->failed = 1; /* until the member is complete */
  return 0;
}

int layout_archive_write(struct layout_archive *la, const uint8_t *buf, size_t len, lib_error *err) {
  if (archive_write_data(la->a, buf, len) != (la_ssize_t)len)
    return archive_failed(la, "blob", err);
  return 0;
}

void layout_archive_end_blob(struct layout_archive *la) {
  la->failed = 0;
}

int layout_archive_finish(struct layout_archive *la, const char *index, size_t len, lib_error *err) {
  if (la->failed)
    return layout_archive_incomplete(la, err);
  int r = layout_archive_add(la, "index.json", index, len, err);
  if (r < 0)
    return r;
  if (archive_write_close(la->a) != ARCHIVE_OK)
    return archive_failed(la, "finish", err);
  return sink_commit(&la->sink, NULL, err);
}
