/* SPDX-License-Identifier: Apache-2.0 */
/* The signatures a save keeps with what it saves (save_signatures.h). */
#include "api/save_signatures.h"

#include "base/util.h"
#include "oci/oci_digest.h"
#include "oci/oci_layout_write.h"
#include "oci/oci_store.h"
#include "oci/policy_eval.h"
#include "oci/sigstore_attach.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void save_signatures_clear(struct save_signatures *s) {
  for (size_t i = 0; s->lookaside && i < s->n; i++)
    lookaside_sigs_clear(&s->lookaside[i]);
  free(s->lookaside);
  strv_free(s->manifests);
  for (size_t i = 0; i < s->n_attachments; i++)
    sigstore_attachments_clear(&s->attachments[i]);
  free(s->attachments);
  *s = (struct save_signatures){0};
}

int save_signatures_judge(struct save_signatures *s, const struct oci_settings *set, struct oci_store *store,
                          const char *const *manifests, size_t n, lib_error *err) {
  for (size_t i = 0; i < n; i++) {
    _cleanup_(signature_verdict_clear) struct signature_verdict v = {0};
    int r = oci_policy_check(set, store, manifests[i], &v, err);
    if (r < 0)
      return r;
  }
  if (!(s->manifests = calloc(n + 1, sizeof(*s->manifests))) || !(s->lookaside = calloc(n, sizeof(*s->lookaside))))
    return error_oom(err);
  for (; s->n < n; s->n++) {
    if (!(s->manifests[s->n] = strdup(manifests[s->n])))
      return error_oom(err);
    int r = oci_lookaside_signatures(set, store, manifests[s->n], &s->lookaside[s->n], err);
    if (r < 0)
      return r;
  }
  return 0;
}

/* 1 when digest is one of the first n manifests already. */
static int seen_before(const struct save_signatures *s, size_t n, const char *digest) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(s->manifests[i], digest))
      return 1;
  return 0;
}

int save_signatures_read_attachments(struct save_signatures *s, struct oci_store *store, const char *top_digest,
                                     uint64_t *bytes, lib_error *err) {
  *bytes = 0;
  s->attachments = calloc(s->n + 1, sizeof(*s->attachments));
  if (!s->attachments)
    return error_oom(err);
  for (size_t i = 0; i <= s->n; i++) {
    const char *digest = i < s->n ? s->manifests[i] : top_digest;
    if (!digest || !oci_digest_valid(digest) || seen_before(s, i, digest))
      continue;
    struct sigstore_attachments *a = &s->attachments[s->n_attachments];
    int r = sigstore_attachments_fetch(store, digest, a, err);
    if (r < 0)
      return r;
    s->n_attachments++;
    struct oci_descriptor *blobs = NULL;
    size_t n = 0;
    uint64_t size = 0;
    r = sigstore_attachment_blobs(a, &blobs, &n, &size, err);
    sigstore_descriptors_free(blobs, n);
    if (r < 0)
      return error_wrap(err, "%s", store->display);
    *bytes += size;
  }
  return 0;
}

int save_signatures_write(const struct save_signatures *s, struct oci_store *store, struct layout_writer *w,
                          unsigned *blobs, unsigned *reused, uint64_t *bytes, lib_error *err) {
  for (size_t i = 0; i < s->n_attachments; i++) {
    int r = sigstore_attachment_copy(store, &s->attachments[i], w, blobs, reused, bytes, err);
    if (r < 0)
      return r;
  }
  for (size_t i = 0; i < s->n; i++) {
    _cleanup_free_ char *folder = layout_signature_folder(s->manifests[i]);
    if (!folder)
      return error_oom(err);
    for (size_t k = 0; k < s->lookaside[i].n; k++) {
      char name[32];
      snprintf(name, sizeof(name), "signature-%zu", k + 1);
      int r = layout_writer_put_file(w, folder, name, s->lookaside[i].v[k], s->lookaside[i].lens[k], err);
      if (r < 0)
        return r;
    }
  }
  return 0;
}
