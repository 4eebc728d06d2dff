/* SPDX-License-Identifier: Apache-2.0 */
/* Signed claims and identities, as containers/image compares them (policy_match.h). */
#include "oci/policy_match.h"

#include "base/json_util.h"
#include "base/util.h"
#include "oci/oci_digest.h"
#include "oci/oci_ref.h"

#include <stdlib.h>
#include <string.h>

#define DOCKER_NAME_MAX 1024

int docker_name_parse(const char *s, struct docker_name *out) {
  *out = (struct docker_name){0};
  if (!s || !*s || strlen(s) > DOCKER_NAME_MAX)
    return -1;
  lib_error ignored;
  _cleanup_(docker_ref_clear) struct docker_ref r = {0};
  if (docker_ref_parse(s, &r, &ignored) < 0)
    return -1;
  /* docker_ref_parse reads a missing tag as "latest"; here a name alone stays one. */
  const char *at = strchr(s, '@');
  size_t name_len = at ? (size_t)(at - s) : strlen(s);
  const char *last = s;
  for (const char *p = s; p < s + name_len; p++)
    if (*p == '/')
      last = p + 1;
  const char *colon = memchr(last, ':', (size_t)(s + name_len - last));
  out->name = xasprintf("%s/%s", r.registry, r.repository);
  if (colon)
    out->tag = strndup(colon + 1, (size_t)(s + name_len - colon - 1));
  if (at)
    out->digest = strdup(at + 1);
  if (!out->name || (colon && !out->tag) || (at && !out->digest)) {
    docker_name_clear(out);
    return -1;
  }
  return 0;
}

char *docker_name_string(const struct docker_name *n) {
  return xasprintf("%s%s%s%s%s", n->name, n->tag ? ":" : "", n->tag ? n->tag : "", n->digest ? "@" : "",
                   n->digest ? n->digest : "");
}

void docker_name_clear(struct docker_name *n) {
  free(n->name);
  free(n->tag);
  free(n->digest);
  *n = (struct docker_name){0};
}

void strv_free(char **v) {
  if (!v)
    return;
  for (char **p = v; *p; p++)
    free(*p);
  free(v);
}

static int strv_add(char ***v, size_t *n, char *s) {
  if (!s)
    return -1;
  char **nv = realloc(*v, (*n + 2) * sizeof(*nv));
  if (!nv) {
    free(s);
    return -1;
  }
  nv[(*n)++] = s;
  nv[*n] = NULL;
  *v = nv;
  return 0;
}

int docker_namespaces(const char *name, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  _cleanup_free_ char *cur = strdup(name);
  if (!cur)
    return -1;
  for (;;) {
    if (strv_add(out, n, strdup(cur)) < 0)
      return -1;
    char *slash = strrchr(cur, '/');
    if (!slash)
      break;
    *slash = '\0';
  }
  char *port = strchr(cur, ':');
  if (port)
    *port = '\0';
  for (const char *dot = strchr(cur, '.'); dot; dot = strchr(dot + 1, '.'))
    if (strv_add(out, n, xasprintf("*.%s", dot + 1)) < 0)
      return -1;
  return 0;
}

int path_namespaces(const char *path, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  _cleanup_free_ char *cur = strdup(path);
  if (!cur)
    return -1;
  for (;;) {
    char *slash = strrchr(cur, '/');
    if (!slash || !strcmp(cur, "/"))
      break;
    if (strv_add(out, n, strdup(cur)) < 0)
      return -1;
    *slash = '\0';
  }
  return 0;
}

/* o must be an object with exactly the keys named (each present). */
static int exact_fields(json_object *o, const char *const *keys, size_t n) {
  if (!json_object_is_type(o, json_type_object) || (size_t)json_object_object_length(o) != n)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!json_object_object_get_ex(o, keys[i], NULL))
      return 0;
  return 1;
}

static int claims_bad(lib_error *err, const char *what) {
  return error_set(err, VMPULL_E_SIGNATURE, "invalid signature payload: %s", what);
}

/* A double that is a whole number an int64_t holds. The range comes first: converting an
 * out-of-range double (1644.19e39, found by fuzz_policy_json) to an integer is undefined. */
static int integral_double(double d) {
  return d >= -9223372036854775808.0 && d < 9223372036854775808.0 && (double)(int64_t)d == d;
}

int sig_claims_parse(const char *buf, size_t len, int sigstore, struct sig_claims *out, lib_error *err) {
  *out = (struct sig_claims){0};
  struct json_parse_limits lim = {.max_len = 4u << 20, .max_depth = 16};
  _cleanup_json_ json_object *root = NULL;
  const char *why = NULL;
  int r = json_parse_or_why(buf, len, &lim, &root, &why, err);
  if (r != 0)
    return r < 0 ? r : claims_bad(err, why);
  _cleanup_free_ char *dup = NULL;
  if ((r = json_duplicate_key(buf, len, &dup)) != 0)
    return r < 0 ? error_oom(err)
                 : error_set(err, VMPULL_E_SIGNATURE, "invalid signature payload: duplicate key \"%.64s\"", dup);
  static const char *const top[] = {"critical", "optional"}, *const crit[] = {"type", "image", "identity"};
  static const char *const image[] = {"docker-manifest-digest"}, *const ident[] = {"docker-reference"};
  if (!exact_fields(root, top, 2))
    return claims_bad(err, "not exactly {critical, optional}");
  json_object *optional = json_member(root, "optional"), *critical = json_member(root, "critical");
  if (!json_object_is_type(optional, json_type_object) && !(sigstore && !optional))
    return claims_bad(err, "optional is not an object");
  json_object *ts = json_member(optional, "timestamp");
  if (ts && !json_object_is_type(ts, json_type_int) &&
      !(json_object_is_type(ts, json_type_double) && integral_double(json_object_get_double(ts))))
    return claims_bad(err, "optional.timestamp is not an integer");
  if (json_member(optional, "creator") && !json_member_string(optional, "creator"))
    return claims_bad(err, "optional.creator is not a string");
  if (!exact_fields(critical, crit, 3))
    return claims_bad(err, "critical is not exactly {type, image, identity}");
  const char *type = json_member_string(critical, "type");
  const char *want = sigstore ? "cosign container image signature" : "atomic container signature";
  if (!type || strcmp(type, want) != 0)
    return claims_bad(err, "unrecognized signature type");
  json_object *im = json_member(critical, "image"), *id = json_member(critical, "identity");
  if (!exact_fields(im, image, 1) || !exact_fields(id, ident, 1))
    return claims_bad(err, "critical.image or critical.identity is malformed");
  const char *digest = json_member_string(im, "docker-manifest-digest");
  const char *ref = json_member_string(id, "docker-reference");
  if (!digest || !oci_digest_valid(digest))
    return claims_bad(err, "docker-manifest-digest is not a valid digest");
  if (!ref)
    return claims_bad(err, "docker-reference is not a string");
  out->manifest_digest = strdup(digest);
  out->docker_reference = strdup(ref);
  if (!out->manifest_digest || !out->docker_reference) {
    sig_claims_clear(out);
    return error_oom(err);
  }
  return 0;
}

void sig_claims_clear(struct sig_claims *c) {
  free(c->manifest_digest);
  free(c->docker_reference);
  *c = (struct sig_claims){0};
}

static int same_string(const struct docker_name *a, const struct docker_name *b) {
  _cleanup_free_ char *sa = docker_name_string(a), *sb = docker_name_string(b);
  return sa && sb && !strcmp(sa, sb);
}

static int name_only(const struct docker_name *n) {
  return !n->tag && !n->digest;
}

/* matchRepoDigestOrExactReferenceValues */
static int repo_digest_or_exact(const struct docker_name *intended, const struct docker_name *sig) {
  if (name_only(sig))
    return 0;
  if (intended->tag)
    return same_string(intended, sig);
  if (intended->digest)
    return !strcmp(intended->name, sig->name);
  return 0;
}

/* remapIdentity: intended with prefix replaced by signed_prefix, when its name starts with prefix
 * as a whole path component. */
static int remap(const struct policy_identity *id, const struct docker_name *intended, struct docker_name *out) {
  size_t pl = strlen(id->prefix);
  const char *name = intended->name;
  int matches = !strncmp(name, id->prefix, pl) && (name[pl] == '\0' || name[pl] == '/');
  _cleanup_free_ char *full = docker_name_string(intended);
  if (!full)
    return -1;
  _cleanup_free_ char *mapped = matches ? xasprintf("%s%s", id->signed_prefix, full + pl) : strdup(full);
  return mapped ? docker_name_parse(mapped, out) : -1;
}

int policy_identity_matches(const struct policy_identity *id, const struct docker_name *intended,
                            const char *signed_ref) {
  _cleanup_(docker_name_clear) struct docker_name sig = {0}, want = {0};
  if (docker_name_parse(signed_ref, &sig) < 0)
    return 0;
  switch (id->type) {
  case POLICY_EXACT_REFERENCE:
    if (docker_name_parse(id->reference, &want) < 0 || name_only(&want) || name_only(&sig))
      return 0;
    return same_string(&want, &sig);
  case POLICY_EXACT_REPOSITORY:
    if (docker_name_parse(id->reference, &want) < 0)
      return 0;
    return !strcmp(want.name, sig.name);
  default: break;
  }
  /* The others compare with the image's own reference, which a layout does not have. */
  if (!intended)
    return 0;
  switch (id->type) {
  case POLICY_MATCH_EXACT: return !name_only(intended) && !name_only(&sig) && same_string(intended, &sig);
  case POLICY_MATCH_REPOSITORY: return !strcmp(intended->name, sig.name);
  case POLICY_REMAP_IDENTITY:
    if (remap(id, intended, &want) < 0)
      return 0;
    return repo_digest_or_exact(&want, &sig);
  default: return repo_digest_or_exact(intended, &sig);
  }
}
