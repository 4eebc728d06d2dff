/* SPDX-License-Identifier: Apache-2.0 */
/* A layout's index.json as the layout writer reads and rewrites it. */
#include "oci/layout_index.h"

#include "base/error.h"
#include "base/json_util.h"
#include "base/util.h"
#include "oci/oci_manifest.h"

#include <string.h>

#define EMPTY_INDEX "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_INDEX "\",\"manifests\":[]}"

const char *layout_index_empty(void) {
  return EMPTY_INDEX;
}

/* index.json's content as an image index (a JSON object with a manifests array), or an error that leaves it be. */
int layout_index_parse(const char *text, size_t len, const char *path, json_object **out, lib_error *err) {
  _cleanup_json_ json_object *index = NULL;
  const char *why;
  struct json_parse_limits lim = {.max_len = OCI_DOC_MAX};
  enum json_parse_status st = json_parse_strict(text, len, &lim, &index, &why);
  if (st == JSON_PARSE_NO_MEMORY)
    return error_oom(err);
  json_object *m;
  if (st != JSON_PARSE_OK || !json_object_is_type(index, json_type_object) ||
      !json_object_object_get_ex(index, "manifests", &m) || !json_object_is_type(m, json_type_array))
    return error_set(err, VMPULL_E_MANIFEST, "%s: index.json is not an image index (left as it is)", path);
  *out = TAKE_PTR(index);
  return 0;
}

static const char *ref_name_of(json_object *entry) {
  json_object *ann, *name;
  if (!json_object_object_get_ex(entry, "annotations", &ann) || !json_object_is_type(ann, json_type_object) ||
      !json_object_object_get_ex(ann, OCI_ANNOTATION_REF_NAME, &name) || !json_object_is_type(name, json_type_string))
    return NULL;
  return json_object_get_string(name);
}

/* index.json with entry added under ref_name (an older entry of that name goes). */
int layout_index_add(const char *old, size_t old_len, const char *path, json_object *entry, const char *ref_name,
                     char **out, lib_error *err) {
  _cleanup_json_ json_object *index = NULL;
  int r = layout_index_parse(old ? old : EMPTY_INDEX, old ? old_len : strlen(EMPTY_INDEX), path, &index, err);
  if (r < 0)
    return r;
  json_object *manifests = json_object_object_get(index, "manifests");
  json_object *kept = json_object_new_array();
  if (!kept)
    return error_oom(err);
  for (size_t i = 0; i < json_object_array_length(manifests); i++) {
    json_object *e = json_object_array_get_idx(manifests, i);
    const char *name = ref_name_of(e);
    if (name && !strcmp(name, ref_name))
      continue;
    json_object_array_add(kept, json_object_get(e));
  }
  json_object *ann = NULL;
  if (!json_object_object_get_ex(entry, "annotations", &ann)) {
    ann = json_object_new_object();
    json_object_object_add(entry, "annotations", ann);
  }
  json_object_object_add(ann, OCI_ANNOTATION_REF_NAME, json_object_new_string(ref_name));
  json_object_array_add(kept, json_object_get(entry));
  json_object_object_add(index, "manifests", kept);
  *out = json_text_dup(index);
  return *out ? 0 : error_oom(err);
}
