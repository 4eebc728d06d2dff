/* SPDX-License-Identifier: Apache-2.0 */
/* json-c helpers: the one strict parse with limits, member getters, scope-based release, nullable
 * strings, compact text. */
#ifndef VMPULL_JSON_UTIL_H
#define VMPULL_JSON_UTIL_H

#include "base/error.h"
#include "base/util.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

DEFINE_CLEANUP_FUNC(json_object *, json_object_put)
#define _cleanup_json_ _cleanup_(json_object_putp)

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

/* The input holds secrets (passwords, tokens): the parser's string buffer gets room for the whole
 * input first (grown by realloc it would leave copies behind) and is wiped before it is freed. */
#define JSON_PARSE_SECRET 1u

struct json_parse_limits {
  size_t max_len; /* longer inputs are refused; 0: INT32_MAX (json-c's own bound) */
  int max_depth;  /* nesting; 0: json-c's default (32) */
  unsigned flags; /* JSON_PARSE_* */
};

enum json_parse_status {
  JSON_PARSE_OK = 0,
  JSON_PARSE_TOO_LARGE, /* longer than max_len */
  JSON_PARSE_INVALID,   /* a NUL byte, not JSON, cut short, or data after the document */
  JSON_PARSE_NO_MEMORY,
};

/* The one JSON parse: exactly one document in buf[0, len) (whitespace around it allowed), read
 * strictly (RFC 8259 as json-c's strict mode takes it), refused when it holds a NUL byte or
 * anything after the document. *out is the tree (the caller puts it) or NULL; *why, when not
 * JSON_PARSE_OK, a phrase for the caller's message ("contains a NUL byte", "unexpected end of
 * document", "data after the document", json-c's description). lim may be NULL (no limits). */
enum json_parse_status json_parse_strict(const char *buf, size_t len, const struct json_parse_limits *lim,
                                         json_object **out, const char **why);

/* json_parse_strict for a caller that words the failure itself: 0 and *out, 1 and *why (never NULL)
 * when buf is no such document, or -ENOMEM (err set). */
int json_parse_or_why(const char *buf, size_t len, const struct json_parse_limits *lim, json_object **out,
                      const char **why, lib_error *err);

/* A key that appears twice in one object of buf[0, len), at any depth (containers/image refuses
 * such a document; json-c would keep the last value): 0 when there is none, 1 and *key (the caller
 * frees it), or -1 when out of memory. buf is a document json_parse_strict accepted (so its nesting
 * is within that parse's depth limit). */
int json_duplicate_key(const char *buf, size_t len, char **key);

/* Member getters: a missing member, a member of another type, or o not an object reads as absent. */
json_object *json_member(json_object *o, const char *key);
/* The string value of o[key], or NULL. */
const char *json_member_string(json_object *o, const char *key);
/* A copy of the string value of o[key] (the caller frees it), or NULL (absent, or out of memory). */
char *json_member_strdup(json_object *o, const char *key);
/* The non-negative integer value of o[key], or UINT64_MAX. */
uint64_t json_member_u64(json_object *o, const char *key);

#endif
