/* SPDX-License-Identifier: Apache-2.0 */
#include "oci/oci_challenge.h"

#include "base/error.h"
#include "base/util.h"
#include "oci/secret_json.h"

#define CHALLENGE_MAX 8192

void oci_challenge_clear(struct oci_challenge *c) {
  free(c->realm);
  free(c->service);
  free(c->scope);
  *c = (struct oci_challenge){0};
}

/* --- WWW-Authenticate --- */

static int is_tchar(int c) {
  return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static const char *skip_ows(const char *p) {
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* token; returns the end (== p when there is none). */
static const char *scan_token(const char *p) {
  while (is_tchar((unsigned char)*p))
    p++;
  return p;
}

/* quoted-string at p (on the opening quote) into *out, unescaped; returns the end or NULL. */
static const char *scan_quoted(const char *p, char **out) {
  size_t cap = strlen(p) + 1, n = 0;
  char *v = malloc(cap);
  if (!v)
    return NULL;
  for (p++; *p && *p != '"'; p++) {
    if (*p == '\\' && p[1])
      p++;
    v[n++] = *p;
  }
  if (*p != '"') {
    free(v);
    return NULL;
  }
  v[n] = '\0';
  *out = v;
  return p + 1;
}

int oci_challenge_parse(const char *header, struct oci_challenge *out, lib_error *err) {
  *out = (struct oci_challenge){0};
  if (!header || strlen(header) > CHALLENGE_MAX)
    return error_set(err, VMPULL_E_AUTH, "the registry's WWW-Authenticate header is missing or too long");
  struct oci_challenge cur = {0};
  const char *p = header;
  int found = 0;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (!*p)
      break;
    /* A challenge: scheme, then auth-params up to the next scheme. */
    const char *s = p;
    p = scan_token(p);
    if (p == s)
      goto malformed;
    enum oci_auth_scheme scheme = OCI_AUTH_NONE;
    if ((size_t)(p - s) == 6 && !strncasecmp(s, "Bearer", 6))
      scheme = OCI_AUTH_BEARER;
    else if ((size_t)(p - s) == 5 && !strncasecmp(s, "Basic", 5))
      scheme = OCI_AUTH_BASIC;
    cur = (struct oci_challenge){.scheme = scheme};
    for (;;) {
      const char *q = skip_ows(p);
      while (*q == ',')
        q = skip_ows(q + 1);
      const char *k = q;
      const char *kend = scan_token(q);
      const char *eq = skip_ows(kend);
      if (kend == k && *q == '=') {
        /* the padding of a token68 ("Negotiate abc=="), which we do not use */
        while (*q == '=')
          q++;
        p = q;
        continue;
      }
      if (kend == k && *q)
        goto malformed;
      if (*eq != '=') {
        /* Not an auth-param: the next challenge's scheme (or a token68), or the end. */
        p = q;
        break;
      }
      const char *v = skip_ows(eq + 1);
      char *value = NULL;
      if (*v == '"') {
        v = scan_quoted(v, &value);
        if (!v)
          goto malformed;
      } else {
        const char *vend = scan_token(v);
        value = strndup(v, (size_t)(vend - v));
        if (!value) {
          oci_challenge_clear(&cur);
          return error_oom(err);
        }
        v = vend;
      }
      char **slot = NULL;
      if ((size_t)(kend - k) == 5 && !strncasecmp(k, "realm", 5))
        slot = &cur.realm;
      else if ((size_t)(kend - k) == 7 && !strncasecmp(k, "service", 7))
        slot = &cur.service;
      else if ((size_t)(kend - k) == 5 && !strncasecmp(k, "scope", 5))
        slot = &cur.scope;
      if (slot && !*slot)
        *slot = value;
      else
        free(value);
      p = v;
    }
    if (cur.scheme == OCI_AUTH_BEARER || (cur.scheme == OCI_AUTH_BASIC && !found)) {
      oci_challenge_clear(out);
      *out = cur;
      cur = (struct oci_challenge){0}; /* out owns the strings now: a malformed rest must not free them twice */
      found = 1;
      if (cur.scheme == OCI_AUTH_BEARER)
        break;
    } else {
      oci_challenge_clear(&cur);
    }
  }
  if (!found)
    return error_set(err, VMPULL_E_AUTH, "the registry asks for an authentication scheme other than Bearer or Basic");
  if (out->scheme == OCI_AUTH_BEARER && (!out->realm || !*out->realm)) {
    oci_challenge_clear(out);
    return error_set(err, VMPULL_E_AUTH, "the registry's Bearer challenge has no realm");
  }
  return 0;

malformed:
  oci_challenge_clear(&cur);
  oci_challenge_clear(out);
  return error_set(err, VMPULL_E_AUTH, "the registry's WWW-Authenticate header is malformed");
}

int oci_token_parse(const char *json, size_t len, char **token, lib_error *err) {
  *token = NULL;
  _cleanup_secret_json_ json_object *root = secret_json_parse(json, len);
  const char *t = secret_json_string(root, "token");
  if (!t || !*t)
    t = secret_json_string(root, "access_token");
  if (!t || !*t)
    return error_set(err, VMPULL_E_AUTH, "the token answer has no token");
  for (const char *p = t; *p; p++)
    if ((unsigned char)*p < 0x21 || *p == 0x7f)
      return error_set(err, VMPULL_E_AUTH, "the token holds characters not allowed in a header");
  *token = strdup(t);
  return *token ? 0 : error_oom(err);
}
