/* SPDX-License-Identifier: Apache-2.0 */
/* Sigstore attachments as containers/image reads them (docker_client.go getSigstoreAttachmentManifest):
 * the signatures of manifest sha256:<hex> are the layers of the OCI image manifest tagged
 * "sha256-<hex>.sig" in the same repository, each layer of media type SIGSTORE_MT_PAYLOAD a payload
 * whose signature is the base64 text of its SIGSTORE_ANNOTATION_SIGNATURE annotation. A registry is
 * asked at the host that served the image (a mirror when a mirror did); an OCI layout (oci-dir://,
 * oci-archive://) holds the manifest as its own index.json entry of that name, as skopeo or cosign
 * store it in a layout. Nothing here judges a signature (trust/sigstore.h checks them, the policy
 * reads the payloads). */
#ifndef VMPULL_SIGSTORE_ATTACH_H
#define VMPULL_SIGSTORE_ATTACH_H

#include "oci/oci_digest.h"
#include "oci/oci_store.h"

#define SIGSTORE_MT_PAYLOAD "application/vnd.dev.cosign.simplesigning.v1+json"
#define SIGSTORE_ANNOTATION_SIGNATURE "dev.cosignproject.cosign/signature"
/* One payload (containers/image's MaxSignatureBodySize). */
#define SIGSTORE_PAYLOAD_MAX (4u << 20)
/* Payload layers read from one attachment manifest, and their bytes together. */
#define SIGSTORE_PAYLOADS_MAX 64u
#define SIGSTORE_PAYLOADS_TOTAL_MAX (16u << 20)

/* One signature layer, as served (nothing about it is trusted yet). */
struct sigstore_payload {
  char *payload; /* its bytes (checked against the layer's digest and size), NUL-terminated */
  size_t len;
  char *signature_b64; /* the annotation's text, or NULL when the layer has none */
  char *digest;        /* the layer's digest */
};

struct sigstore_attachments {
  char *tag;             /* "sha256-<hex>.sig" */
  char *manifest;        /* the attachment manifest as served (NULL: there is none) */
  size_t manifest_len;   /* ... its length */
  char *manifest_digest; /* ... and digest */
  struct sigstore_payload *payloads;
  size_t n_payloads;
  size_t n_other; /* layers of other media types (attestations, ...): counted, not read */
};
void sigstore_attachments_clear(struct sigstore_attachments *a);

/* "sha256-<hex>.sig" for "sha256:<hex>" (sha512 likewise), or NULL (not a digest, or OOM). */
char *sigstore_attachment_tag(const char *manifest_digest);

/* The attachments of manifest_digest in s (a registry, a mirror's registry, or a layout): out->manifest
 * NULL and no payloads when there is none (a 404, no index.json entry of that name: not an error).
 * A registry costs one manifest request and one blob request per payload layer (a payload already in
 * the pull's cache by digest costs none; with --offline only the cache is asked). Errors: the
 * manifest is not an OCI image manifest (VMPULL_E_MANIFEST), a size or count limit above
 * (VMPULL_E_LIMIT), a digest that does not match (VMPULL_E_DIGEST), the request failing. */
int sigstore_attachments_fetch(struct oci_store *s, const char *manifest_digest, struct sigstore_attachments *out,
                               lib_error *err);

/* The attachment manifest's config descriptor and every layer's (also those not read), for a copy of
 * the whole attachment (vmpull save): each within SIGSTORE_PAYLOAD_MAX, together within
 * SIGSTORE_PAYLOADS_TOTAL_MAX (VMPULL_E_LIMIT); *total (may be NULL): their bytes and the manifest's. */
int sigstore_attachment_blobs(const struct sigstore_attachments *a, struct oci_descriptor **out, size_t *n,
                              uint64_t *total, lib_error *err);
void sigstore_descriptors_free(struct oci_descriptor *d, size_t n);

struct layout_writer;
/* Copy attachment a (read from s) into the layout w, as skopeo keeps one in a layout: its config and
 * layers (the payloads from memory, the rest from s), its manifest, and an index.json entry named
 * a->tag at w's commit. *blobs, *reused and *bytes count the blobs copied, those the layout had and the
 * bytes copied. Nothing when a has no manifest. */
int sigstore_attachment_copy(struct oci_store *s, const struct sigstore_attachments *a, struct layout_writer *w,
                             unsigned *blobs, unsigned *reused, uint64_t *bytes, lib_error *err);

#endif
