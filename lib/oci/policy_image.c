/* SPDX-License-Identifier: Apache-2.0 */
/* Which image the policy judges: the transport, and the reference or path its scopes name
 * (policy_eval.h: oci_policy_check). */
#include "base/platform.h"
#include "base/util.h"
#include "oci/oci_ref.h"
#include "oci/oci_store.h"
#include "oci/policy_eval.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The repository at the host that served s (its serving_ref), with logical's tag or digest: containers/image's
 * physicalRef for a pull through a mirror. out->name stays NULL when s names none. */
static int physical_name(struct oci_store *s, const struct docker_name *logical, struct docker_name *out,
                         lib_error *err) {
  *out = (struct docker_name){0};
  const struct docker_ref *at = s && s->serving_ref ? s->serving_ref(s) : NULL;
  if (!at)
    return 0;
  out->name = xasprintf("%s/%s", at->registry, at->repository);
  out->tag = logical->tag ? strdup(logical->tag) : NULL;
  out->digest = logical->digest ? strdup(logical->digest) : NULL;
  if (!out->name || (logical->tag && !out->tag) || (logical->digest && !out->digest)) {
    docker_name_clear(out);
    return error_oom(err);
  }
  return 0;
}

int oci_lookaside_signatures(const struct oci_settings *set, struct oci_store *s, const char *manifest_digest,
                             struct lookaside_sigs *out, lib_error *err) {
  *out = (struct lookaside_sigs){0};
  if (oci_layout_spec(set->source, 0) || oci_layout_spec(set->source, 1))
    return layout_lookaside_read(s, manifest_digest, out, err);
  _cleanup_(docker_ref_clear) struct docker_ref ref = {0};
  int r = docker_ref_for_source(set->source, &set->default_image, &ref, err);
  if (r < 0)
    return r;
  struct policy_settings ps = {.policy_path = set->signature_policy, .registries_d = set->registries_d};
  _cleanup_(docker_name_clear) struct docker_name name = {.name = xasprintf("%s/%s", ref.registry, ref.repository)};
  _cleanup_(docker_name_clear) struct docker_name physical = {0};
  _cleanup_free_ char *base = NULL;
  if (!name.name)
    return error_oom(err);
  if ((r = physical_name(s, &name, &physical, err)) < 0)
    return r;
  const struct docker_name *at = physical.name ? &physical : &name;
  if ((r = policy_lookaside_base(&ps, at, &base, err)) < 0)
    return r;
  const char *repo = strchr(at->name, '/'); /* reference.Path: without the registry */
  return lookaside_read(base, repo ? repo + 1 : at->name, manifest_digest, &set->http, out, err);
}

int oci_policy_check(const struct oci_settings *set, struct oci_store *s, const char *manifest_digest,
                     struct signature_verdict *v, lib_error *err) {
  struct policy_settings ps = {.policy_path = set->signature_policy, .registries_d = set->registries_d};
  struct policy_image img = {.manifest_digest = manifest_digest, .store = s, .http = &set->http, .hooks = &set->hooks};
  const char *dir = oci_layout_spec(set->source, 0), *archive = oci_layout_spec(set->source, 1);
  _cleanup_free_ char *path = NULL, *resolved = NULL;
  _cleanup_(docker_name_clear) struct docker_name name = {0}, physical = {0};
  if (dir || archive) {
    const char *rest = dir ? dir : archive;
    img.transport = dir ? "oci" : "oci-archive";
    const char *colon = oci_layout_ref_colon(rest, OCI_WINDOWS_PATHS); /* a drive's colon is PATH's */
    if (!(path = strndup(rest, colon ? (size_t)(colon - rest) : strlen(rest))))
      return error_oom(err);
    /* containers/image's scopes name the resolved path (symbolic links followed) */
    if (!(resolved = plat_realpath(path)))
      return error_set_errno(err, VMPULL_E_IO, errno, "%s", path);
    img.scope_path = resolved;
  } else {
    _cleanup_(docker_ref_clear) struct docker_ref ref = {0};
    int r = docker_ref_for_source(set->source, &set->default_image, &ref, err);
    if (r < 0)
      return r;
    name.name = xasprintf("%s/%s", ref.registry, ref.repository);
    name.tag = TAKE_PTR(ref.tag);
    name.digest = TAKE_PTR(ref.digest);
    if (!name.name)
      return error_oom(err);
    img.transport = "docker";
    img.reference = &name;
    if ((r = physical_name(s, &name, &physical, err)) < 0)
      return r;
    img.physical = physical.name ? &physical : NULL;
  }
  return policy_check(&ps, &img, v, err);
}
