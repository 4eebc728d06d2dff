/* SPDX-License-Identifier: Apache-2.0 */
/*
 * docker:// through mirrors. Each endpoint is an ordinary registry store
 * (oci_registry.c) opened on the endpoint's own parsed reference (the mirror's host and
 * repository, the origin's tag or digest), so auth,
 * TLS, certs.d and the cache work there exactly as at the registry itself.
 * The store that answered the reference serves everything else; when one of
 * its later requests (a manifest or a blob, always by digest) finds the
 * mirror gone, missing the content or failing, the next endpoint is opened on
 * the root document's digest and asked instead. Stores that were given up
 * stay open until the end: the walk still points into them.
 *
 * Credentials: --creds go to the registry itself only (at a location on its own host too); a
 * mirror's store, or a location's on another host, looks its own host up in the auth files, and a
 * mirror that answers 401 (or 403) is skipped like one that is down.
 *
 * A mirror is first asked without retries, so that a dead one costs a failed
 * connection and not a minute of backoff; once it answered, it gets the
 * pull's retry budget like any registry.
 */
#include "oci/oci_mirror.h"

#include "base/error.h"
#include "base/redact.h"
#include "base/util.h"
#include "fetch/document_cache.h"
#include "net/http.h"
#include "oci/oci_digest.h"
#include "oci/registries_conf.h"

#include <ctype.h>
#include <stdarg.h>
#include <strings.h>

#define MIRROR_ENDPOINTS_MAX 64

void oci_endpoints_free(struct oci_endpoint *e, size_t n) {
  for (size_t i = 0; e && i < n; i++) {
    free(e[i].name);
    free(e[i].mirror);
    docker_ref_clear(&e[i].ref);
  }
  free(e);
}

int oci_mirror_spec_check(const char *spec, lib_error *err) {
  const char *eq = spec ? strchr(spec, '=') : NULL;
  if (!eq || eq == spec || !eq[1])
    return error_set(err, VMPULL_E_USAGE, "mirror '%.200s' is not REGISTRY=MIRROR (e.g. quay.io=cache.example:5000)",
                     spec ? spec : "");
  if (strstr(spec, "://"))
    return error_set(err, VMPULL_E_USAGE,
                     "mirror '%.200s': give hosts without a scheme (https is used, plain http with --tls-verify=false)",
                     spec);
  for (const char *p = spec; *p; p++)
    if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20 || *p == 0x7f || *p == '@')
      return error_set(err, VMPULL_E_USAGE, "mirror '%.200s': unexpected character", spec);
  if (strchr(eq + 1, '='))
    return error_set(err, VMPULL_E_USAGE, "mirror '%.200s': one '=' between REGISTRY and MIRROR", spec);
  return 0;
}

/* KEY of KEY=MIRROR without trailing slashes, Docker Hub's other names spelt docker.io as references do. */
static char *normalized_key(const char *spec) {
  static const char *const hub_aliases[] = {"index.docker.io", "registry-1.docker.io"};
  size_t len = strcspn(spec, "=");
  while (len && spec[len - 1] == '/')
    len--;
  size_t host = strcspn(spec, "/=");
  for (size_t i = 0; i < ARRAY_SIZE(hub_aliases); i++)
    if (host == strlen(hub_aliases[i]) && !strncasecmp(spec, hub_aliases[i], host))
      return xasprintf("docker.io%.*s", (int)(len - host), spec + host);
  return strndup(spec, len);
}

/* The endpoint for spec when its key covers full ("registry/repository"): 1 added, 0 not a match. */
static int mirror_endpoint(const char *spec, const char *full, struct oci_endpoint *e, lib_error *err) {
  _cleanup_free_ char *key = normalized_key(spec);
  if (!key)
    return error_oom(err);
  size_t key_len = strlen(key);
  if (strncmp(full, key, key_len) != 0 || (full[key_len] != '/' && full[key_len] != '\0'))
    return 0;
  const char *mirror = strchr(spec, '=') + 1;
  size_t mlen = strlen(mirror);
  while (mlen && mirror[mlen - 1] == '/')
    mlen--;
  /* What lies below the key moves below the mirror. */
  e->mirror = strndup(mirror, mlen);
  e->name = xasprintf("%.*s%s", (int)mlen, mirror, full + key_len);
  if (!e->mirror || !e->name)
    return error_oom(err);
  /* The mirror must read as a registry host, or the reference would mean a Docker Hub repository. */
  _cleanup_(docker_ref_clear) struct docker_ref parsed = {0};
  int r = docker_ref_parse(e->name, &parsed, err);
  if (r < 0)
    return error_wrap(err, "mirror '%.200s'", spec);
  size_t host_len = strcspn(e->mirror, "/");
  if (strlen(parsed.registry) != host_len || strncasecmp(parsed.registry, e->mirror, host_len) != 0)
    return error_set(err, VMPULL_E_USAGE,
                     "mirror '%.200s': MIRROR must start with a registry host (a name with a '.' or a ':port', or "
                     "localhost)",
                     spec);
  e->ref = parsed;
  parsed = (struct docker_ref){0};
  return 1;
}

/* An endpoint of registries.conf: src->name parsed (its host must read as a registry host, as
 * containers/image's reference.ParseNamed insists), the origin's tag or digest kept. */
static int conf_endpoint(const struct regconf_source *src, const struct docker_ref *origin, struct oci_endpoint *e,
                         lib_error *err) {
  e->name = strdup(src->name);
  e->mirror = src->mirror ? strdup(src->location) : NULL;
  e->insecure = src->insecure;
  if (!e->name || (src->mirror && !e->mirror))
    return error_oom(err);
  _cleanup_(docker_ref_clear) struct docker_ref parsed = {0};
  int r = docker_ref_parse(e->name, &parsed, err);
  if (r < 0)
    return error_wrap(err, "registries.conf: %s", src->mirror ? "mirror" : "location");
  size_t host_len = strcspn(e->name, "/");
  if (strlen(parsed.registry) != host_len || strncasecmp(parsed.registry, e->name, host_len) != 0)
    return error_set(
        err, VMPULL_E_CONFIG,
        "registries.conf: %s '%.200s' does not start with a registry host (a name with a '.' or a ':port', "
        "or localhost)",
        src->mirror ? "mirror" : "location", src->location ? src->location : e->name);
  free(parsed.tag);
  parsed.tag = origin->tag ? strdup(origin->tag) : NULL;
  parsed.digest = origin->digest ? strdup(origin->digest) : NULL;
  if ((origin->tag && !parsed.tag) || (origin->digest && !parsed.digest))
    return error_oom(err);
  e->ref = parsed;
  parsed = (struct docker_ref){0};
  return 0;
}

int oci_mirror_endpoints(const struct oci_settings *set, const struct docker_ref *ref, struct oci_endpoint **out,
                         size_t *n, lib_error *err) {
  const char *const *specs = set->mirrors;
  size_t n_specs = specs ? set->n_mirrors : 0;
  int by_digest_only = set->mirror_by_digest_only;
  *out = NULL;
  *n = 0;
  if (n_specs > MIRROR_ENDPOINTS_MAX)
    return error_set(err, VMPULL_E_LIMIT, "%zu mirrors given, at most %d are used", n_specs, MIRROR_ENDPOINTS_MAX);
  for (size_t i = 0; i < n_specs; i++) {
    int r = oci_mirror_spec_check(specs[i], err);
    if (r < 0)
      return r;
  }
  _cleanup_free_ char *full = xasprintf("%s/%s", ref->registry, ref->repository);
  if (!full)
    return error_oom(err);
  /* registries.conf: its registry for the reference (blocked, or the mirrors and location). */
  const struct regconf_registry *reg = registries_conf_find(set->conf, full);
  if (reg && reg->blocked)
    return error_set(err, VMPULL_E_CONFIG, "registry %s is blocked in %s", reg->prefix, reg->origin);
  struct regconf_source *conf_src = NULL;
  size_t n_conf = 0;
  int r = registries_conf_sources(reg, full, ref->digest != NULL, &conf_src, &n_conf, err);
  if (r < 0)
    return r;
  if (n_specs + n_conf > MIRROR_ENDPOINTS_MAX) {
    regconf_sources_free(conf_src, n_conf);
    return error_set(err, VMPULL_E_LIMIT, "%zu mirrors in all, at most %d are used", n_specs + n_conf,
                     MIRROR_ENDPOINTS_MAX);
  }
  struct oci_endpoint *e = calloc(n_specs + n_conf + 1, sizeof(*e));
  if (!e) {
    regconf_sources_free(conf_src, n_conf);
    return error_oom(err);
  }
  size_t used = 0;
  /* With --offline the cache answers under the registry's own name. */
  int use_mirrors = !set->offline && !(by_digest_only && !ref->digest);
  for (size_t i = 0; r == 0 && use_mirrors && i < n_specs; i++) {
    r = mirror_endpoint(specs[i], full, &e[used], err);
    if (r > 0) {
      used++;
      r = 0;
    } else if (r < 0) {
      used++; /* what it allocated goes with the rest */
    }
  }
  /* Then the mirrors registries.conf gives (none with --offline), then the registry or its location. */
  for (size_t i = 0; r == 0 && i < n_conf; i++) {
    if (conf_src[i].mirror && set->offline)
      continue;
    int plain = !conf_src[i].mirror && !strcmp(conf_src[i].name, full);
    if (plain) {
      e[used].name = strdup(full);
      e[used].insecure = conf_src[i].insecure;
      r = e[used].name ? docker_ref_copy(ref, &e[used].ref, err) : error_oom(err);
    } else {
      r = conf_endpoint(&conf_src[i], ref, &e[used], err);
    }
    used++;
  }
  regconf_sources_free(conf_src, n_conf);
  if (r < 0) {
    oci_endpoints_free(e, used);
    return r;
  }
  *out = e;
  *n = used;
  return 0;
}

/* --- the store --- */

struct mirror_store {
  struct oci_store base;
  struct docker_ref origin;
  struct oci_endpoint *eps;
  size_t n_eps;
  size_t at;                 /* the endpoint serving now */
  struct oci_store **stores; /* per endpoint, opened as needed; kept to the end */
  struct pull_cache *pc;
  struct oci_settings set; /* the caller's (a copy; its strings are borrowed) */
  int retries;             /* the pull's retry budget */
  char *root_digest;
  char *root_type;
  struct registries_conf conf; /* registries.conf as read: set.auth borrows its credential helpers */
};

/* Worth asking the next endpoint: the mirror is unreachable, has not got it, failed, or will not let
 * us in (401/403: it has credentials of its own that the auth files do not hold for it). */
static int falls_through(int code) {
  return code == VMPULL_E_NETWORK || code == VMPULL_E_TLS || code == VMPULL_E_NOT_FOUND || code == VMPULL_E_HTTP ||
         code == VMPULL_E_AUTH;
}

static const char *endpoint_name(const struct mirror_store *m, size_t i) {
  return m->eps[i].mirror ? m->eps[i].mirror : m->origin.registry;
}

/* Open endpoint i on the reference, or pinned to the root's digest once that is known. */
static int open_endpoint(struct mirror_store *m, size_t i, lib_error *err) {
  const char *digest = m->root_digest ? m->root_digest : m->origin.digest;
  _cleanup_(docker_ref_clear) struct docker_ref at = {0};
  int r = docker_ref_copy(&m->eps[i].ref, &at, err);
  if (r < 0)
    return r;
  free(at.tag);
  free(at.digest);
  at.tag = digest ? NULL : strdup(m->origin.tag);
  at.digest = digest ? strdup(digest) : NULL;
  _cleanup_free_ char *shown = at.tag || at.digest ? docker_ref_string(&at) : NULL;
  if (!shown)
    return error_oom(err);
  struct oci_settings es = m->set;
  /* A mirror is asked once; the registry itself with the full budget from the start. */
  es.http.retries = m->eps[i].mirror ? 0 : m->retries;
  /* --creds belong to the registry the reference names; a mirror, or a registries.conf location on
   * another host (containers/image withholds them there too), gets only what the auth files (and
   * their credential helpers) hold for its own host. */
  if (m->eps[i].mirror || strcasecmp(m->eps[i].ref.registry, m->origin.registry) != 0) {
    es.auth.creds = NULL;
    es.auth.mirror_of = m->origin.registry;
  }
  /* registries.conf's insecure = true: for this host only, as --tls-verify=false. */
  if (m->eps[i].insecure && es.http.tls_verify) {
    es.http.tls_verify = 0;
    es.insecure_by_conf = 1;
  }
  struct oci_store *s = NULL;
  hooks_log(&m->set.hooks, VMPULL_LOG_DEBUG, "trying %s %s for %s", m->eps[i].mirror ? "mirror" : "registry",
            endpoint_name(m, i), shown);
  r = oci_registry_store_open(&es, &at, shown, m->pc, &s, err);
  if (r < 0)
    return r;
  oci_registry_store_set_retries(s, m->retries);
  m->stores[i] = s;
  return 0;
}

/* After endpoint m->at failed with err: the next one that opens, or err (with context) when none does. */
static int next_endpoint(struct mirror_store *m, lib_error *err) {
  while (m->at + 1 < m->n_eps && falls_through(err->code) && m->eps[m->at].mirror) {
    size_t failed = m->at++;
    hooks_warn(&m->set.hooks, "mirror %s: %s; trying %s", endpoint_name(m, failed), err->message,
               endpoint_name(m, m->at));
    error_clear(err);
    if (m->stores[m->at] || open_endpoint(m, m->at, err) == 0)
      return 0;
  }
  if (m->eps[m->at].mirror)
    return error_wrap(err, "mirror %s", endpoint_name(m, m->at));
  return -err->code;
}

static int mirror_fetch(void *userdata, const struct oci_descriptor *d, char **buf, size_t *len, lib_error *err) {
  struct mirror_store *m = userdata;
  for (;;) {
    struct oci_store *s = m->stores[m->at];
    int r = s->walk.fetch(s->walk.userdata, d, buf, len, err);
    if (r >= 0)
      return r;
    if (next_endpoint(m, err) < 0)
      return -err->code;
  }
}

static int mirror_open_blob(struct oci_store *base, const struct oci_descriptor *d, struct byte_source **out,
                            lib_error *err) {
  struct mirror_store *m = (struct mirror_store *)base;
  for (;;) {
    struct oci_store *s = m->stores[m->at];
    int r = s->open_blob(s, d, out, err);
    if (r >= 0)
      return r;
    if (next_endpoint(m, err) < 0)
      return -err->code;
  }
}

static int mirror_open_blob_at(struct oci_store *base, const struct oci_descriptor *d, uint64_t offset, long *status,
                               struct byte_source **out, lib_error *err) {
  struct mirror_store *m = (struct mirror_store *)base;
  for (;;) {
    struct oci_store *s = m->stores[m->at];
    int r = s->open_blob_at(s, d, offset, status, out, err);
    if (r >= 0)
      return r;
    if (next_endpoint(m, err) < 0)
      return -err->code;
  }
}

/* The endpoint that serves the blob now (mirror_open_blob_at settled on it). */
static int mirror_blob_target(struct oci_store *base, const struct oci_descriptor *d, int renew, struct blob_target *t,
                              lib_error *err) {
  struct mirror_store *m = (struct mirror_store *)base;
  struct oci_store *s = m->stores[m->at];
  if (!s->blob_target)
    return error_set(err, VMPULL_E_HTTP, "blob %s: no ranges from this store", d->digest);
  return s->blob_target(s, d, renew, t, err);
}

/* Attachments come from the host that served the image, as containers/image asks the source it
 * pulled from: no fall-through to the next endpoint. */
static int mirror_fetch_tag(struct oci_store *base, const char *tag, char **buf, size_t *len, char **media_type,
                            lib_error *err) {
  struct mirror_store *m = (struct mirror_store *)base;
  struct oci_store *s = m->stores[m->at];
  return s->fetch_tag(s, tag, buf, len, media_type, err);
}

/* The endpoint serving now: its own registry and repository, where its signatures are looked for. */
static const struct docker_ref *mirror_serving_ref(struct oci_store *base) {
  struct mirror_store *m = (struct mirror_store *)base;
  return &m->eps[m->at].ref;
}

/* Results name the registry, not the mirror: the same digest is there (that is what a mirror is). */
static char *mirror_pinned_reference(struct oci_store *base, const char *manifest_digest) {
  struct mirror_store *m = (struct mirror_store *)base;
  return xasprintf("docker://%s/%s@%s", m->origin.registry, m->origin.repository, manifest_digest);
}

static void mirror_free(struct oci_store *base) {
  struct mirror_store *m = (struct mirror_store *)base;
  for (size_t i = 0; m->stores && i < m->n_eps; i++)
    oci_store_free(m->stores[i]);
  free(m->stores);
  oci_endpoints_free(m->eps, m->n_eps);
  docker_ref_clear(&m->origin);
  free(m->root_digest);
  free(m->root_type);
  registries_conf_clear(&m->conf);
  free(m);
}

/* A short name ("fedora", "library/fedora") as the source spells it, without tag or digest, or NULL:
 * docker:// reads it as Docker Hub's, never through registries.conf's aliases (skopeo neither). */
static char *short_name_of(const char *given) {
  if (!given || strncmp(given, "docker://", 9) != 0)
    return NULL;
  const char *name = given + 9;
  size_t first = strcspn(name, "/");
  if (name[first] == '/' &&
      (memchr(name, '.', first) || memchr(name, ':', first) || !strncmp(name, "localhost", first)))
    return NULL;
  size_t len = strcspn(name, "@");
  const char *slash = memrchr(name, '/', len);
  const char *colon = memchr(slash ? slash : name, ':', len - (size_t)((slash ? slash : name) - name));
  if (colon)
    len = (size_t)(colon - name);
  return strndup(name, len);
}

/* An error about a short name says what the host's files would make of it, so that the user can
 * write the full name. */
static void short_name_note(const struct registries_conf *conf, const char *given, lib_error *err) {
  if (!conf || (err->code != VMPULL_E_AUTH && err->code != VMPULL_E_NOT_FOUND && err->code != VMPULL_E_HTTP))
    return;
  _cleanup_free_ char *name = short_name_of(given);
  if (!name)
    return;
  const struct regconf_alias *alias = registries_conf_alias(conf, name);
  if (alias)
    error_append(err,
                 "; '%s' is a short name, read as Docker Hub's (docker:// applies no aliases): %s says \"%s\" = "
                 "\"%s\" (docker://%s/...)",
                 name, alias->origin, alias->name, alias->value, alias->value);
  else
    error_append(err, "; '%s' is a short name, read as Docker Hub's (docker:// applies no aliases)", name);
  if (conf->n_search) {
    char list[512] = "";
    for (size_t i = 0; i < conf->n_search; i++) {
      size_t used = strlen(list);
      snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", conf->search[i]);
    }
    error_append(err, "; unqualified-search-registries (%s): %s", conf->search_origin, list);
  }
}

/* Whether endpoints hold nothing a plain registry store would not do alone. */
static int endpoints_plain(const struct oci_endpoint *eps, size_t n, const struct docker_ref *ref,
                           const struct registries_conf *conf) {
  return n == 1 && !eps[0].insecure && !strcmp(eps[0].ref.registry, ref->registry) &&
         !strcmp(eps[0].ref.repository, ref->repository) && !conf->credential_helpers_set;
}

static int docker_store_open(const struct oci_settings *set, const struct docker_ref *origin, const char *given,
                             struct registries_conf *conf, struct pull_cache *pc, struct oci_store **out,
                             lib_error *err) {
  _cleanup_(docker_ref_clear) struct docker_ref ref = {0};
  int r = docker_ref_copy(origin, &ref, err);
  if (r < 0)
    return r;
  struct oci_settings with_conf = *set;
  with_conf.conf = conf;
  struct oci_endpoint *eps = NULL;
  size_t n_eps = 0;
  r = oci_mirror_endpoints(&with_conf, &ref, &eps, &n_eps, err);
  if (r < 0)
    return r;
  if (endpoints_plain(eps, n_eps, &ref, conf)) {
    oci_endpoints_free(eps, n_eps);
    return oci_registry_store_open(set, &ref, given, pc, out, err);
  }

  struct mirror_store *m = calloc(1, sizeof(*m));
  if (!m) {
    oci_endpoints_free(eps, n_eps);
    return error_oom(err);
  }
  m->eps = eps;
  m->n_eps = n_eps;
  m->origin = ref;
  ref = (struct docker_ref){0};
  m->base.free = mirror_free;
  m->base.open_blob = mirror_open_blob;
  m->base.open_blob_at = mirror_open_blob_at;
  m->base.blob_target = mirror_blob_target;
  m->base.pinned_reference = mirror_pinned_reference;
  m->base.fetch_tag = mirror_fetch_tag;
  m->base.serving_ref = mirror_serving_ref;
  m->base.cache = pc;
  m->pc = pc;
  m->set = *set;
  /* conf stays the caller's until the store is whole (an error may still quote it), then it is the
   * store's: the arrays the endpoints' stores borrow do not move. */
  m->set.conf = NULL;
  m->set.auth.credential_helpers = conf->credential_helpers;
  m->set.auth.n_credential_helpers = conf->n_credential_helpers;
  _cleanup_oci_store_ struct oci_store *store = &m->base;

  m->retries = set->http.retries;
  m->stores = calloc(n_eps, sizeof(*m->stores));
  if (!m->stores)
    return error_oom(err);
  store->display = given ? redact_source(given) : docker_ref_string(&m->origin);
  if (!store->display)
    return error_oom(err);

  /* The reference (a tag, or a digest) at the first endpoint that has it. */
  for (m->at = 0;; m->at++) {
    r = open_endpoint(m, m->at, err);
    if (r == 0)
      break;
    if (!(m->eps[m->at].mirror && falls_through(err->code)))
      return m->eps[m->at].mirror ? error_wrap(err, "mirror %s", endpoint_name(m, m->at)) : r;
    hooks_warn(&m->set.hooks, "mirror %s: %s; trying %s", endpoint_name(m, m->at), err->message,
               endpoint_name(m, m->at + 1));
    error_clear(err);
  }
  hooks_log(&m->set.hooks, VMPULL_LOG_INFO, "%s %s serves %s", m->eps[m->at].mirror ? "mirror" : "registry",
            endpoint_name(m, m->at), store->display);
  struct oci_store *s = m->stores[m->at];
  store->walk = s->walk;
  store->walk.fetch = mirror_fetch;
  store->walk.userdata = m;
  store->root = malloc(s->walk.root_len + 1);
  m->root_digest = s->walk.root_digest ? strdup(s->walk.root_digest) : NULL;
  m->root_type = s->walk.root_type ? strdup(s->walk.root_type) : NULL;
  if (!store->root || !m->root_digest || (s->walk.root_type && !m->root_type))
    return error_oom(err);
  memcpy(store->root, s->walk.root, s->walk.root_len);
  store->root[s->walk.root_len] = '\0';
  store->walk.root = store->root;
  store->walk.root_digest = m->root_digest;
  store->walk.root_type = m->root_type;
  if (m->eps[m->at].mirror) {
    store->mirror = strdup(m->eps[m->at].mirror);
    if (!store->mirror)
      return error_oom(err);
    /* What the tag resolved to, also under the registry's own name: --offline (which asks no mirror) finds it. */
    _cleanup_free_ char *canonical = m->origin.digest ? NULL : docker_ref_string(&m->origin);
    if (canonical)
      cache_document_put(pc, canonical, m->root_type, store->root, s->walk.root_len);
  }
  m->conf = *conf;
  *conf = (struct registries_conf){0};
  *out = TAKE_PTR(store);
  return 0;
}

int oci_docker_store_open(const struct oci_settings *set, struct pull_cache *pc, struct oci_store **out,
                          lib_error *err) {
  _cleanup_(docker_ref_clear) struct docker_ref ref = {0};
  int r = docker_ref_for_source(set->source, &set->default_image, &ref, err);
  if (r < 0)
    return r;
  /* `docker://` alone stands for the default image: messages then name the reference itself. */
  const char *given = set->source && strlen(set->source) > 9 ? set->source : NULL;
  _cleanup_(registries_conf_clear) struct registries_conf conf = {0};
  if (!set->no_registries_conf) {
    r = registries_conf_load(set->registries_conf, &conf, err);
    if (r < 0)
      return r;
  }
  r = docker_store_open(set, &ref, given, &conf, pc, out, err);
  if (r < 0 && !set->no_registries_conf)
    short_name_note(&conf, given, err);
  return r;
}
