/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI resolvers: the one place that picks a store by the kind of source (oci-dir://,
 * oci-archive://, docker:// through its mirrors), walks it to one layer and hands that layer on. */
#include "base/error.h"
#include "oci/oci_mirror.h"
#include "oci/oci_store.h"
#include "resolve/resolve.h"

int oci_store_open(const struct oci_settings *set, struct oci_store **out, vmpull_error *err) {
  return oci_store_open_cached(set, NULL, out, err);
}

int oci_store_open_cached(const struct oci_settings *set, struct pull_cache *pc, struct oci_store **out,
                          vmpull_error *err) {
  enum source_kind kind;
  int r = source_classify(set->source, &kind, err);
  if (r < 0)
    return r;
  if (kind == SOURCE_OCI_DIR)
    return oci_dir_store_open(set->source, &set->selection, out, err);
  if (kind == SOURCE_OCI_ARCHIVE)
    return oci_archive_store_open(set->source, &set->selection, out, err);
  if (kind == SOURCE_DOCKER)
    return oci_docker_store_open(set, pc, out, err);
  return error_set(err, VMPULL_E_USAGE,
                   "only oci-dir:// and docker:// sources (and oci-archive://, a layout as a tar) hold OCI images");
}

static int resolve_oci(const struct resolve_settings *set, struct resolved *r, vmpull_error *err) {
  _cleanup_oci_store_ struct oci_store *s = NULL;
  int ret = oci_store_open_cached(&set->oci, r->cache, &s, err);
  if (ret < 0)
    return ret;
  _cleanup_(oci_target_clear) struct oci_target t = {0};
  ret = oci_walk_one(&s->walk, &t, err);
  if (ret < 0)
    return ret;
  return oci_resolve_target(s, &t, r, err);
}

int resolve_oci_dir(const struct resolve_settings *s, struct resolved *r, vmpull_error *err) {
  return resolve_oci(s, r, err);
}

int resolve_docker(const struct resolve_settings *s, struct resolved *r, vmpull_error *err) {
  return resolve_oci(s, r, err);
}

int resolve_oci_archive(const struct resolve_settings *s, struct resolved *r, vmpull_error *err) {
  return resolve_oci(s, r, err);
}
