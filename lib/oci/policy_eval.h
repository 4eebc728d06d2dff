/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy's verdict on the one manifest a pull chose, as containers/image's
 * PolicyContext.IsRunningImageAllowed gives it when it copies that instance: the scope's
 * requirements all pass, each signature naming that manifest's digest and an identity the
 * requirement accepts. Signatures are read only when the scope asks for them: lookaside
 * (registries.d) for signedBy, sigstore attachments for sigstoreSigned. When a mirror served the
 * image, the policy's scope and the identity stay the reference's, but the signatures are the
 * mirror's, as containers/image reads them through its physicalRef: the registries.d scope of the
 * mirror's repository chooses the lookaside (read under that repository's path) and whether
 * attachments are read, and the attachments come from the mirror.
 */
#ifndef VMPULL_OCI_POLICY_EVAL_H
#define VMPULL_OCI_POLICY_EVAL_H

#include "base/error.h"
#include "base/hooks.h"
#include "net/http.h"
#include "oci/oci_digest.h"
#include "oci/oci_settings.h"
#include "oci/policy_match.h"

struct oci_store;

/* Where the policy and the signatures' locations are read (the api floor fills it). */
struct policy_settings {
  const char *policy_path;  /* --signature-policy, or NULL: the usual places (policy.h) */
  const char *registries_d; /* --registries.d, or NULL: the usual places (registries_d.h) */
};

/* The image the verdict is about. */
struct policy_image {
  const char *transport;               /* "docker", "oci" or "oci-archive": the policy's transport */
  const struct docker_name *reference; /* docker: the reference as written; NULL for a layout */
  const struct docker_name *physical;  /* docker: the repository at the host that served it (a mirror's)
                                          with the reference's tag or digest; its registries.d scope
                                          gives the lookaside and use-sigstore-attachments. NULL: reference */
  const char *scope_path;              /* layouts: the resolved path the transport's scopes name */
  const char *manifest_digest;         /* the chosen manifest */
  struct oci_store *store;             /* where sigstore attachments are read (a mirror's, if it served), and a
                                          layout's lookaside copies */
  const struct http_config *http;      /* lookaside over http(s) */
  const struct call_hooks *hooks;      /* log lines */
};

/* What was verified: type "simple-signing" or "sigstore" and the key (a fingerprint or key id);
 * both NULL when the policy asked for no signature. */
struct signature_verdict {
  const char *type; /* static */
  char *key;
};
void signature_verdict_clear(struct signature_verdict *v);

/* 0 when the policy accepts img (v filled), else -VMPULL_E_SIGNATURE naming the requirement and
 * its scope (or another code for a policy that cannot be read, a lookaside that fails). No
 * policy.json anywhere: everything is accepted. */
int policy_check(const struct policy_settings *ps, const struct policy_image *img, struct signature_verdict *v,
                 lib_error *err);

/* The verdict on manifest_digest, the manifest a walk of s chose for set->source: the docker
 * transport's scopes for docker:// (the reference as written), the oci or oci-archive transport's
 * (the layout's resolved path) for a layout. */
int oci_policy_check(const struct oci_settings *set, struct oci_store *s, const char *manifest_digest,
                     struct signature_verdict *v, lib_error *err);

struct lookaside_sigs;
/* The lookaside signatures of manifest_digest that set->source has: a docker:// registry's lookaside
 * (registries.d; the serving mirror's, s->serving_ref), a layout's (oci-dir://, oci-archive://: s)
 * signatures/ folder. For save. */
int oci_lookaside_signatures(const struct oci_settings *set, struct oci_store *s, const char *manifest_digest,
                             struct lookaside_sigs *out, lib_error *err);

/* The lookaside copies of a layout (a folder or an archive): signatures/<alg>-<hex>/signature-N (N from 1). */
#define LAYOUT_SIGNATURES_DIR "signatures"
/* "signatures/<alg>-<hex>" for manifest_digest (NULL: not a digest, or OOM). */
#define layout_signature_folder(manifest_digest) oci_digest_dashed(LAYOUT_SIGNATURES_DIR "/", manifest_digest, "")
/* The most lookaside signatures read for one manifest (containers/image's limit). */
#define LOOKASIDE_SIGNATURES_MAX 128
/* One signature's bytes at most. */
#define LOOKASIDE_SIGNATURE_MAX (4u << 20)

/* The lookaside signatures of img's manifest: each signature's bytes in sigs[i] (lens[i]); *n
 * of them (reading signature-1, -2, ... until one is missing). Used by save too. */
struct lookaside_sigs {
  char **v;
  size_t *lens;
  size_t n;
};
void lookaside_sigs_clear(struct lookaside_sigs *s);
/* The lookaside base URL registries.d gives the docker image ref (the built-in default when none
 * is configured); the caller frees it. */
int policy_lookaside_base(const struct policy_settings *ps, const struct docker_name *ref, char **out, lib_error *err);
/* A registry's lookaside at base: base/repo_path@<alg>=<hex>/signature-N. */
int lookaside_read(const char *base, const char *repo_path, const char *manifest_digest, const struct http_config *http,
                   struct lookaside_sigs *out, lib_error *err);
/* A layout store's copies (none when s cannot read files: a registry). */
int layout_lookaside_read(struct oci_store *s, const char *manifest_digest, struct lookaside_sigs *out, lib_error *err);

#endif
