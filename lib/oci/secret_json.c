/* SPDX-License-Identifier: Apache-2.0 */
#include "oci/secret_json.h"

#include "base/util.h"

#include <json-c/printbuf.h>
#include <stdint.h>

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

/* A JSON parse whose failure message never quotes the (secret-holding) input. */
json_object *secret_json_parse(const char *buf, size_t len) {
  if (len > INT32_MAX - 16 || memchr(buf, '\0', len))
    return NULL;
  json_tokener *tok = json_tokener_new();
  if (!tok)
    return NULL;
  /* The tokener collects each string in its buffer: grown by realloc, it would leave copies
   * behind, so it gets room for the whole input first, and is wiped before it is freed. */
  struct printbuf *pb = tok->pb;
  json_object *root = NULL;
  if (printbuf_memset(pb, 0, 0, (int)len + 16) == 0) {
    printbuf_reset(pb);
    root = json_tokener_parse_ex(tok, buf, (int)len);
  }
  int ok = root && json_tokener_get_error(tok) == json_tokener_success;
  secure_zero(pb->buf, (size_t)pb->size);
  json_tokener_free(tok);
  if (!ok && root) {
    secret_json_freep(&root);
    root = NULL;
  }
  return root;
}

const char *secret_json_string(json_object *o, const char *key) {
  json_object *v;
  if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
    return NULL;
  return json_object_get_string(v);
}
