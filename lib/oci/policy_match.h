/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a signature claims and whether the policy accepts it: the signed payload (the "simple
 * signing" JSON that GPG signatures and sigstore payloads share, signature/simple.go), docker
 * reference names as containers/image compares them, the namespaces a docker scope lookup walks,
 * and signedIdentity (signature/policy_reference_match.go).
 */
#ifndef VMPULL_OCI_POLICY_MATCH_H
#define VMPULL_OCI_POLICY_MATCH_H

#include "base/error.h"
#include "oci/policy.h"

#include <stddef.h>

/* A normalized docker reference (reference.ParseNormalizedNamed): name is registry/repository
 * ("docker.io/library/busybox"); tag and digest each NULL when absent (both NULL: name only). */
struct docker_name {
  char *name;
  char *tag;
  char *digest;
};

/* 0, or -1 when s is not a docker reference (or out of memory). */
int docker_name_parse(const char *s, struct docker_name *out);
/* name[:tag][@digest] (NULL on OOM). */
char *docker_name_string(const struct docker_name *n);
void docker_name_clear(struct docker_name *n);

/* The scopes a docker image's lookup tries after its identity, most specific first
 * (docker/policyconfiguration's DockerReferenceNamespaces): the repository, each parent, then
 * "*.example.com" wildcards of the host. *out is a NULL-terminated array the caller frees with
 * strv_free. */
int docker_namespaces(const char *name, char ***out, size_t *n);
/* The same for a layout path (oci, oci-archive): the path and each parent but "/". */
int path_namespaces(const char *path, char ***out, size_t *n);
void strv_free(char **v);

/* What a verified payload claims. */
struct sig_claims {
  char *manifest_digest;
  char *docker_reference;
};

/* Parse a payload strictly, as containers/image does: exactly critical{type, image
 * {docker-manifest-digest}, identity{docker-reference}} and optional (an object; null allowed for
 * sigstore), type "atomic container signature" (sigstore: "cosign container image signature"). */
int sig_claims_parse(const char *buf, size_t len, int sigstore, struct sig_claims *out, lib_error *err);
void sig_claims_clear(struct sig_claims *c);

/* Whether signed (the payload's docker-reference) satisfies id for an image whose reference is
 * intended (NULL for a layout, which has no docker reference: only exactReference and
 * exactRepository can match then). */
int policy_identity_matches(const struct policy_identity *id, const struct docker_name *intended,
                            const char *signed_ref);

#endif
