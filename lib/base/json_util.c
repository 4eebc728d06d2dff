/* SPDX-License-Identifier: Apache-2.0 */
/* The one strict JSON parse (every document vmpull reads goes through it) and the member getters. */
#include "base/json_util.h"

#include "base/util.h"

/* One strict pass; *end: where the parser stopped. -1 when out of memory. */
static int parse_once(const char *buf, size_t len, const struct json_parse_limits *lim, json_object **out,
                      enum json_tokener_error *jerr, size_t *end) {
  json_tokener *tok = lim->max_depth > 0 ? json_tokener_new_ex(lim->max_depth) : json_tokener_new();
  if (!tok)
    return -1;
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
  struct printbuf *pb = tok->pb;
  int secret = (lim->flags & JSON_PARSE_SECRET) != 0;
  *out = NULL;
  if (secret && printbuf_memset(pb, 0, 0, (int)len + 16) < 0) {
    json_tokener_free(tok);
    return -1;
  }
  if (secret)
    printbuf_reset(pb);
  /* Strict mode takes the whitespace after the document and refuses anything else there. */
  *out = json_tokener_parse_ex(tok, buf, (int)len);
  *jerr = json_tokener_get_error(tok);
  *end = json_tokener_get_parse_end(tok);
  if (secret)
    secure_zero(pb->buf, (size_t)pb->size);
  json_tokener_free(tok);
  if (*out && *jerr != json_tokener_success) {
    json_object_put(*out);
    *out = NULL;
  }
  return 0;
}

enum json_parse_status json_parse_strict(const char *buf, size_t len, const struct json_parse_limits *lim,
                                         json_object **out, const char **why) {
  static const struct json_parse_limits none = {0};
  *out = NULL;
  *why = NULL;
  if (!lim)
    lim = &none;
  size_t max = lim->max_len && lim->max_len < (size_t)INT32_MAX - 16 ? lim->max_len : (size_t)INT32_MAX - 16;
  if (len > max) {
    *why = "larger than the limit";
    return JSON_PARSE_TOO_LARGE;
  }
  if (memchr(buf, '\0', len)) {
    *why = "contains a NUL byte";
    return JSON_PARSE_INVALID;
  }
  enum json_tokener_error jerr;
  size_t end;
  if (parse_once(buf, len, lim, out, &jerr, &end) < 0) {
    *why = "out of memory";
    return JSON_PARSE_NO_MEMORY;
  }
  if (*out)
    return JSON_PARSE_OK;
  if (jerr == json_tokener_continue) {
    *why = "unexpected end of document";
    return JSON_PARSE_INVALID;
  }
  *why = json_tokener_error_desc(jerr);
  /* Where strict mode stopped at an unexpected character, a complete document before it means the
   * character came after the document: say so. */
  json_object *doc = NULL;
  enum json_tokener_error perr;
  size_t pend;
  if (end > 0 && end < len && parse_once(buf, end, lim, &doc, &perr, &pend) == 0 && doc) {
    json_object_put(doc);
    *why = "data after the document";
  }
  return JSON_PARSE_INVALID;
}

json_object *json_member(json_object *o, const char *key) {
  json_object *v = NULL;
  if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
    return NULL;
  return v;
}

const char *json_member_string(json_object *o, const char *key) {
  json_object *v = json_member(o, key);
  return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

char *json_member_strdup(json_object *o, const char *key) {
  const char *s = json_member_string(o, key);
  return s ? strdup(s) : NULL;
}

uint64_t json_member_u64(json_object *o, const char *key) {
  json_object *v = json_member(o, key);
  if (!v || !json_object_is_type(v, json_type_int))
    return UINT64_MAX;
  int64_t n = json_object_get_int64(v);
  return n < 0 ? UINT64_MAX : (uint64_t)n;
}

int json_parse_or_why(const char *buf, size_t len, const struct json_parse_limits *lim, json_object **out,
                      const char **why, lib_error *err) {
  enum json_parse_status st = json_parse_strict(buf, len, lim, out, why);
  if (st == JSON_PARSE_NO_MEMORY)
    return error_oom(err);
  if (st == JSON_PARSE_OK)
    return 0;
  if (!*why)
    *why = "not JSON";
  return 1;
}
