/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The signatures vmpull_save() keeps with the manifests it saves (issue 16), so that an air-gapped
 * pull from the layout can still be verified: the policy judges each manifest first (as skopeo copy
 * does), then its lookaside signatures and its sigstore attachments are read, all before the layout
 * is touched; the lookaside ones go into the layout's signatures/<alg>-<hex>/signature-N
 * (policy_eval.h), the attachments in as their own manifests (sigstore_attach.h).
 */
#ifndef VMPULL_SAVE_SIGNATURES_H
#define VMPULL_SAVE_SIGNATURES_H

#include "oci/oci_settings.h"

#include <stdint.h>

struct layout_writer;
struct lookaside_sigs;
struct oci_store;
struct sigstore_attachments;

struct save_signatures {
  char **manifests; /* the saved manifests' digests */
  size_t n;
  struct lookaside_sigs *lookaside; /* each manifest's, n of them */
  struct sigstore_attachments *attachments;
  size_t n_attachments;
};
void save_signatures_clear(struct save_signatures *s);

/* The policy's verdict on each of the n manifests (from store, for set->source), then their lookaside
 * signatures. */
int save_signatures_judge(struct save_signatures *s, const struct oci_settings *set, struct oci_store *store,
                          const char *const *manifests, size_t n, lib_error *err);
/* The sigstore attachments of the judged manifests and of top_digest (may be NULL: the document an
 * --all entry points at); *bytes: what copying them will add. */
int save_signatures_read_attachments(struct save_signatures *s, struct oci_store *store, const char *top_digest,
                                     uint64_t *bytes, lib_error *err);
/* Everything read into w; *blobs, *reused and *bytes count as sigstore_attachment_copy does. */
int save_signatures_write(const struct save_signatures *s, struct oci_store *store, struct layout_writer *w,
                          unsigned *blobs, unsigned *reused, uint64_t *bytes, lib_error *err);

#endif
