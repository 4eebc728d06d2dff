/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing an OCI image layout (vmpull save): into a folder, adding to what is
 * there, or as one tar file. Blobs go in first, each hashed while it is
 * copied and only under its name once complete and checked; index.json is
 * written last, in one rename. Whatever is interrupted, a reader sees the
 * layout as it was before or as it is after, never in between.
 */
#ifndef VMPULL_OCI_LAYOUT_WRITE_H
#define VMPULL_OCI_LAYOUT_WRITE_H

#include "base/util.h"
#include "oci/oci_digest.h"
#include "pipeline/source.h"

#include <json-c/json.h>

struct progress_state;
struct layout_writer;

struct layout_writer_options {
  int archive;                     /* write one tar file at path instead of a folder */
  int replace;                     /* archive: replace an existing file */
  struct progress_state *progress; /* fetched bytes and cancellation (may be NULL) */
};

/* A folder (created when missing; an existing one must be a layout or empty)
 * or, with o->archive, a new tar file (not there yet, unless o->replace).
 * Freed without a commit, the writer removes a folder it created, and an
 * archive never appears. */
int layout_writer_open(const char *path, const struct layout_writer_options *o, struct layout_writer **out,
                       lib_error *err);
void layout_writer_free(struct layout_writer *w);
static inline void layout_writer_freep(struct layout_writer **w) {
  layout_writer_free(*w);
}
#define _cleanup_layout_writer_ _cleanup_(layout_writer_freep)

/* 1 when the layout already has the blob (a file of that size under its name), else 0. */
int layout_writer_has_blob(struct layout_writer *w, const char *digest, uint64_t size);

/* Copy src (taken over, also on failure) into the layout as blob digest: it
 * must have size bytes and hash to digest, checked as it is copied. */
int layout_writer_put_blob(struct layout_writer *w, const char *digest, uint64_t size, struct byte_source *src,
                           lib_error *err);
/* The same for bytes whose digest is not known beforehand (a plain file or
 * download): they are spooled aside while hashed, must hash to want when it
 * is not NULL (checked before they go in), then copied in; the sha256 digest
 * and size come back. */
int layout_writer_put_new_blob(struct layout_writer *w, struct byte_source *src, const char *want,
                               char digest[OCI_DIGEST_MAX], uint64_t *size, lib_error *err);
/* (put_new_blob and put_document return 1 when the layout had the blob already, 0 when it was copied.) */
/* A document held in memory, named by want (checked), or when want is NULL by
 * its sha256 digest, which comes back in digest (may be NULL with want). */
int layout_writer_put_document(struct layout_writer *w, const char *buf, size_t len, const char *want,
                               char digest[OCI_DIGEST_MAX], lib_error *err);

/* A small file of the layout outside blobs/ (folder/name, e.g. a lookaside signature under
 * signatures/), replacing one of that name; in an archive, one more member. */
int layout_writer_put_file(struct layout_writer *w, const char *folder, const char *name, const char *buf, size_t len,
                           lib_error *err);

/* One more index.json entry for commit to add (before entry), under ref_name: a document put in
 * already (a sigstore attachment beside the image). */
int layout_writer_add_entry(struct layout_writer *w, json_object *entry, const char *ref_name, lib_error *err);
/* Finish: index.json gains entry (a descriptor; ref_name is set as its
 * org.opencontainers.image.ref.name, replacing an entry of that name), written
 * last by rename; an archive is then completed and put in place. */
int layout_writer_commit(struct layout_writer *w, json_object *entry, const char *ref_name, lib_error *err);

#endif
