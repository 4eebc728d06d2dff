/* SPDX-License-Identifier: Apache-2.0 */
/* json-c helpers every JSON-writing file wants: scope-based release, nullable strings, compact text. */
#ifndef VMPULL_JSON_UTIL_H
#define VMPULL_JSON_UTIL_H

#include "base/error.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static inline void json_putp(json_object **o) {
  if (*o)
    json_object_put(*o);
}
#define _cleanup_json_ __attribute__((cleanup(json_putp)))

/* A string value, or JSON null for NULL. */
static inline json_object *json_string_or_null(const char *s) {
  return s ? json_object_new_string(s) : NULL;
}

/* A string value of a result (inspect, save) as text_clean leaves it, or JSON null for NULL: what
 * came from a manifest, a server or an argument reaches the caller clean. (Not for documents
 * vmpull writes, whose values are data.) */
static inline json_object *json_result_string(const char *s) {
  if (!s)
    return NULL;
  char *clean = text_clean_dup(s);
  json_object *o = clean ? json_object_new_string(clean) : NULL;
  free(clean);
  return o;
}

/* j as compact text (no escaped slashes) in a string the caller frees; NULL when out of memory. */
static inline char *json_text_dup(json_object *j) {
  const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  return text ? strdup(text) : NULL;
}

#endif
