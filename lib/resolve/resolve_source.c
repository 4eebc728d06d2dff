/* SPDX-License-Identifier: Apache-2.0 */
/* The one dispatch on the kind of source: pull, inspect and save all call resolve_source(), which
 * classifies the source string once and either opens its OCI store (oci-dir://, oci-archive://,
 * docker:// through its mirrors) or resolves the one image a source names. */
#include "base/error.h"
#include "oci/oci_mirror.h"
#include "oci/oci_store.h"
#include "oci/policy_eval.h"
#include "resolve/resolve.h"

/* The OCI store the source names; *out stays NULL for a kind that holds no OCI image. */
static int open_store(enum source_kind kind, const struct oci_settings *set, struct pull_cache *pc,
                      struct oci_store **out, lib_error *err) {
  switch (kind) {
  case SOURCE_OCI_DIR: return oci_dir_store_open(set->source, &set->selection, out, err);
  case SOURCE_OCI_ARCHIVE: return oci_archive_store_open(set->source, &set->selection, out, err);
  case SOURCE_DOCKER: return oci_docker_store_open(set, pc, out, err);
  default: return 0;
  }
}

/* Walk the store to its one layer, let the signature policy judge the chosen manifest (before the
 * layer is planned, let alone requested), and hand that layer on (the store goes). */
static int resolve_oci(const struct oci_settings *set, struct oci_store *store, struct resolved *r, lib_error *err) {
  _cleanup_oci_store_ struct oci_store *s = store;
  _cleanup_(oci_target_clear) struct oci_target t = {0};
  int ret = oci_walk_one(&s->walk, &t, err);
  if (ret < 0)
    return ret;
  _cleanup_(signature_verdict_clear) struct signature_verdict v = {0};
  ret = oci_policy_check(set, s, t.manifest_digest, &v, err);
  if (ret < 0)
    return ret;
  ret = oci_resolve_target(s, &t, r, err);
  if (ret < 0)
    return ret;
  r->verified_type = v.type;
  r->verified_key = TAKE_PTR(v.key);
  return 0;
}

int resolve_source(const struct resolve_settings *s, struct pull_cache *pc, struct oci_store **store,
                   struct resolved *r, lib_error *err) {
  enum source_kind kind;
  int ret = source_classify(s->source, &kind, err);
  if (ret < 0)
    return ret;
  if (r)
    r->cache = pc;
  struct oci_store *opened = NULL;
  ret = open_store(kind, &s->oci, pc, &opened, err);
  if (ret < 0)
    return ret;
  if (opened) {
    if (!store)
      return resolve_oci(&s->oci, opened, r, err);
    *store = opened;
    return 0;
  }
  if (store)
    return error_set(err, VMPULL_E_USAGE,
                     "only oci-dir:// and docker:// sources (and oci-archive://, a layout as a tar) hold OCI images");
  switch (kind) {
  case SOURCE_FILE: return resolve_file(s, s->source, r, err);
  case SOURCE_HTTP: return resolve_http(s, s->source, r, err);
  case SOURCE_FCOS: return resolve_fcos(s, r, err);
  default: return error_set(err, VMPULL_E_UNSUPPORTED, "%s:// sources are not supported yet", source_kind_name(kind));
  }
}
