/* SPDX-License-Identifier: Apache-2.0 */
/* json-c helpers every JSON-writing file wants: scope-based release, nullable strings, compact text. */
#ifndef VMPULL_JSON_UTIL_H
#define VMPULL_JSON_UTIL_H

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

/* j as compact text (no escaped slashes) in a string the caller frees; NULL when out of memory. */
static inline char *json_text_dup(json_object *j) {
  const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  return text ? strdup(text) : NULL;
}

#endif
