/* SPDX-License-Identifier: Apache-2.0 */
/*
 * docker://: a registry per the OCI distribution spec. Anonymous first; a 401
 * is answered once from its WWW-Authenticate (a Bearer token from the realm,
 * fetched with the credentials when there are some, then reused for the
 * blob; or Basic). Credentials go only to the registry host and its token
 * realm, over https unless --tls-verify=false; curl drops the Authorization
 * header when a blob redirect leaves the host. With --tls-verify=false https
 * is tried without verification first, then plain http, as the containers
 * tools do for an insecure registry.
 */
#include "base/error.h"
#include "base/naming.h"
#include "base/redact.h"
#include "base/util.h"
#include "fetch/document_cache.h"
#include "net/http.h"
#include "net/http_retry.h"
#include "oci/oci_digest.h"
#include "oci/oci_ref.h"
#include "oci/oci_store.h"
#include "oci/registry_auth.h"
#include "oci/registry_store.h"

/* --- TLS material: --cert-dir, else the host's certs.d folder (net/certs_d.h) --- */

static int load_cert_dir(struct registry_store *s, lib_error *err) {
  int r = tls_files_load(s->set.cert_dir, s->ref.registry, &s->tls, err);
  if (r < 0)
    return r;
  /* Its *.crt add to the system's CAs, as --ca-cert does (both apply). */
  s->http.tls = s->tls;
  return 0;
}

/* --- requests --- */

static int request_headers(struct registry_store *s, const char *accept, struct curl_slist **headers, lib_error *err) {
  int r = 0;
  if (accept) {
    _cleanup_free_ char *line = xasprintf("Accept: %s", accept);
    r = line ? registry_headers_add(headers, line, err) : error_oom(err);
  }
  if (r == 0 && s->authorization)
    r = registry_headers_add(headers, s->authorization, err);
  return r;
}

/* The scheme is one decision per registry store (one host), made by whichever request reaches it
 * first: a manifest, or a blob when the documents came from the cache. With --tls-verify=false an
 * https request that failed before any answer (status 0) means an insecure registry: from then on
 * every request to it (manifests, blobs, resumed blobs) goes over plain http, as the containers
 * tools try next. Any answer over https settles https. (A token realm is a URL the registry's
 * challenge names, scheme included: it is used as named.) Returns 1 when it switched (send the
 * request again), 0 when err stands, or an error. */
static int scheme_fall_back(struct registry_store *s, long status, lib_error *err) {
  if (s->scheme_settled || s->http.tls_verify || status != 0 || !starts_with(s->base_url, "https://") ||
      (err->code != VMPULL_E_TLS && err->code != VMPULL_E_NETWORK))
    return 0;
  char *plain = xasprintf("http://%s", s->ref.api_host);
  if (!plain)
    return error_oom(err);
  free(s->base_url);
  s->base_url = plain;
  s->scheme_settled = 1;
  hooks_warn(&s->set.hooks, "%s: no https, trying plain http (%s)", s->ref.api_host,
             s->set.insecure_by_conf ? "registries.conf: insecure = true" : "--tls-verify=false");
  return 1;
}

/* One request to the registry for path, with the current Authorization; extra gives the rest (a
 * body limit, a range, a reauthorize callback). out: a stream of the body (http_open_retry), else
 * NULL: the body in resp (http_get_retry). Sent again over plain http when scheme_fall_back says so. */
static int registry_send(struct registry_store *s, const char *path, const char *accept,
                         const struct http_request *extra, struct http_response *resp, struct byte_source **out,
                         lib_error *err) {
  for (;;) {
    _cleanup_free_ char *url = xasprintf("%s%s", s->base_url, path);
    if (!url)
      return error_oom(err);
    _cleanup_secret_headers_ struct curl_slist *headers = NULL;
    int r = request_headers(s, accept, &headers, err);
    if (r < 0)
      return r;
    struct http_request req = *extra;
    req.url = url;
    req.headers = headers;
    req.max_redirects = 10;
    req.allow_insecure_redirect = !s->http.tls_verify;
    http_response_clear(resp);
    s->auth_failed = 0;
    r = out ? http_open_retry(&s->http, &req, resp, out, err) : http_get_retry(&s->http, &req, resp, err);
    if (r < 0 && !s->auth_failed) {
      int switched = scheme_fall_back(s, resp->status, err);
      if (switched > 0)
        continue;
      if (switched < 0)
        return switched;
    }
    if (resp->status)
      s->scheme_settled = 1;
    return r;
  }
}

/* GET path on the registry into memory, answering one 401. */
static int registry_get(struct registry_store *s, const char *path, const char *accept, uint64_t max_body,
                        struct http_response *resp, lib_error *err) {
  const struct http_request extra = {.max_body = max_body};
  for (int authed = 0;; authed = 1) {
    int r = registry_send(s, path, accept, &extra, resp, NULL, err);
    if (r < 0 || resp->status != 401)
      return r;
    if (authed)
      return registry_auth_refused(s, "registry", resp->status, err);
    r = registry_authenticate(s, resp, err);
    if (r < 0) {
      s->auth_failed = 1;
      return r;
    }
  }
}

static char *content_type_of(const struct http_response *resp) {
  if (!resp->content_type)
    return NULL;
  size_t n = strcspn(resp->content_type, "; \t");
  return strndup(resp->content_type, n);
}

/* GET /v2/<repo>/manifests/<reference>: a document within OCI_DOC_MAX. */
static int get_manifest(struct registry_store *s, const char *reference, const char *label, struct http_response *resp,
                        lib_error *err) {
  _cleanup_free_ char *path = xasprintf("/v2/%s/manifests/%s", s->ref.repository, reference);
  if (!path)
    return error_oom(err);
  int r = registry_get(s, path, OCI_MANIFEST_ACCEPT, OCI_DOC_MAX, resp, err);
  if (r < 0) {
    /* (A token answer over its own limit is not the manifest's fault: that message stands.) */
    if (err->code == VMPULL_E_LIMIT && !s->auth_failed)
      return error_set(err, VMPULL_E_LIMIT, "%smanifest %s is larger than the %u MiB limit", s->shown_ref, label,
                       OCI_DOC_MAX >> 20);
    if (err->code == VMPULL_E_TLS && strstr(err->message, "wrong version number"))
      error_append(err, " (the registry may speak plain http: --tls-verify=false allows it)");
    return err->code == VMPULL_E_AUTH ? r : error_wrap(err, "%smanifest %s", s->shown_ref, label);
  }
  if (resp->status != 200) {
    registry_status_error(resp, err);
    return error_wrap(err, "%smanifest %s", s->shown_ref, label);
  }
  return 0;
}

static int registry_fetch(void *userdata, const struct oci_descriptor *d, char **buf, size_t *len, lib_error *err) {
  struct registry_store *s = userdata;
  _cleanup_(http_response_clear) struct http_response resp = {0};
  /* Named by digest: a cached copy is as good as the registry's (and checked the same way). */
  int cached = cache_document_by_digest(s->base.cache, d->digest, &resp.body, &resp.body_len);
  if (!cached && s->set.offline)
    return error_set(err, VMPULL_E_NOT_FOUND, "%smanifest %s is not in the cache (--offline)", s->shown_ref, d->digest);
  int r = cached ? 0 : get_manifest(s, d->digest, d->digest, &resp, err);
  if (r < 0)
    return r;
  char what[200];
  snprintf(what, sizeof(what), "%s%s %s", s->shown_ref, oci_media_is_index(d->media_type) ? "index" : "manifest",
           d->digest);
  r = oci_check_document(d, resp.body, resp.body_len, what, err);
  if (r < 0)
    return r;
  if (!cached)
    cache_document_put(s->base.cache, NULL, d->media_type, resp.body, resp.body_len);
  *buf = TAKE_PTR(resp.body);
  *len = resp.body_len;
  return 0;
}

/* --- the blob: holds the store, which its transfer's retries still need --- */

struct blob_source {
  struct byte_source base;
  struct byte_source *inner;
  struct oci_store *store; /* a reference: TLS material, credentials, the token */
};

static int blob_read(struct byte_source *src, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  return source_read(((struct blob_source *)src)->inner, buf, cap, got, err);
}

static void blob_free(struct byte_source *src) {
  struct blob_source *b = (struct blob_source *)src;
  source_free(b->inner); /* first: its retry state points into the store */
  oci_store_free(b->store);
  free(b->base.name);
  free(b);
}

static const struct byte_source_ops blob_ops = {.read = blob_read, .free = blob_free};

/* Did this answer come from the registry (not from a host a redirect led to)? */
static int from_registry(const struct registry_store *s, const struct http_response *resp) {
  size_t n = strlen(s->base_url);
  return resp->effective_url && !strncmp(resp->effective_url, s->base_url, n) && resp->effective_url[n] == '/';
}

/* A 401 from the registry itself to a blob GET: the token expired since the manifests (a long
 * wait for the cache's lock on this blob, or a transfer that broke off after the token's few
 * minutes and resumes), or there was none (the manifests came from the cache). Answered as for
 * a manifest; a 401 from storage a redirect led to is not ours to answer. */
static int blob_reauthorize(void *data, const struct http_response *resp, struct curl_slist **headers, lib_error *err) {
  struct registry_store *s = data;
  if (!from_registry(s, resp))
    return 0;
  int r = registry_authenticate(s, resp, err);
  s->auth_failed = r < 0; /* its error says what went wrong: not about the blob */
  if (r == 0)
    r = request_headers(s, NULL, headers, err);
  return r < 0 ? r : 1;
}

static int note_blob_url(struct registry_store *s, const struct http_response *resp, lib_error *err) {
  if (!resp->effective_url)
    return 0;
  free_secret(s->blob_url);
  s->blob_url = strdup(resp->effective_url);
  return s->blob_url ? 0 : error_oom(err);
}

static int registry_open_blob_at(struct oci_store *base, const struct oci_descriptor *d, uint64_t offset, long *status,
                                 struct byte_source **out, lib_error *err) {
  struct registry_store *s = (struct registry_store *)base;
  struct blob_source *b = calloc(1, sizeof(*b));
  if (!b)
    return error_oom(err);
  b->base.ops = &blob_ops;
  b->base.name = xasprintf("blob %s", d->digest);
  b->store = oci_store_ref(base);
  struct byte_source *owner = &b->base;
  _cleanup_source_ struct byte_source *guard = owner;
  if (!b->base.name)
    return error_oom(err);

  _cleanup_free_ char *path = xasprintf("/v2/%s/blobs/%s", s->ref.repository, d->digest);
  if (!path)
    return error_oom(err);
  const struct http_request extra = {.range_start = offset, .reauthorize = blob_reauthorize, .reauthorize_data = s};
  _cleanup_(http_response_clear) struct http_response resp = {0};
  int r = registry_send(s, path, NULL, &extra, &resp, &b->inner, err);
  *status = resp.status;
  if (r < 0)
    return s->auth_failed ? r : error_wrap(err, "%sblob %s", s->shown_ref, d->digest);
  if (!b->inner)
    return error_set(err, VMPULL_E_HTTP, "%sblob %s: no body", s->shown_ref, d->digest);
  r = http_source_set_name(b->inner, b->base.name, err);
  if (r < 0)
    return r;
  r = note_blob_url(s, &resp, err);
  if (r < 0)
    return r;
  uint64_t from = resp.status == 206 ? offset : 0; /* a registry may ignore the range */
  if (resp.content_length != UINT64_MAX && resp.content_length != d->size - MIN(from, d->size))
    return error_set(err, VMPULL_E_DIGEST, "%sblob %s: the registry sends %llu bytes, the descriptor says %llu",
                     s->shown_ref, d->digest, (unsigned long long)(resp.content_length + from),
                     (unsigned long long)d->size);
  b->base.size = d->size - MIN(from, d->size);
  guard = NULL;
  *out = owner;
  return 0;
}

/* Ranges go where the blob's request ended (storage a redirect led to, or the registry itself).
 * The registry's credentials go with them only to the registry: a storage URL carries its own
 * signature, and a token is never sent to a host it was not issued for. Renewing asks the
 * registry again for one byte (a fresh token on its 401, a new storage URL). */
static int registry_blob_target(struct oci_store *base, const struct oci_descriptor *d, int renew,
                                struct blob_target *t, lib_error *err) {
  struct registry_store *s = (struct registry_store *)base;
  if (renew || !s->blob_url) {
    _cleanup_free_ char *path = xasprintf("/v2/%s/blobs/%s", s->ref.repository, d->digest);
    if (!path)
      return error_oom(err);
    const struct http_request extra = {.range_length = 1, .reauthorize = blob_reauthorize, .reauthorize_data = s};
    _cleanup_(http_response_clear) struct http_response resp = {0};
    _cleanup_source_ struct byte_source *one = NULL;
    int r = registry_send(s, path, NULL, &extra, &resp, &one, err);
    if (r < 0)
      return s->auth_failed ? r : error_wrap(err, "%sblob %s", s->shown_ref, d->digest);
    r = note_blob_url(s, &resp, err);
    if (r < 0)
      return r;
  }
  blob_target_clear(t);
  t->http = s->http;
  if (!s->blob_url || !(t->url = strdup(s->blob_url)))
    return error_oom(err);
  struct http_response at = {.effective_url = s->blob_url};
  return from_registry(s, &at) ? request_headers(s, NULL, &t->headers, err) : 0;
}

static int registry_open_blob(struct oci_store *base, const struct oci_descriptor *d, struct byte_source **out,
                              lib_error *err) {
  long status = 0;
  return registry_open_blob_at(base, d, 0, &status, out, err);
}

/* A tag beside the image (a sigstore attachment): one request; a 404 is "none". What it resolved to is
 * kept in the cache under its reference, so --offline (which asks nobody) finds it again. */
static int registry_fetch_tag(struct oci_store *base, const char *tag, char **buf, size_t *len, char **media_type,
                              lib_error *err) {
  struct registry_store *s = (struct registry_store *)base;
  _cleanup_free_ char *key = xasprintf("docker://%s/%s:%s", s->ref.registry, s->ref.repository, tag);
  _cleanup_free_ char *label = xasprintf("%s:%s", s->ref.repository, tag);
  if (!key || !label)
    return error_oom(err);
  _cleanup_(http_response_clear) struct http_response resp = {0};
  if (s->set.offline) {
    if (!cache_document_by_ref(base->cache, key, &resp.body, &resp.body_len, &resp.docker_content_digest,
                               &resp.content_type))
      return error_set(err, VMPULL_E_NOT_FOUND, "%smanifest %s is not in the cache (--offline)", s->shown_ref, label);
  } else {
    int r = get_manifest(s, tag, label, &resp, err);
    if (r < 0 && resp.status == 404 && !s->auth_failed) {
      error_clear(err);
      return 1;
    }
    if (r < 0)
      return r;
    if (resp.docker_content_digest && oci_digest_valid(resp.docker_content_digest)) {
      r = oci_digest_verify(resp.docker_content_digest, resp.body, resp.body_len, label, err);
      if (r < 0)
        return error_wrap(err, "%smanifest", s->shown_ref);
    }
    _cleanup_free_ char *type = content_type_of(&resp);
    cache_document_put(base->cache, key, type, resp.body, resp.body_len);
  }
  if (media_type) {
    *media_type = content_type_of(&resp);
    if (resp.content_type && !*media_type)
      return error_oom(err);
  }
  *len = resp.body_len;
  *buf = TAKE_PTR(resp.body);
  return 0;
}

static char *registry_pinned_reference(struct oci_store *base, const char *manifest_digest) {
  struct registry_store *s = (struct registry_store *)base;
  return xasprintf("docker://%s/%s@%s", s->ref.registry, s->ref.repository, manifest_digest);
}

static const struct docker_ref *registry_serving_ref(struct oci_store *base) {
  return &((struct registry_store *)base)->ref;
}

static void registry_free(struct oci_store *base) {
  struct registry_store *s = (struct registry_store *)base;
  docker_ref_clear(&s->ref);
  free(s->shown_ref);
  tls_files_unref(s->tls);
  free_secret(s->blob_url);
  free(s->base_url);
  free(s->root_digest);
  free(s->root_type);
  oci_creds_clear(&s->creds);
  free_secret(s->authorization);
  free(s);
}

int oci_registry_store_open(const struct oci_settings *set, const struct docker_ref *ref, const char *given,
                            struct pull_cache *pc, struct oci_store **out, lib_error *err) {
  struct registry_store *s = calloc(1, sizeof(*s));
  if (!s)
    return error_oom(err);
  s->base.free = registry_free;
  s->base.open_blob = registry_open_blob;
  s->base.open_blob_at = registry_open_blob_at;
  s->base.blob_target = registry_blob_target;
  s->base.cache = pc;
  s->base.pinned_reference = registry_pinned_reference;
  s->base.fetch_tag = registry_fetch_tag;
  s->base.serving_ref = registry_serving_ref;
  _cleanup_oci_store_ struct oci_store *store = &s->base;

  s->set = *set;
  int r = docker_ref_copy(ref, &s->ref, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *canonical = docker_ref_string(&s->ref);
  if (!canonical)
    return error_oom(err);
  store->display = given ? redact_source(given) : strdup(canonical);
  s->shown_ref = given ? strdup("") : xasprintf("%s: ", canonical + 9);
  if (!store->display || !s->shown_ref)
    return error_oom(err);

  pull_cache_http_config(pc, &set->http, &s->http);
  r = load_cert_dir(s, err);
  if (r < 0)
    return r;
  s->base_url = xasprintf("https://%s", s->ref.api_host);
  if (!s->base_url)
    return error_oom(err);
  r = oci_select_init(&store->walk.sel, &set->selection, err);
  if (r < 0)
    return r;

  const char *reference = s->ref.digest ? s->ref.digest : s->ref.tag;
  _cleanup_(http_response_clear) struct http_response resp = {0};
  _cleanup_free_ char *label = xasprintf("%s%s%s", s->ref.repository, s->ref.digest ? "@" : ":", reference);
  if (!label)
    return error_oom(err);
  /* The cache: by digest no request is needed; a tag costs one, except with --offline. */
  int cached = 0;
  if (s->ref.digest)
    cached = cache_document_by_digest(pc, s->ref.digest, &resp.body, &resp.body_len);
  else if (set->offline)
    cached = cache_document_by_ref(pc, canonical, &resp.body, &resp.body_len, &resp.docker_content_digest,
                                   &resp.content_type);
  if (!cached && set->offline)
    return error_set(err, VMPULL_E_NOT_FOUND, "%s is not in the cache (--offline)", canonical);
  r = cached ? 0 : get_manifest(s, reference, label, &resp, err);
  if (r < 0)
    return r;
  /* By digest the document must hash to it; by tag, to what the registry says it is. */
  char computed[OCI_DIGEST_MAX];
  const char *want = s->ref.digest;
  if (!want && resp.docker_content_digest && oci_digest_valid(resp.docker_content_digest))
    want = resp.docker_content_digest;
  r = oci_digest_buffer(want ? want : "sha256:", resp.body, resp.body_len, computed, err);
  if (r < 0)
    return r;
  if (want && strcmp(want, computed) != 0)
    return error_set(err, VMPULL_E_DIGEST, "%smanifest %s: digest mismatch: expected %s, got %s", s->shown_ref, label,
                     want, computed);
  s->root_digest = strdup(computed);
  s->root_type = content_type_of(&resp);
  if (!s->root_digest)
    return error_oom(err);
  if (!cached)
    cache_document_put(pc, s->ref.digest ? NULL : canonical, s->root_type, resp.body, resp.body_len);
  store->root = TAKE_PTR(resp.body);
  store->walk.root = store->root;
  store->walk.root_len = resp.body_len;
  store->walk.root_digest = s->root_digest;
  store->walk.root_type = s->root_type;
  store->walk.fetch = registry_fetch;
  store->walk.userdata = s;
  *out = TAKE_PTR(store);
  return 0;
}

void oci_registry_store_set_retries(struct oci_store *base, int retries) {
  ((struct registry_store *)base)->http.retries = retries;
}
