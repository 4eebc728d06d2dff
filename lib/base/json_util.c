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

/* The keys of one open object (or none, for an array) while json_duplicate_key walks the text. */
struct key_frame {
  char **keys;
  size_t n, cap;
  int object;
};

static void key_frame_clear(struct key_frame *f) {
  for (size_t i = 0; i < f->n; i++)
    free(f->keys[i]);
  free(f->keys);
  *f = (struct key_frame){0};
}

/* The key as json-c stores it: the string token tok[0, len) (quotes included) unescaped, up to its
 * first NUL (two keys that differ only after an escaped NUL are one key to json-c). */
static char *key_text(const char *tok, size_t len) {
  if (!memchr(tok, '\\', len))
    return strndup(tok + 1, len - 2);
  json_object *s = NULL;
  const char *why;
  if (json_parse_strict(tok, len, NULL, &s, &why) != JSON_PARSE_OK)
    return NULL;
  char *k = json_object_is_type(s, json_type_string) ? strdup(json_object_get_string(s)) : NULL;
  json_object_put(s);
  return k;
}

static int key_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A key of f that appears twice, or NULL. Sorts f's keys. */
static const char *key_frame_duplicate(struct key_frame *f) {
  if (f->n < 2)
    return NULL;
  qsort(f->keys, f->n, sizeof(*f->keys), key_cmp);
  for (size_t i = 1; i < f->n; i++)
    if (!strcmp(f->keys[i - 1], f->keys[i]))
      return f->keys[i];
  return NULL;
}

static int key_frame_add(struct key_frame *f, char *key) {
  if (!key)
    return -1;
  if (f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 8;
    char **keys = realloc(f->keys, cap * sizeof(*keys));
    if (!keys) {
      free(key);
      return -1;
    }
    f->keys = keys;
    f->cap = cap;
  }
  f->keys[f->n++] = key;
  return 0;
}

/* The end of the string token that starts at buf[i] (a quote): the index after its closing quote. */
static size_t string_end(const char *buf, size_t len, size_t i) {
  for (i++; i < len; i++) {
    if (buf[i] == '\\')
      i++;
    else if (buf[i] == '"')
      return i + 1;
  }
  return len;
}

int json_duplicate_key(const char *buf, size_t len, char **key) {
  *key = NULL;
  struct key_frame *frames = NULL;
  size_t depth = 0, cap = 0;
  int expect_key = 0, r = 0;
  for (size_t i = 0; i < len && r == 0;) {
    char ch = buf[i];
    if (ch == '"') {
      size_t end = string_end(buf, len, i);
      if (depth && frames[depth - 1].object && expect_key && end - i >= 2)
        r = key_frame_add(&frames[depth - 1], key_text(buf + i, end - i));
      expect_key = 0;
      i = end;
      continue;
    }
    if (ch == '{' || ch == '[') {
      if (depth == cap) {
        size_t ncap = cap ? cap * 2 : 8;
        struct key_frame *nf = realloc(frames, ncap * sizeof(*nf));
        if (!nf) {
          r = -1;
          break;
        }
        frames = nf;
        cap = ncap;
      }
      frames[depth++] = (struct key_frame){.object = ch == '{'};
      expect_key = ch == '{';
    } else if ((ch == '}' || ch == ']') && depth) {
      const char *dup = key_frame_duplicate(&frames[depth - 1]);
      if (dup)
        r = (*key = strdup(dup)) ? 1 : -1;
      key_frame_clear(&frames[--depth]);
    } else if (ch == ',' && depth) {
      expect_key = frames[depth - 1].object;
    }
    i++;
  }
  while (depth)
    key_frame_clear(&frames[--depth]);
  free(frames);
  return r;
}
