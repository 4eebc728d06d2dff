/* SPDX-License-Identifier: Apache-2.0 */
/* policy.json into typed requirements (policy.h), as strict as containers/image's
 * ParanoidUnmarshalJSONObject: unknown fields, wrong types, an empty requirement list, a missing
 * "default" are errors that name the file and the place. */
#include "oci/policy.h"

#include "base/json_util.h"
#include "base/platform.h"
#include "base/util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLICY_DEPTH_MAX 16

/* Where in the file a message points: "transports.docker[\"quay.io\"][0]". */
struct policy_ctx {
  const char *path;
  lib_error *err;
};

VMPULL_PRINTF(2, 3) static int bad(const struct policy_ctx *c, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  return error_set(c->err, VMPULL_E_CONFIG, "policy %s: %s", c->path, what);
}

/* Every key of o must be one of allowed (a NULL-terminated list). */
static int only_fields(const struct policy_ctx *c, json_object *o, const char *where, const char *const *allowed) {
  json_object_object_foreach(o, key, val) {
    (void)val;
    int known = 0;
    for (size_t i = 0; allowed[i] && !known; i++)
      known = !strcmp(key, allowed[i]);
    if (!known)
      return bad(c, "%s: unknown field \"%.64s\"", where, key);
  }
  return 0;
}

static int want_string(const struct policy_ctx *c, json_object *o, const char *key, const char *where,
                       const char **out) {
  json_object *v;
  *out = NULL;
  if (!json_object_object_get_ex(o, key, &v))
    return 0;
  if (!json_object_is_type(v, json_type_string))
    return bad(c, "%s: \"%s\" is not a string", where, key);
  *out = json_object_get_string(v);
  return 1;
}

static int want_nonempty_string(const struct policy_ctx *c, json_object *o, const char *key, const char *where,
                                const char **out) {
  int r = want_string(c, o, key, where, out);
  if (r <= 0)
    return r < 0 ? r : bad(c, "%s: \"%s\" is missing", where, key);
  if (!**out)
    return bad(c, "%s: \"%s\" is empty", where, key);
  return 0;
}

/* Go's encoding/json reads a []byte as standard base64 with padding. */
static int base64_decode(const struct policy_ctx *c, const char *in, const char *where, struct policy_key *k) {
  size_t len = strlen(in);
  if (len == 0 || len % 4 != 0 || len > INT32_MAX)
    return bad(c, "%s: \"keyData\" is not base64", where);
  size_t pad = (in[len - 1] == '=') + (len > 1 && in[len - 2] == '=');
  k->data = malloc(len / 4 * 3 + 1);
  if (!k->data)
    return error_oom(c->err);
  int n = EVP_DecodeBlock(k->data, (const unsigned char *)in, (int)len);
  for (size_t i = 0; i < len - pad; i++)
    if (in[i] == '=')
      n = -1;
  if (n < 0 || (size_t)n < pad)
    return bad(c, "%s: \"keyData\" is not base64", where);
  k->data_len = (size_t)n - pad;
  return 0;
}

static int add_key(struct policy_req *q, struct policy_key **slot, lib_error *err) {
  struct policy_key *v = realloc(q->keys, (q->n_keys + 1) * sizeof(*v));
  if (!v)
    return error_oom(err);
  q->keys = v;
  *slot = &v[q->n_keys++];
  **slot = (struct policy_key){0};
  return 0;
}

static int key_path(const struct policy_ctx *c, struct policy_req *q, const char *path, const char *where) {
  struct policy_key *k = NULL;
  if (!*path)
    return bad(c, "%s: a key path is empty", where);
  int r = add_key(q, &k, c->err);
  if (r < 0)
    return r;
  return (k->path = strdup(path)) ? 0 : error_oom(c->err);
}

/* keyPath / keyPaths / keyData (/ keyDatas): *count says how many of those fields were present. */
static int parse_keys(const struct policy_ctx *c, json_object *o, const char *where, int datas, struct policy_req *q,
                      int *count) {
  const char *s;
  int r = want_string(c, o, "keyPath", where, &s);
  if (r < 0)
    return r;
  if (r > 0) {
    ++*count;
    if ((r = key_path(c, q, s, where)) < 0)
      return r;
  }
  static const char *const lists[] = {"keyPaths", "keyDatas"};
  for (size_t li = 0; li < (datas ? 2u : 1u); li++) {
    json_object *a;
    if (!json_object_object_get_ex(o, lists[li], &a))
      continue;
    ++*count;
    if (!json_object_is_type(a, json_type_array))
      return bad(c, "%s: \"%s\" is not a list", where, lists[li]);
    size_t n = json_object_array_length(a);
    if (n == 0)
      return bad(c, "%s: \"%s\" contains no entries", where, lists[li]);
    for (size_t i = 0; i < n; i++) {
      json_object *e = json_object_array_get_idx(a, i);
      if (!json_object_is_type(e, json_type_string))
        return bad(c, "%s: \"%s\"[%zu] is not a string", where, lists[li], i);
      if (li == 0)
        r = key_path(c, q, json_object_get_string(e), where);
      else {
        struct policy_key *k = NULL;
        r = add_key(q, &k, c->err);
        if (r == 0)
          r = base64_decode(c, json_object_get_string(e), where, k);
      }
      if (r < 0)
        return r;
    }
  }
  r = want_string(c, o, "keyData", where, &s);
  if (r < 0)
    return r;
  if (r > 0) {
    ++*count;
    struct policy_key *k = NULL;
    if ((r = add_key(q, &k, c->err)) < 0 || (r = base64_decode(c, s, where, k)) < 0)
      return r;
  }
  return 0;
}

/* A docker reference as policy.json may name one: what docker_ref_parse takes, without a scheme. */
static int plausible_reference(const char *s) {
  return *s && !strstr(s, "://") && strlen(s) < 512 && !strpbrk(s, " \t\r\n\\");
}

static int parse_identity(const struct policy_ctx *c, json_object *o, const char *where, struct policy_identity *id) {
  if (!json_object_is_type(o, json_type_object))
    return bad(c, "%s: \"signedIdentity\" is not an object", where);
  const char *type;
  int r = want_nonempty_string(c, o, "type", where, &type);
  if (r < 0)
    return r;
  static const struct {
    const char *name;
    enum policy_identity_type type;
    const char *field1, *field2;
  } kinds[] = {
      {"matchRepoDigestOrExact", POLICY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL},
      {"matchRepository", POLICY_MATCH_REPOSITORY, NULL, NULL},
      {"matchExact", POLICY_MATCH_EXACT, NULL, NULL},
      {"exactReference", POLICY_EXACT_REFERENCE, "dockerReference", NULL},
      {"exactRepository", POLICY_EXACT_REPOSITORY, "dockerRepository", NULL},
      {"remapIdentity", POLICY_REMAP_IDENTITY, "prefix", "signedPrefix"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
    if (strcmp(type, kinds[i].name) != 0)
      continue;
    const char *allowed[] = {"type", kinds[i].field1, kinds[i].field2, NULL};
    if ((r = only_fields(c, o, where, allowed)) < 0)
      return r;
    id->type = kinds[i].type;
    const char *f1 = NULL, *f2 = NULL;
    if (kinds[i].field1 && (r = want_nonempty_string(c, o, kinds[i].field1, where, &f1)) < 0)
      return r;
    if (kinds[i].field2 && (r = want_nonempty_string(c, o, kinds[i].field2, where, &f2)) < 0)
      return r;
    if ((f1 && !plausible_reference(f1)) || (f2 && !plausible_reference(f2)))
      return bad(c, "%s: %s names an invalid reference", where, type);
    if (id->type == POLICY_REMAP_IDENTITY) {
      id->prefix = strdup(f1);
      id->signed_prefix = strdup(f2);
      if (!id->prefix || !id->signed_prefix)
        return error_oom(c->err);
    } else if (f1 && !(id->reference = strdup(f1)))
      return error_oom(c->err);
    return 0;
  }
  return bad(c, "%s: unknown signedIdentity type \"%.64s\"", where, type);
}

static int parse_requirement(const struct policy_ctx *c, json_object *o, const char *where, struct policy_req *q) {
  if (!json_object_is_type(o, json_type_object))
    return bad(c, "%s: a requirement is not an object", where);
  const char *type;
  int r = want_nonempty_string(c, o, "type", where, &type);
  if (r < 0)
    return r;
  static const char *const plain[] = {"type", NULL};
  static const char *const signed_by[] = {"type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity", NULL};
  static const char *const sigstore[] = {"type",
                                         "keyPath",
                                         "keyPaths",
                                         "keyData",
                                         "keyDatas",
                                         "fulcio",
                                         "pki",
                                         "rekorPublicKeyPath",
                                         "rekorPublicKeyPaths",
                                         "rekorPublicKeyData",
                                         "rekorPublicKeyDatas",
                                         "signedIdentity",
                                         NULL};
  if (!strcmp(type, "insecureAcceptAnything") || !strcmp(type, "reject")) {
    q->type = !strcmp(type, "reject") ? POLICY_REJECT : POLICY_ACCEPT_ANYTHING;
    return only_fields(c, o, where, plain);
  }
  int count = 0;
  if (!strcmp(type, "signedBy")) {
    q->type = POLICY_SIGNED_BY;
    if ((r = only_fields(c, o, where, signed_by)) < 0)
      return r;
    const char *kt;
    if ((r = want_nonempty_string(c, o, "keyType", where, &kt)) < 0)
      return r;
    static const char *const key_types[] = {"GPGKeys", "signedByGPGKeys", "X509Certificates", "signedByX509CAs"};
    size_t i = 0;
    while (i < ARRAY_SIZE(key_types) && strcmp(kt, key_types[i]) != 0)
      i++;
    if (i == ARRAY_SIZE(key_types))
      return bad(c, "%s: unrecognized keyType \"%.64s\"", where, kt);
    q->key_type = (enum policy_key_type)i;
    if ((r = parse_keys(c, o, where, 0, q, &count)) < 0)
      return r;
    if (count != 1)
      return bad(c, "%s: exactly one of keyPath, keyPaths and keyData must be specified", where);
  } else if (!strcmp(type, "sigstoreSigned")) {
    q->type = POLICY_SIGSTORE_SIGNED;
    if ((r = only_fields(c, o, where, sigstore)) < 0)
      return r;
    if ((r = parse_keys(c, o, where, 1, q, &count)) < 0)
      return r;
    static const char *const keyless[] = {"fulcio", "pki"};
    for (size_t i = 0; i < ARRAY_SIZE(keyless); i++) {
      json_object *v;
      if (!json_object_object_get_ex(o, keyless[i], &v))
        continue;
      if (!json_object_is_type(v, json_type_object))
        return bad(c, "%s: \"%s\" is not an object", where, keyless[i]);
      count++;
      q->unsupported = keyless[i];
    }
    if (count != 1)
      return bad(c, "%s: exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified",
                 where);
    for (size_t i = 7; sigstore[i + 1]; i++)
      if (json_object_object_get_ex(o, sigstore[i], NULL) && !q->unsupported)
        q->unsupported = "rekor";
  } else {
    return bad(c, "%s: unknown policy requirement type \"%.64s\"", where, type);
  }
  json_object *id;
  if (json_object_object_get_ex(o, "signedIdentity", &id))
    return parse_identity(c, id, where, &q->identity);
  return 0;
}

static int parse_requirements(const struct policy_ctx *c, json_object *a, const char *where, struct policy_reqs *out) {
  if (!json_object_is_type(a, json_type_array))
    return bad(c, "%s is not a list of requirements", where);
  size_t n = json_object_array_length(a);
  if (n == 0)
    return bad(c, "%s: the list of requirements must not be empty", where);
  if (!(out->v = calloc(n, sizeof(*out->v))))
    return error_oom(c->err);
  for (size_t i = 0; i < n; i++) {
    out->n = i + 1;
    char at[300];
    snprintf(at, sizeof(at), "%s[%zu]", where, i);
    int r = parse_requirement(c, json_object_array_get_idx(a, i), at, &out->v[i]);
    if (r < 0)
      return r;
  }
  return 0;
}

/* Scopes of the oci and oci-archive transports are absolute, clean paths other than "/"
 * (containers/image's ValidateScope). */
static int path_scope_valid(const char *s) {
  if (s[0] != '/' || !strcmp(s, "/") || s[strlen(s) - 1] == '/' || strstr(s, "//") || strstr(s, "/./") ||
      strstr(s, "/../"))
    return 0;
  size_t n = strlen(s);
  return !(n >= 2 && !strcmp(s + n - 2, "/.")) && !(n >= 3 && !strcmp(s + n - 3, "/.."));
}

static int parse_transport(const struct policy_ctx *c, const char *name, json_object *o, struct policy_transport *t) {
  if (!(t->name = strdup(name)))
    return error_oom(c->err);
  if (!json_object_is_type(o, json_type_object))
    return bad(c, "transports.%.64s is not an object", name);
  size_t n = (size_t)json_object_object_length(o);
  if (n && !(t->scopes = calloc(n, sizeof(*t->scopes))))
    return error_oom(c->err);
  int path_scopes = !strcmp(name, "oci") || !strcmp(name, "oci-archive");
  json_object_object_foreach(o, scope, reqs) {
    char where[300];
    snprintf(where, sizeof(where), "transports.%.64s[\"%.200s\"]", name, scope);
    if (*scope && path_scopes && !path_scope_valid(scope))
      return bad(c, "%s: not an absolute clean path", where);
    if (*scope && !strcmp(name, "docker") && !plausible_reference(scope))
      return bad(c, "%s: not a docker scope", where);
    struct policy_scope *sc = &t->scopes[t->n_scopes++];
    if (!(sc->name = strdup(scope)))
      return error_oom(c->err);
    int r = parse_requirements(c, reqs, where, &sc->reqs);
    if (r < 0)
      return r;
  }
  return 0;
}

static int parse_policy(const char *buf, size_t len, const char *path, struct policy *out, lib_error *err) {
  struct policy_ctx c = {.path = path, .err = err};
  if (!(out->path = strdup(path)))
    return error_oom(err);
  struct json_parse_limits lim = {.max_len = POLICY_FILE_MAX, .max_depth = POLICY_DEPTH_MAX};
  _cleanup_json_ json_object *root = NULL;
  const char *why = NULL;
  int r = json_parse_or_why(buf, len, &lim, &root, &why, err);
  if (r != 0)
    return r < 0 ? r : bad(&c, "not valid JSON (%s)", why);
  _cleanup_free_ char *dup = NULL;
  if ((r = json_duplicate_key(buf, len, &dup)) != 0)
    return r < 0 ? error_oom(err) : bad(&c, "duplicate key \"%.64s\"", dup);
  if (!json_object_is_type(root, json_type_object))
    return bad(&c, "not a JSON object");
  static const char *const top[] = {"default", "transports", NULL};
  r = only_fields(&c, root, "the top level", top);
  if (r < 0)
    return r;
  json_object *dflt, *transports;
  if (!json_object_object_get_ex(root, "default", &dflt))
    return bad(&c, "the default policy is missing");
  if ((r = parse_requirements(&c, dflt, "default", &out->dflt)) < 0)
    return r;
  if (!json_object_object_get_ex(root, "transports", &transports) || json_object_is_type(transports, json_type_null))
    return 0;
  if (!json_object_is_type(transports, json_type_object))
    return bad(&c, "\"transports\" is not an object");
  size_t n = (size_t)json_object_object_length(transports);
  if (n && !(out->transports = calloc(n, sizeof(*out->transports))))
    return error_oom(err);
  json_object_object_foreach(transports, name, scopes) {
    r = parse_transport(&c, name, scopes, &out->transports[out->n_transports++]);
    if (r < 0)
      return r;
  }
  return 0;
}

int policy_parse(const char *buf, size_t len, const char *path, struct policy *out, lib_error *err) {
  *out = (struct policy){0};
  int r = parse_policy(buf, len, path, out, err);
  if (r < 0)
    policy_clear(out);
  return r;
}

static int policy_read(const char *path, struct policy *out, lib_error *err) {
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  int r = read_file_or_fail(path, POLICY_FILE_MAX, "policy", &buf, &len, err);
  if (r < 0)
    return r;
  return policy_parse(buf, len, path, out, err);
}

int policy_load(const char *path, struct policy *out, lib_error *err) {
  *out = (struct policy){0};
  if (path) {
    int r = policy_read(path, out, err);
    return r < 0 ? r : 1;
  }
  const char *home = plat_home_dir();
  _cleanup_free_ char *user = home && *home ? xasprintf("%s/.config/containers/policy.json", home) : NULL;
  const char *candidates[] = {user, "/etc/containers/policy.json"};
  for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
    if (!candidates[i] || access(candidates[i], F_OK) < 0)
      continue;
    int r = policy_read(candidates[i], out, err);
    return r < 0 ? r : 1;
  }
  return 0;
}

static void reqs_clear(struct policy_reqs *rs) {
  for (size_t i = 0; i < rs->n; i++) {
    struct policy_req *q = &rs->v[i];
    for (size_t k = 0; k < q->n_keys; k++) {
      free(q->keys[k].path);
      free(q->keys[k].data);
    }
    free(q->keys);
    free(q->identity.reference);
    free(q->identity.prefix);
    free(q->identity.signed_prefix);
  }
  free(rs->v);
  *rs = (struct policy_reqs){0};
}

void policy_clear(struct policy *p) {
  reqs_clear(&p->dflt);
  for (size_t i = 0; i < p->n_transports; i++) {
    struct policy_transport *t = &p->transports[i];
    for (size_t s = 0; s < t->n_scopes; s++) {
      free(t->scopes[s].name);
      reqs_clear(&t->scopes[s].reqs);
    }
    free(t->scopes);
    free(t->name);
  }
  free(p->transports);
  free(p->path);
  *p = (struct policy){0};
}

static const struct policy_scope *scope_named(const struct policy_transport *t, const char *name) {
  for (size_t i = 0; i < t->n_scopes; i++)
    if (!strcmp(t->scopes[i].name, name))
      return &t->scopes[i];
  return NULL;
}

const struct policy_reqs *policy_requirements_for(const struct policy *p, const char *transport, const char *identity,
                                                  const char *const *namespaces, size_t n_namespaces,
                                                  const char **scope_kind, const char **scope_name) {
  for (size_t i = 0; i < p->n_transports; i++) {
    const struct policy_transport *t = &p->transports[i];
    if (strcmp(t->name, transport) != 0)
      continue;
    const struct policy_scope *sc = identity ? scope_named(t, identity) : NULL;
    for (size_t k = 0; !sc && k < n_namespaces; k++)
      sc = scope_named(t, namespaces[k]);
    if (!sc)
      sc = scope_named(t, "");
    if (sc) {
      *scope_kind = t->name;
      *scope_name = sc->name;
      return &sc->reqs;
    }
  }
  *scope_kind = "default";
  *scope_name = NULL;
  return &p->dflt;
}

const char *policy_req_type_name(enum policy_req_type t) {
  switch (t) {
  case POLICY_ACCEPT_ANYTHING: return "insecureAcceptAnything";
  case POLICY_REJECT: return "reject";
  case POLICY_SIGNED_BY: return "signedBy";
  case POLICY_SIGSTORE_SIGNED: return "sigstoreSigned";
  }
  return "?";
}
