/* SPDX-License-Identifier: Apache-2.0 */
/* Where vmpull_save() writes: the destination's spelling, and the ref.name the saved entry gets. */
#include "api/save_dest.h"

#include "base/error.h"
#include "base/util.h"
#include "oci/oci_ref.h"

#include <string.h>
#include <strings.h>

#define DEFAULT_REF "latest"
#define REF_NAME_MAX 255

void save_dest_clear(struct save_dest *d) {
  free(d->path);
  free(d->ref);
}

/* oci-dir://PATH[:REF] or oci-archive://FILE[:REF] (or skopeo's oci:, oci-archive:), split at the first colon as the
 * sources are. */
int save_dest_parse(const char *dest, struct save_dest *out, lib_error *err) {
  const char *rest = dest ? oci_layout_spec(dest, 0) : NULL;
  if (!rest && dest && (rest = oci_layout_spec(dest, 1)))
    out->archive = 1;
  if (!rest)
    return error_set(err, VMPULL_E_USAGE, "destination '%s' is not oci-dir://PATH[:REF] or oci-archive://FILE[:REF]",
                     dest ? dest : "");
  const char *colon = oci_layout_ref_colon(rest, OCI_WINDOWS_PATHS);
  size_t len = colon ? (size_t)(colon - rest) : strlen(rest);
  if (!len)
    return error_set(err, VMPULL_E_USAGE, "destination %s: no %s given", dest, out->archive ? "file" : "folder");
  if (colon && !colon[1])
    return error_set(err, VMPULL_E_USAGE, "destination %s: empty REF after ':'", dest);
  out->path = strndup(rest, len);
  out->ref = colon ? strdup(colon + 1) : NULL;
  if (!out->path || (colon && !out->ref))
    return error_oom(err);
  if (out->archive && (out->path[len - 1] == '/' || (OCI_WINDOWS_PATHS && out->path[len - 1] == '\\')))
    return error_set(err, VMPULL_E_USAGE, "destination %s: an archive is a file, not a folder", dest);
  return 0;
}

/* A ref.name: printable, no whitespace, within the length annotations are usually kept to. */
int save_ref_name_check(const char *ref, lib_error *err) {
  size_t len = strlen(ref);
  int ok = len > 0 && len <= REF_NAME_MAX;
  for (const char *p = ref; ok && *p; p++)
    ok = (unsigned char)*p > 0x20 && *p != 0x7f;
  return ok ? 0 : error_set(err, VMPULL_E_USAGE, "REF '%.300s' is not usable as a ref name", ref);
}

/* The source's tag or REF, else "latest". */
int save_default_ref(const struct oci_settings *o, enum source_kind kind, char **out, lib_error *err) {
  *out = NULL;
  if (kind == SOURCE_DOCKER) {
    _cleanup_(docker_ref_clear) struct docker_ref ref = {0};
    int r = docker_ref_for_source(o->source, &o->default_image, &ref, err);
    if (r < 0)
      return r;
    *out = strdup(ref.tag ? ref.tag : DEFAULT_REF);
  } else if (kind == SOURCE_OCI_DIR || kind == SOURCE_OCI_ARCHIVE) {
    const char *rest = oci_layout_spec(o->source, kind == SOURCE_OCI_ARCHIVE);
    const char *colon = oci_layout_ref_colon(rest, OCI_WINDOWS_PATHS);
    *out = strdup(colon && colon[1] ? colon + 1 : DEFAULT_REF);
  } else {
    *out = strdup(DEFAULT_REF);
  }
  return *out ? 0 : error_oom(err);
}
