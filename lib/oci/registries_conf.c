/* SPDX-License-Identifier: Apache-2.0 */
/* registries.conf: the typed rules from the TOML tree (base/toml_read.h), checked as
 * containers/image's postProcessRegistries checks them, merged as its updateWithConfigurationFrom
 * merges drop-ins. Where the two could differ, pkg/sysregistriesv2 is the reference. */
#include "oci/registries_conf.h"

#include "base/toml_read.h"
#include "base/util.h"
#include "oci/oci_ref.h"

#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>

#define AUTH_FILES_HELPER "containers-auth.json"

static void endpoint_clear(struct regconf_endpoint *e) {
  free(e->location);
}

static void registry_clear(struct regconf_registry *r) {
  free(r->prefix);
  free(r->location);
  for (size_t i = 0; i < r->n_mirrors; i++)
    endpoint_clear(&r->mirrors[i]);
  free(r->mirrors);
  free(r->origin);
  *r = (struct regconf_registry){0};
}

static void strings_free(char **s, size_t n) {
  for (size_t i = 0; s && i < n; i++)
    free(s[i]);
  free(s);
}

static void alias_clear(struct regconf_alias *a) {
  free(a->name);
  free(a->value);
  free(a->origin);
}

void registries_conf_clear(struct registries_conf *c) {
  for (size_t i = 0; i < c->n_registries; i++)
    registry_clear(&c->registries[i]);
  free(c->registries);
  strings_free(c->search, c->n_search);
  free(c->search_origin);
  strings_free(c->credential_helpers, c->n_credential_helpers);
  for (size_t i = 0; i < c->n_aliases; i++)
    alias_clear(&c->aliases[i]);
  free(c->aliases);
  free(c->sources);
  *c = (struct registries_conf){0};
}

/* --- reading the tree --- */

static int bad(lib_error *err, const char *path, const struct toml_value *v, const char *fmt, ...) VMPULL_PRINTF(4, 5);
static int bad(lib_error *err, const char *path, const struct toml_value *v, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  if (v && v->line)
    return error_set(err, VMPULL_E_CONFIG, "%s:%u:%u: %s", path, v->line, v->column, what);
  return error_set(err, VMPULL_E_CONFIG, "%s: %s", path, what);
}

/* member key of t as a string (NULL when absent). */
static int get_string(const struct toml_value *t, const char *key, const char *path, const char **out, lib_error *err) {
  const struct toml_value *v = toml_table_get(t, key);
  *out = NULL;
  if (!v)
    return 0;
  if (v->kind != TOML_STRING || strlen(v->text) != v->text_len)
    return bad(err, path, v, "'%s' must be a string, not %s", key,
               v->kind == TOML_STRING ? "one with a NUL" : toml_kind_name(v->kind));
  *out = v->text;
  return 0;
}

static int get_bool(const struct toml_value *t, const char *key, const char *path, int *out, lib_error *err) {
  const struct toml_value *v = toml_table_get(t, key);
  *out = 0;
  if (!v)
    return 0;
  if (v->kind != TOML_BOOLEAN)
    return bad(err, path, v, "'%s' must be true or false, not %s", key, toml_kind_name(v->kind));
  *out = v->boolean;
  return 0;
}

/* An array of strings: *set tells an empty array from none (a drop-in's [] empties the list). */
static int get_strings(const struct toml_value *t, const char *key, const char *path, char ***out, size_t *n, int *set,
                       lib_error *err) {
  const struct toml_value *v = toml_table_get(t, key);
  if (!v)
    return 0;
  if (v->kind != TOML_ARRAY)
    return bad(err, path, v, "'%s' must be an array of strings, not %s", key, toml_kind_name(v->kind));
  char **s = calloc(v->n_items + 1, sizeof(*s));
  if (!s)
    return error_oom(err);
  for (size_t i = 0; i < v->n_items; i++) {
    const struct toml_value *e = &v->items[i];
    if (e->kind != TOML_STRING || strlen(e->text) != e->text_len) {
      strings_free(s, i);
      return bad(err, path, e, "'%s' must be an array of strings", key);
    }
    s[i] = strdup(e->text);
    if (!s[i]) {
      strings_free(s, i);
      return error_oom(err);
    }
  }
  *out = s;
  *n = v->n_items;
  *set = 1;
  return 0;
}

/* parseLocation: no trailing '/', no URL scheme. */
static int location_dup(const char *in, const char *path, const struct toml_value *at, char **out, lib_error *err) {
  size_t len = strlen(in);
  while (len && in[len - 1] == '/')
    len--;
  if (!strncmp(in, "http://", 7) || !strncmp(in, "https://", 8))
    return bad(err, path, at, "invalid location '%.200s': URI schemes are not supported", in);
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)in[i] <= 0x20 || in[i] == 0x7f)
      return bad(err, path, at, "invalid location '%.200s': unexpected character", in);
  *out = strndup(in, len);
  return *out ? 0 : error_oom(err);
}

static int pull_from_parse(const char *s, const char *path, const struct toml_value *at, enum pull_from_mirror *out,
                           lib_error *err) {
  if (!s || !*s || !strcmp(s, "all"))
    *out = PULL_FROM_MIRROR_ALL;
  else if (!strcmp(s, "digest-only"))
    *out = PULL_FROM_MIRROR_DIGEST_ONLY;
  else if (!strcmp(s, "tag-only"))
    *out = PULL_FROM_MIRROR_TAG_ONLY;
  else
    return bad(err, path, at, "unsupported pull-from-mirror value \"%.100s\" (all, digest-only, tag-only)", s);
  return 0;
}

static int mirror_read(const struct toml_value *t, const struct regconf_registry *reg, const char *path,
                       struct regconf_endpoint *m, lib_error *err) {
  if (t->kind != TOML_TABLE)
    return bad(err, path, t, "[[registry.mirror]] must be a table, not %s", toml_kind_name(t->kind));
  const char *location = NULL, *pull_from = NULL;
  int r = get_string(t, "location", path, &location, err);
  if (r == 0)
    r = get_bool(t, "insecure", path, &m->insecure, err);
  if (r == 0)
    r = get_string(t, "pull-from-mirror", path, &pull_from, err);
  if (r < 0)
    return r;
  r = location_dup(location ? location : "", path, t, &m->location, err);
  if (r < 0)
    return r;
  if (!*m->location)
    return bad(err, path, t, "invalid condition: mirror location is unset");
  if (reg->mirror_by_digest_only && pull_from && *pull_from)
    return bad(err, path, t,
               "cannot set mirror usage mirror-by-digest-only for the registry (\"%s\") and pull-from-mirror for "
               "per-mirror (\"%s\") at the same time",
               reg->prefix, m->location);
  return pull_from_parse(pull_from, path, toml_table_get(t, "pull-from-mirror"), &m->pull_from, err);
}

static int registry_read(const struct toml_value *t, const char *path, struct regconf_registry *reg, lib_error *err) {
  if (t->kind != TOML_TABLE)
    return bad(err, path, t, "[[registry]] must be a table, not %s", toml_kind_name(t->kind));
  const char *prefix = NULL, *location = NULL, *pull_from = NULL;
  int r = get_string(t, "prefix", path, &prefix, err);
  if (r == 0)
    r = get_string(t, "location", path, &location, err);
  if (r == 0)
    r = get_bool(t, "insecure", path, &reg->insecure, err);
  if (r == 0)
    r = get_bool(t, "blocked", path, &reg->blocked, err);
  if (r == 0)
    r = get_bool(t, "mirror-by-digest-only", path, &reg->mirror_by_digest_only, err);
  if (r == 0)
    r = get_string(t, "pull-from-mirror", path, &pull_from, err);
  if (r == 0)
    r = location_dup(location ? location : "", path, t, &reg->location, err);
  if (r < 0)
    return r;
  if (!prefix || !*prefix) {
    if (!*reg->location)
      return bad(err, path, t, "invalid condition: both location and prefix are unset");
    reg->prefix = strdup(reg->location);
    if (!reg->prefix)
      return error_oom(err);
  } else {
    r = location_dup(prefix, path, t, &reg->prefix, err);
    if (r < 0)
      return r;
    if (strncmp(reg->prefix, "*.", 2) != 0 && !*reg->location)
      return bad(err, path, t, "invalid condition: location is unset and prefix is not in the format: *.example.com");
  }
  if (!strncmp(reg->prefix, "*.", 2) && strpbrk(reg->prefix, "/@:"))
    return bad(err, path, t,
               "Wildcarded prefix should be in the format: *.example.com. Current prefix \"%s\" is incorrectly "
               "formatted",
               reg->prefix);
  if (pull_from && *pull_from)
    return bad(err, path, t, "pull-from-mirror must not be set for a non-mirror registry \"%s\"", reg->prefix);
  reg->origin = strdup(path);
  if (!reg->origin)
    return error_oom(err);
  const struct toml_value *mirrors = toml_table_get(t, "mirror");
  if (!mirrors)
    return 0;
  if (mirrors->kind != TOML_ARRAY)
    return bad(err, path, mirrors, "'mirror' must be an array of tables ([[registry.mirror]])");
  reg->mirrors = calloc(mirrors->n_items + 1, sizeof(*reg->mirrors));
  if (!reg->mirrors)
    return error_oom(err);
  for (size_t i = 0; i < mirrors->n_items; i++) {
    reg->n_mirrors++;
    r = mirror_read(&mirrors->items[i], reg, path, &reg->mirrors[i], err);
    if (r < 0)
      return r;
  }
  return 0;
}

/* A registry host[:port] as unqualified-search-registries takes it (reference.DomainRegexp). */
static int domain_valid(const char *s) {
  if (!*s)
    return 0;
  if (*s == '[') {
    const char *end = strchr(s, ']');
    if (!end)
      return 0;
    s = end + 1;
  } else {
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
    if (n == 0)
      return 0;
    s += n;
  }
  if (*s == ':')
    return s[1] && strspn(s + 1, "0123456789") == strlen(s + 1);
  return *s == '\0';
}

static int registry_key_cmp(const void *a, const void *b) {
  return strcmp(((const struct regconf_registry *)a)->prefix, ((const struct regconf_registry *)b)->prefix);
}

/* The same host (location, or prefix without one) must not be both insecure and not, blocked and
 * not; then each prefix once (the first wins), sorted. */
static int registries_settle(struct registries_conf *c, const char *path, lib_error *err) {
  for (size_t i = 0; i < c->n_registries; i++) {
    const struct regconf_registry *a = &c->registries[i];
    const char *ka = *a->location ? a->location : a->prefix;
    for (size_t j = 0; j < i; j++) {
      const struct regconf_registry *b = &c->registries[j];
      if (strcmp(ka, *b->location ? b->location : b->prefix) != 0)
        continue;
      if (a->insecure != b->insecure || a->blocked != b->blocked)
        return error_set(err, VMPULL_E_CONFIG,
                         "%s: registry '%s' is defined multiple times with conflicting '%s' setting", path, a->location,
                         a->insecure != b->insecure ? "insecure" : "blocked");
    }
  }
  size_t kept = 0;
  for (size_t i = 0; i < c->n_registries; i++) {
    int seen = 0;
    for (size_t j = 0; j < kept && !seen; j++)
      seen = !strcmp(c->registries[j].prefix, c->registries[i].prefix);
    if (seen)
      registry_clear(&c->registries[i]);
    else
      c->registries[kept++] = c->registries[i];
  }
  c->n_registries = kept;
  if (kept)
    qsort(c->registries, kept, sizeof(*c->registries), registry_key_cmp);
  return 0;
}

/* Version 1: [registries.search], [registries.insecure], [registries.block], each a `registries`
 * list, as registries of their own (ConvertToV2). */
static int v1_convert(const struct toml_value *v1, const char *path, struct registries_conf *out, lib_error *err) {
  static const char *const lists[] = {"block", "insecure"};
  _cleanup_free_ char **names = NULL;
  for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
    const struct toml_value *t = toml_table_get(v1, lists[l]);
    char **hosts = NULL;
    size_t n = 0;
    int set = 0;
    int r = t ? get_strings(t, "registries", path, &hosts, &n, &set, err) : 0;
    if (r < 0)
      return r;
    for (size_t i = 0; i < n; i++) {
      _cleanup_free_ char *loc = NULL;
      r = location_dup(hosts[i], path, t, &loc, err);
      if (r < 0) {
        strings_free(hosts, n);
        return r;
      }
      struct regconf_registry *reg = NULL;
      for (size_t k = 0; k < out->n_registries && !reg; k++)
        if (!strcmp(out->registries[k].location, loc))
          reg = &out->registries[k];
      if (!reg) {
        struct regconf_registry *grown = realloc(out->registries, (out->n_registries + 1) * sizeof(*grown));
        if (!grown) {
          strings_free(hosts, n);
          return error_oom(err);
        }
        out->registries = grown;
        reg = &grown[out->n_registries++];
        *reg = (struct regconf_registry){.location = TAKE_PTR(loc)};
        reg->prefix = strdup(reg->location);
        reg->origin = strdup(path);
        if (!reg->prefix || !reg->origin) {
          strings_free(hosts, n);
          return error_oom(err);
        }
      }
      if (l == 0)
        reg->blocked = 1;
      else
        reg->insecure = 1;
    }
    strings_free(hosts, n);
  }
  const struct toml_value *search = toml_table_get(v1, "search");
  return search ? get_strings(search, "registries", path, &out->search, &out->n_search, &out->search_set, err) : 0;
}

/* containers/image's validateShortName (value 0: the alias's name) or parseShortNameValue (value 1:
 * what it stands for) on s: 0 and *why NULL when it passes, 0 and *why the reason when it does
 * not, or -VMPULL_E_IO when out of memory. Both read s as reference.Parse does: a first component with a '.'
 * or a ':', or "localhost", is a registry. */
static int alias_side_check(const char *s, int value, const char **why, lib_error *err) {
  *why = NULL;
  lib_error parse_err = {0};
  _cleanup_(docker_ref_clear) struct docker_ref r = {0};
  if (docker_ref_parse(s, &r, &parse_err) < 0) {
    if (parse_err.code == VMPULL_E_IO)
      return error_oom(err);
    *why = "not a valid reference";
    return 0;
  }
  const char *last = strrchr(s, '/');
  const char *first = strchr(s, '/');
  size_t n = first ? (size_t)(first - s) : 0;
  int registry = first && (memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && !strncmp(s, "localhost", 9)));
  if (strchr(s, '@'))
    *why = "must not contain digest";
  else if (strchr(last ? last : s, ':'))
    *why = "must not contain tag";
  else if (value && !registry)
    *why = "must contain registry and repository";
  else if (!value && registry)
    *why = "must not contain registry";
  return 0;
}

/* An alias whose name is no short name, or whose value is no registry/repository (an empty value
 * takes an earlier alias back), is an error, as containers/image refuses the file for it. */
static int alias_check(const struct toml_value *v, const char *path, lib_error *err) {
  const char *why;
  int r = alias_side_check(v->key, 0, &why, err);
  if (r < 0)
    return r;
  if (why)
    return bad(err, path, v, "invalid short name \"%.100s\": %s", v->key, why);
  if (!*v->text)
    return 0;
  if ((r = alias_side_check(v->text, 1, &why, err)) < 0)
    return r;
  if (why)
    return bad(err, path, v, "alias \"%.100s\": invalid value \"%.200s\": %s", v->key, v->text, why);
  return 0;
}

static int aliases_read(const struct toml_value *t, const char *path, struct registries_conf *out, lib_error *err) {
  if (t->kind != TOML_TABLE)
    return bad(err, path, t, "'aliases' must be a table, not %s", toml_kind_name(t->kind));
  out->aliases = calloc(t->n_items + 1, sizeof(*out->aliases));
  if (!out->aliases)
    return error_oom(err);
  for (size_t i = 0; i < t->n_items; i++) {
    const struct toml_value *v = &t->items[i];
    if (v->kind != TOML_STRING || strlen(v->text) != v->text_len)
      return bad(err, path, v, "alias \"%.100s\" must be a string", v->key);
    int r = alias_check(v, path, err);
    if (r < 0)
      return r;
    struct regconf_alias *a = &out->aliases[out->n_aliases++];
    a->name = strdup(v->key);
    a->value = strdup(v->text);
    a->origin = strdup(path);
    if (!a->name || !a->value || !a->origin)
      return error_oom(err);
  }
  return 0;
}

static int conf_read(const struct toml_value *root, const char *path, int drop_in, struct registries_conf *out,
                     lib_error *err) {
  const struct toml_value *v1 = toml_table_get(root, "registries");
  const struct toml_value *regs = toml_table_get(root, "registry");
  static const char *const v2_keys[] = {
      "registry", "unqualified-search-registries",     "credential-helpers", "short-name-mode",
      "aliases",  "additional-layer-store-auth-helper"};
  if (v1 && v1->kind == TOML_TABLE && v1->n_items) {
    if (drop_in)
      return bad(err, path, v1, "registry must be in v2 format but is in v1");
    for (size_t i = 0; i < ARRAY_SIZE(v2_keys); i++)
      if (toml_table_get(root, v2_keys[i]))
        return bad(err, path, v1, "mixing sysregistry v1/v2 is not supported");
    return v1_convert(v1, path, out, err);
  }
  if (regs) {
    if (regs->kind != TOML_ARRAY)
      return bad(err, path, regs, "'registry' must be an array of tables ([[registry]])");
    out->registries = calloc(regs->n_items + 1, sizeof(*out->registries));
    if (!out->registries)
      return error_oom(err);
    for (size_t i = 0; i < regs->n_items; i++) {
      out->n_registries++;
      int r = registry_read(&regs->items[i], path, &out->registries[i], err);
      if (r < 0)
        return r;
    }
  }
  int r = get_strings(root, "unqualified-search-registries", path, &out->search, &out->n_search, &out->search_set, err);
  if (r < 0)
    return r;
  for (size_t i = 0; i < out->n_search; i++) {
    size_t len = strlen(out->search[i]);
    while (len && out->search[i][len - 1] == '/')
      out->search[i][--len] = '\0';
    if (!domain_valid(out->search[i]))
      return bad(err, path, toml_table_get(root, "unqualified-search-registries"),
                 "Invalid unqualified-search-registries entry \"%.200s\"", out->search[i]);
  }
  r = get_strings(root, "credential-helpers", path, &out->credential_helpers, &out->n_credential_helpers,
                  &out->credential_helpers_set, err);
  if (r < 0)
    return r;
  const char *mode;
  r = get_string(root, "short-name-mode", path, &mode, err);
  if (r < 0)
    return r;
  if (mode && *mode && strcmp(mode, "disabled") && strcmp(mode, "enforcing") && strcmp(mode, "permissive"))
    return bad(err, path, toml_table_get(root, "short-name-mode"), "invalid short-name mode: \"%.100s\"", mode);
  const struct toml_value *aliases = toml_table_get(root, "aliases");
  return aliases ? aliases_read(aliases, path, out, err) : 0;
}

int registries_conf_parse(const char *buf, size_t len, const char *path, int drop_in, struct registries_conf *out,
                          lib_error *err) {
  *out = (struct registries_conf){0};
  struct toml_value root;
  int r = toml_read(buf, len, path, &root, err);
  if (r < 0)
    return r;
  r = conf_read(&root, path, drop_in, out, err);
  toml_value_clear(&root);
  if (r == 0)
    r = registries_settle(out, path, err);
  if (r == 0 && out->search_set && !(out->search_origin = strdup(path)))
    r = error_oom(err);
  if (r < 0)
    registries_conf_clear(out);
  return r;
}

/* --- using the rules --- */

/* refMatchingPrefix: the length of prefix when it covers name up to a '/', ':' or '@' (or
 * a "*.example.com" prefix matches name's host), else -1. */
static long prefix_match(const char *name, const char *prefix) {
  size_t plen = strlen(prefix);
  if (!strncmp(prefix, "*.", 2)) {
    const char *at = strstr(name, prefix + 1);
    if (!at || memchr(name, '/', (size_t)(at - name)))
      return -1;
    size_t end = (size_t)(at - name) + plen - 1;
    return !name[end] || strchr(":/@", name[end]) ? (long)end : -1;
  }
  if (strncmp(name, prefix, plen) != 0)
    return -1;
  return !name[plen] || strchr(":/@", name[plen]) ? (long)plen : -1;
}

const struct regconf_registry *registries_conf_find(const struct registries_conf *c, const char *name) {
  const struct regconf_registry *best = NULL;
  size_t best_len = 0;
  for (size_t i = 0; c && i < c->n_registries; i++) {
    size_t plen = strlen(c->registries[i].prefix);
    if (prefix_match(name, c->registries[i].prefix) >= 0 && plen > best_len) {
      best = &c->registries[i];
      best_len = plen;
    }
  }
  return best;
}

void regconf_sources_free(struct regconf_source *s, size_t n) {
  for (size_t i = 0; s && i < n; i++)
    free(s[i].name);
  free(s);
}

/* rewriteReference: what follows the prefix moves below location. */
static char *rewritten(const char *name, const struct regconf_registry *reg, const char *location) {
  if (!*location)
    return strdup(name);
  long at = prefix_match(name, reg->prefix);
  return xasprintf("%s%s", location, name + (at < 0 ? strlen(name) : (size_t)at));
}

int registries_conf_sources(const struct regconf_registry *reg, const char *name, int by_digest,
                            struct regconf_source **out, size_t *n, lib_error *err) {
  *out = NULL;
  *n = 0;
  size_t n_mirrors = reg ? reg->n_mirrors : 0;
  struct regconf_source *s = calloc(n_mirrors + 1, sizeof(*s));
  if (!s)
    return error_oom(err);
  size_t used = 0;
  for (size_t i = 0; i < n_mirrors; i++) {
    const struct regconf_endpoint *m = &reg->mirrors[i];
    if (reg->mirror_by_digest_only ? !by_digest
                                   : (m->pull_from == PULL_FROM_MIRROR_DIGEST_ONLY && !by_digest) ||
                                         (m->pull_from == PULL_FROM_MIRROR_TAG_ONLY && by_digest))
      continue;
    s[used] = (struct regconf_source){
        .name = rewritten(name, reg, m->location), .location = m->location, .insecure = m->insecure, .mirror = 1};
    if (!s[used++].name) {
      regconf_sources_free(s, used);
      return error_oom(err);
    }
  }
  s[used] = (struct regconf_source){.name = reg ? rewritten(name, reg, reg->location) : strdup(name),
                                    .location = reg ? reg->location : NULL,
                                    .insecure = reg ? reg->insecure : 0};
  if (!s[used++].name) {
    regconf_sources_free(s, used);
    return error_oom(err);
  }
  *out = s;
  *n = used;
  return 0;
}

const struct regconf_alias *registries_conf_alias(const struct registries_conf *c, const char *short_name) {
  for (size_t i = 0; c && i < c->n_aliases; i++)
    if (!strcmp(c->aliases[i].name, short_name))
      return *c->aliases[i].value ? &c->aliases[i] : NULL;
  return NULL;
}
