/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An OCI image layout written as one tar (vmpull save to oci-archive://): the tar is a sink's
 * unnamed temporary (sink.h), streamed member by member (oci-layout, the blobs, index.json last)
 * and put in place only when finished, so a failed save leaves no file. A member's size goes in
 * its header; once a member breaks off halfway the archive cannot be finished.
 */
#ifndef VMPULL_OCI_LAYOUT_ARCHIVE_H
#define VMPULL_OCI_LAYOUT_ARCHIVE_H

#include "base/error.h"
#include "pipeline/sink.h"

#include <stdint.h>

/* The content of every layout's oci-layout file. */
#define OCI_LAYOUT_CONTENT "{\"imageLayoutVersion\":\"1.0.0\"}"

struct archive;

struct layout_archive {
  const char *path; /* the archive (borrowed), for messages */
  struct sink sink;
  struct archive *a;
  int failed;        /* a member broke off: the archive cannot be finished */
  unsigned alg_dirs; /* blobs/sha256/ (1) and blobs/sha512/ (2) members written */
};

/* A new archive at path (an existing file only with replace), its oci-layout and blobs/ written. */
int layout_archive_open(struct layout_archive *la, const char *path, int replace, lib_error *err);
/* Without a finish, the temporary goes and nothing appears at path. */
void layout_archive_close(struct layout_archive *la);

/* One whole member (a small file of the layout: signatures/..., say). */
int layout_archive_add(struct layout_archive *la, const char *name, const char *buf, size_t len, lib_error *err);
/* A blob's member blobs/<alg>/<hex> of size bytes (after its folder's, the first time): its data
 * follows by layout_archive_write; the archive counts as broken off until layout_archive_end_blob. */
int layout_archive_begin_blob(struct layout_archive *la, const char *digest, uint64_t size, lib_error *err);
int layout_archive_write(struct layout_archive *la, const uint8_t *buf, size_t len, lib_error *err);
void layout_archive_end_blob(struct layout_archive *la);

/* The error for a call after a member broke off. */
int layout_archive_incomplete(struct layout_archive *la, lib_error *err);
/* index.json (len bytes of index) as the last member, then the archive is put in place at path. */
int layout_archive_finish(struct layout_archive *la, const char *index, size_t len, lib_error *err);

#endif
