/* SPDX-License-Identifier: Apache-2.0 */
#include "oci/secret_json.h"

#include "base/json_util.h"
#include "base/util.h"

/* json-c keeps its own copies of the strings it parsed: wipe them before the tree goes (the
 * documents here hold passwords, "auth" entries and tokens). Depth is bounded by the parser's. */
static void json_wipe_strings(json_object *o) {
  switch (json_object_get_type(o)) {
  case json_type_string: secure_zero((char *)json_object_get_string(o), (size_t)json_object_get_string_len(o)); break;
  case json_type_object: {
    json_object_object_foreach(o, key, value) {
      (void)key;
      json_wipe_strings(value);
    }
    break;
  }
  case json_type_array:
    for (size_t i = 0; i < json_object_array_length(o); i++)
      json_wipe_strings(json_object_array_get_idx(o, i));
    break;
  default: break;
  }
}

void secret_json_freep(json_object **o) {
  if (*o) {
    json_wipe_strings(*o);
    json_object_put(*o);
  }
}

/* A JSON parse whose failure message never quotes the (secret-holding) input; the parser's
 * buffer is sized once and wiped (json_parse_strict's secret mode). */
json_object *secret_json_parse(const char *buf, size_t len) {
  struct json_parse_limits lim = {.flags = JSON_PARSE_SECRET};
  json_object *root = NULL;
  const char *why;
  return json_parse_strict(buf, len, &lim, &root, &why) == JSON_PARSE_OK ? root : NULL;
}

const char *secret_json_string(json_object *o, const char *key) {
  return json_member_string(o, key);
}
