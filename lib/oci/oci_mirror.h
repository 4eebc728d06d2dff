/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry mirrors (registries.conf's [[registry.mirror]], as options): a
 * docker:// reference is looked up at each mirror of its registry in turn,
 * then at the registry itself. A mirror is only a faster way to the same
 * bytes: everything is still checked against the digests the documents name,
 * so a mirror that serves something else fails the pull instead of being
 * skipped. A mirror that cannot be reached, has not got the content (404),
 * fails (5xx) or refuses us (401/403) is skipped with one warning. --creds are
 * the named registry's: a mirror uses what the auth files hold for its host.
 */
#ifndef VMPULL_OCI_MIRROR_H
#define VMPULL_OCI_MIRROR_H

#include "oci/oci_ref.h"
#include "oci/oci_store.h"

/* One place a reference can be fetched from. */
struct oci_endpoint {
  char *name;            /* "HOST[/NS]/REPO": the repository at this endpoint */
  char *mirror;          /* the mirror as given ("cache.example:5000/quay"), NULL for the registry itself */
  struct docker_ref ref; /* name, parsed (the origin's tag or digest is set when it is opened) */
  int insecure;          /* registries.conf's insecure: no TLS verification, then plain http */
};

/* Check one "REGISTRY=MIRROR" option string. */
int oci_mirror_spec_check(const char *spec, lib_error *err);

/* Where ref is fetched from, in order: the mirrors set names for its registry
 * (none for a tag with mirror_by_digest_only, none with --offline), then those
 * registries.conf (set->conf) gives, then the registry itself or its location
 * (always last). A registry registries.conf blocks is VMPULL_E_CONFIG. */
int oci_mirror_endpoints(const struct oci_settings *set, const struct docker_ref *ref, struct oci_endpoint **out,
                         size_t *n, lib_error *err);
void oci_endpoints_free(struct oci_endpoint *e, size_t n);

/* The docker:// store for set->source: through the mirrors of its registry when there
 * are any (the store's mirror field names the one that served the root
 * document), else oci_registry_store_open(). */
int oci_docker_store_open(const struct oci_settings *set, struct pull_cache *pc, struct oci_store **out,
                          lib_error *err);

#endif
