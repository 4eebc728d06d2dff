/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers every request to a registry shares (registry_store.h). */
#include "oci/registry_store.h"

#include "base/json_util.h"
#include "base/util.h"

#include <json-c/json.h>

/* curl_slist_append copies; the Authorization line is wiped from our copy by the caller. */
int registry_headers_add(struct curl_slist **l, const char *line, lib_error *err) {
  struct curl_slist *n = curl_slist_append(*l, line);
  if (!n)
    return error_oom(err);
  *l = n;
  return 0;
}

/* "MANIFEST_UNKNOWN: manifest unknown; ..." from a registry's JSON error body, or NULL. */
static char *registry_error_text(const struct http_response *resp) {
  if (!resp->body || !resp->body_len || resp->body_len > (1u << 20))
    return NULL;
  json_object *root = NULL;
  const char *why;
  struct json_parse_limits lim = {.max_len = 1u << 20};
  (void)json_parse_strict(resp->body, resp->body_len, &lim, &root, &why);
  json_object *errors;
  char text[REGISTRY_ERROR_SHOWN + 1] = "";
  if (root && json_object_object_get_ex(root, "errors", &errors) && json_object_is_type(errors, json_type_array)) {
    for (size_t i = 0; i < json_object_array_length(errors) && i < 4; i++) {
      json_object *e = json_object_array_get_idx(errors, i), *code, *msg;
      const char *c = json_object_object_get_ex(e, "code", &code) ? json_object_get_string(code) : NULL;
      const char *m = json_object_object_get_ex(e, "message", &msg) ? json_object_get_string(msg) : NULL;
      if (!c && !m)
        continue;
      size_t len = strlen(text);
      snprintf(text + len, sizeof(text) - len, "%s%s%s%s", len ? "; " : "", c ? c : "", c && m ? ": " : "", m ? m : "");
    }
  }
  if (root)
    json_object_put(root);
  return *text ? strdup(text) : NULL;
}

/* An unwanted status, worded with the registry's own error when it sent one. */
int registry_status_error(const struct http_response *resp, lib_error *err) {
  int r = http_status_error(resp, err);
  _cleanup_free_ char *text = registry_error_text(resp);
  if (text)
    error_append(err, ": %s", text);
  return r;
}
