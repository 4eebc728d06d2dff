/* SPDX-License-Identifier: Apache-2.0 */
/* fetch_url, fetch_blob: the network meets the cache (fetch.h; fetch_document is fetch_document.c). One decision per
 * fetch (decide_url, decide_blob) picks the way to the bytes, then that way runs (the ways come first). */
#include "fetch/fetch.h"

#include "base/error.h"
#include "base/hooks.h"
#include "base/redact.h"
#include "base/util.h"
#include "fetch/fetch_segments.h"
#include "net/http_retry.h"

#include <sys/stat.h>
#include <time.h>

static int dup_into(char **slot, const char *v) {
  free(*slot);
  *slot = v ? strdup(v) : NULL;
  return !v || *slot ? 0 : -1;
}

/* --offline without the bytes: a disk kept from them may still make the output. The pull then
 * has no source: kept_disk_find (api floor) checks the disk, and fails the pull if it cannot use it. */
static int offline_from_kept_disk(struct pull_cache *pc, const char *digest, char **kept_disk_only) {
  return digest && cache_disk_exists(pc->cache, digest) && dup_into(kept_disk_only, digest) == 0;
}

/* How the cache served the image's bytes, for the outcome (fetch/pull_facts.h). */
static void note_cache(struct pull_cache *pc, vmpull_cache_use use) {
  if (pc && pc->facts)
    pc->facts->cache = use;
}

static void note_resumed(struct pull_cache *pc, uint64_t from) {
  if (pc && pc->facts)
    pc->facts->resumed_from = from;
}

static int set_ref(struct pull_cache *pc, const char *key, const struct http_response *resp, lib_error *err) {
  if (dup_into(&pc->ref.key, key) < 0 || dup_into(&pc->ref.etag, resp ? resp->etag : NULL) < 0 ||
      dup_into(&pc->ref.last_modified, resp ? resp->last_modified : NULL) < 0 ||
      dup_into(&pc->ref.content_disposition, resp ? resp->content_disposition : NULL) < 0)
    return error_oom(err);
  return 0;
}

/* If-Range and If-None-Match need a strong ETag to mean "these exact bytes". */
/* Fill resp from the cache's record, as if the server had answered. */
static int resp_from_ref(struct http_response *resp, const struct cache_ref *ref, lib_error *err) {
  http_response_clear(resp);
  resp->status = 304;
  if (dup_into(&resp->etag, ref->etag) < 0 || dup_into(&resp->last_modified, ref->last_modified) < 0 ||
      dup_into(&resp->content_disposition, ref->content_disposition) < 0)
    return error_oom(err);
  resp->content_length = ref->size;
  return 0;
}

/* ---- The ways to the bytes. Each runs with the entry locked (when there is one); the decision
 * (decide_url, decide_blob below) picks one. A server's answer can still turn a way into a new
 * download (a changed file, a refused resume), which each says where it happens. ---- */

/* Serve blob digest from blobs/; resp, when given, is filled from ref as if the server had answered. */
static int fetch_cached_blob_open(struct pull_cache *pc, const char *digest, const struct cache_ref *ref,
                                  struct http_response *resp, struct byte_source **out, lib_error *err) {
  int r = ref ? resp_from_ref(resp, ref, err) : 0;
  if (r == 0)
    r = pull_cache_use_blob(pc, digest, out, err);
  if (r == 0)
    note_cache(pc, VMPULL_CACHE_HIT);
  return r;
}

static int fetch_download(struct pull_cache *pc, const char *key, const struct http_config *c,
                          const struct http_request *req, struct http_response *resp, struct byte_source **out,
                          lib_error *err) {
  int r = http_open_retry(c, req, resp, out, err);
  if (r < 0)
    return r;
  note_cache(pc, VMPULL_CACHE_MISS);
  pull_cache_start_fill(pc, key, resp);
  return set_ref(pc, key, resp, err);
}

/* Ask the server whether the cached copy (ref, with a validator) is current. */
static int fetch_revalidate(struct pull_cache *pc, const char *key, const struct cache_ref *ref,
                            const struct http_config *c, const struct http_request *req, struct http_response *resp,
                            struct byte_source **out, lib_error *err) {
  const char *etag = http_etag_strong(ref->etag);
  _cleanup_headers_ struct curl_slist *headers = NULL;
  for (const struct curl_slist *h = req->headers; h; h = h->next)
    if (!(headers = curl_slist_append(headers, h->data)))
      return error_oom(err);
  _cleanup_free_ char *cond =
      etag ? xasprintf("If-None-Match: %s", etag) : xasprintf("If-Modified-Since: %s", ref->last_modified);
  if (!cond || !(headers = curl_slist_append(headers, cond)))
    return error_oom(err);
  struct http_request creq = *req;
  creq.headers = headers;
  creq.not_modified_ok = 1;
  int r = http_open_retry(c, &creq, resp, out, err);
  if (r < 0)
    return r;
  if (!*out) { /* 304: ours is current */
    _cleanup_free_ char *disposition = TAKE_PTR(resp->content_disposition);
    r = resp_from_ref(resp, ref, err);
    if (r == 0 && !resp->content_disposition)
      resp->content_disposition = TAKE_PTR(disposition);
    if (r == 0)
      r = pull_cache_use_blob(pc, ref->digest, out, err);
    if (r == 0)
      note_cache(pc, VMPULL_CACHE_REVALIDATED);
    if (r != -VMPULL_E_NOT_FOUND)
      return r;
    /* Pruned under us (we still hold the entry): fetch it after all. */
    error_clear(err);
    return fetch_download(pc, key, c, req, resp, out, err);
  }
  /* Changed on the server: this response is the new download. */
  note_cache(pc, VMPULL_CACHE_MISS);
  pull_cache_start_fill(pc, key, resp);
  return set_ref(pc, key, resp, err);
}

/* A 206 from byte have: the entry fills on from there, and the source counts the bytes the partial
 * already holds. */
static void resume_from_partial(struct pull_cache *pc, uint64_t have, struct byte_source *src) {
  pc->filling = 1;
  pc->resume_from = have;
  pc->used_cached_bytes = 1;
  note_resumed(pc, have);
  if (src->size != UINT64_MAX)
    src->size += have;
}

/* Ask for the rest of what partial/ holds have bytes of (meta: its record, validator: If-Range). */
static int fetch_resume_partial(struct pull_cache *pc, const char *key, const struct cache_partial *meta,
                                const char *validator, uint64_t have, const struct http_config *c,
                                const struct http_request *req, struct http_response *resp, struct byte_source **out,
                                lib_error *err) {
  struct http_request rreq = *req;
  rreq.range_start = have;
  rreq.if_range = validator;
  if (have == 0) /* a segmented entry with none of the first bytes: still a range, for If-Range */
    rreq.range_length = meta->total;
  int r = http_open_retry(c, &rreq, resp, out, err);
  if (r < 0) {
    if (resp->status != 416)
      return r;
    pull_cache_warn(pc, "%s: the server refused to resume at byte %llu (HTTP 416); starting over", key,
                    (unsigned long long)have);
    error_clear(err);
    return fetch_download(pc, key, c, req, resp, out, err);
  }
  if (resp->status == 206 && meta->total != UINT64_MAX && resp->content_range_total != UINT64_MAX &&
      resp->content_range_total != meta->total) {
    /* The same validator, another length: the validator lied, the file is not the one we have half of. */
    pull_cache_warn(pc,
                    "%s: changed on the server since the interrupted download (%llu bytes, now %llu); downloading "
                    "from the start",
                    key, (unsigned long long)meta->total, (unsigned long long)resp->content_range_total);
    source_free(TAKE_PTR(*out));
    http_response_clear(resp);
    return fetch_download(pc, key, c, req, resp, out, err);
  }
  note_cache(pc, VMPULL_CACHE_MISS);
  if (resp->status == 206) {
    resume_from_partial(pc, have, *out);
    if (resp->content_length != UINT64_MAX)
      resp->content_length += have;
    /* The validators are those of the bytes we have; the response may carry fewer headers. */
    if (!resp->etag && meta->etag && !(resp->etag = strdup(meta->etag)))
      return error_oom(err);
    if (!resp->last_modified && meta->last_modified && !(resp->last_modified = strdup(meta->last_modified)))
      return error_oom(err);
    return set_ref(pc, key, resp, err);
  }
  pull_cache_warn(pc, "%s: %s; downloading from the start", key,
                  http_etag_strong(meta->etag) && resp->etag && strcmp(meta->etag, resp->etag) != 0
                      ? "changed on the server since the interrupted download"
                      : "the server ignored the request to resume");
  pull_cache_start_fill(pc, key, resp);
  return set_ref(pc, key, resp, err);
}

static int fetch_blob_download(struct pull_cache *pc, const char *key, blob_open_fn open_at, void *ctx,
                               struct byte_source **out, lib_error *err) {
  long status = 0;
  int r = open_at(ctx, 0, &status, out, err);
  if (r < 0)
    return r;
  note_cache(pc, VMPULL_CACHE_MISS);
  struct http_response none = {.content_length = UINT64_MAX};
  pull_cache_start_fill(pc, key, &none);
  return 0;
}

/* Content-addressed: the bytes cannot have changed, no validator needed. */
static int fetch_blob_resume(struct pull_cache *pc, const char *key, const char *what, uint64_t have,
                             blob_open_fn open_at, void *ctx, struct byte_source **out, lib_error *err) {
  long status = 0;
  int r = open_at(ctx, have, &status, out, err);
  if (r == 0)
    note_cache(pc, VMPULL_CACHE_MISS);
  if (r == 0 && status == 206) {
    resume_from_partial(pc, have, *out);
    return 0;
  }
  if (r == 0) {
    pull_cache_warn(pc, "%s: the registry ignored the request to resume; downloading from the start", what);
  } else if (status == 416) {
    pull_cache_warn(pc, "%s: the registry refused to resume (HTTP 416); starting over", what);
    error_clear(err);
    r = open_at(ctx, 0, &status, out, err);
    if (r == 0)
      note_cache(pc, VMPULL_CACHE_MISS);
  }
  if (r < 0)
    return r;
  struct http_response none = {.content_length = UINT64_MAX};
  pull_cache_start_fill(pc, key, &none);
  return 0;
}

/* ---- The decision: which way, in this order. A cached blob is decided by opening it (one that
 * cannot be opened is no hit); --offline without the bytes ends here, or leaves a kept disk
 * (its digest handed back) as the only way, which the pull checks (api/pull_kept_disk.c). ---- */

enum fetch_way {
  FETCH_WAY_UNCACHED,   /* no cache for this pull: straight to the network */
  FETCH_WAY_CACHED,     /* blobs/ has the bytes: *out reads them already */
  FETCH_WAY_KEPT_DISK,  /* --offline without the bytes: only the disk kept from them can make the output */
  FETCH_WAY_REVALIDATE, /* a cached copy with a validator: the server says whether it is current */
  FETCH_WAY_RESUME,     /* partial/ holds the first bytes: ask for the rest */
  FETCH_WAY_DOWNLOAD,   /* from byte 0, into the entry */
};

struct fetch_decision {
  enum fetch_way way;
  char *key;                 /* the entry locked (a redacted URL, or "blob <digest>") */
  struct cache_ref ref;      /* a URL's cached record (REVALIDATE) */
  struct cache_partial meta; /* the partial's record (RESUME of a URL) */
  const char *validator;     /* RESUME of a URL: If-Range */
  char *kept_disk_only;      /* KEPT_DISK: the digest whose kept disk alone can make the output */
  uint64_t have;             /* RESUME: bytes in partial/ */
  int stale_ok;              /* ref's blob may serve when the server cannot be reached (fetch_stale) */
};

#define FETCH_DECISION_INIT                                                                                            \
  {                                                                                                                    \
    .ref = {.size = UINT64_MAX}, .meta = {.total = UINT64_MAX }                                                        \
  }

static void fetch_decision_clear(struct fetch_decision *d) {
  free(d->key);
  d->key = NULL;
  cache_ref_clear(&d->ref);
  cache_partial_clear(&d->meta);
  free(d->kept_disk_only);
}

/* The decision, one line for someone debugging a pull. */
static void log_way(const struct pull_cache *pc, const char *what, const struct fetch_decision *d) {
  static const char *const ways[] = {
      [FETCH_WAY_UNCACHED] = "download (not caching)",          [FETCH_WAY_CACHED] = "cached",
      [FETCH_WAY_KEPT_DISK] = "the kept disk only (--offline)", [FETCH_WAY_REVALIDATE] = "revalidate the cached copy",
      [FETCH_WAY_RESUME] = "resume the partial download",       [FETCH_WAY_DOWNLOAD] = "download into the cache"};
  if (d->way == FETCH_WAY_RESUME)
    hooks_log(pull_cache_hooks(pc), VMPULL_LOG_INFO, "fetch %s: %s from byte %llu", what, ways[d->way],
              (unsigned long long)d->have);
  else
    hooks_log(pull_cache_hooks(pc), VMPULL_LOG_INFO, "fetch %s: %s", what, ways[d->way]);
}

/* Serve digest from blobs/ if it is there: 1 *out reads it, 0 it is not (or cannot be opened: no
 * hit), or an error. */
static int try_cached_blob(struct pull_cache *pc, const char *digest, const struct cache_ref *ref,
                           struct http_response *resp, struct byte_source **out, lib_error *err) {
  if (!digest || !cache_blob_exists(pc->cache, digest))
    return 0;
  int r = fetch_cached_blob_open(pc, digest, ref, resp, out, err);
  if (r != -VMPULL_E_NOT_FOUND)
    return r < 0 ? r : 1;
  error_clear(err);
  return 0;
}

/* Lock the entry key (owned, NULL: out of memory) names for d (shown: how a wait names it): 1 the
 * entry is ours, 0 the cache is off for this pull (d->way UNCACHED), or an error. */
static int decide_lock(struct pull_cache *pc, char *key, const char *shown, struct fetch_decision *d, lib_error *err) {
  d->way = FETCH_WAY_UNCACHED;
  if (!(d->key = key))
    return error_oom(err);
  return pull_cache_lock_entry(pc, d->key, shown ? shown : d->key, err);
}

/* The digest a URL's bytes have without asking its server: the one promised (want), or under
 * --offline, with no server to ask, the one the URL's cached record (ref) names. */
static const char *url_digest_unasked(const struct pull_cache *pc, const char *want, const struct cache_ref *ref) {
  return want ? want : pc->set->offline && ref->key ? ref->digest : NULL;
}

static int decide_url(struct pull_cache *pc, const struct http_request *req, struct fetch_decision *d,
                      struct http_response *resp, struct byte_source **out, lib_error *err) {
  *out = NULL;
  d->way = FETCH_WAY_UNCACHED;
  if (!pc || !pc->cache)
    return 0;
  int r = decide_lock(pc, redact_url(req->url), NULL, d, err);
  if (r <= 0)
    return r;

  /* The bytes are promised by digest and we have them: no request at all. */
  d->way = FETCH_WAY_CACHED;
  if (pc->want_digest && cache_blob_exists(pc->cache, pc->want_digest)) {
    struct cache_ref ref = {.size = UINT64_MAX};
    int have_ref = cache_ref_get(pc->cache, d->key, &ref);
    r = try_cached_blob(pc, pc->want_digest, have_ref ? &ref : NULL, resp, out, err);
    cache_ref_clear(&ref);
    if (r != 0)
      return r < 0 ? r : 0;
  }
  struct cache_ref *ref = &d->ref;
  if (cache_ref_get(pc->cache, d->key, ref) && cache_blob_exists(pc->cache, ref->digest)) {
    if (pc->set->offline)
      return fetch_cached_blob_open(pc, ref->digest, ref, resp, out, err);
    /* (bytes promised by another digest would fail the pull: no copy to fall back on) */
    d->stale_ok = !pc->set->refresh && !pc->want_digest;
    d->way = FETCH_WAY_REVALIDATE;
    if (http_etag_strong(ref->etag) || ref->last_modified)
      return 0;
    /* No validator to ask with: only a new download can tell. */
  }
  if (pc->set->offline) {
    d->way = FETCH_WAY_KEPT_DISK;
    if (offline_from_kept_disk(pc, url_digest_unasked(pc, pc->want_digest, ref), &d->kept_disk_only))
      return ref->key ? resp_from_ref(resp, ref, err) : 0;
    return error_set(err, VMPULL_E_NOT_FOUND, "%s is not in the cache (--offline)", d->key);
  }

  /* Resume what an earlier pull left in partial/. */
  struct stat st;
  d->way = FETCH_WAY_DOWNLOAD;
  if (fstat(pc->fd, &st) == 0 && st.st_size > 0) {
    if (cache_partial_get(pc->cache, pc->name, &d->meta) && strcmp(d->meta.key, d->key) == 0)
      d->validator = http_etag_strong(d->meta.etag) ? d->meta.etag : d->meta.last_modified;
    if (!d->validator) {
      pull_cache_warn(pc, "%s: cannot resume the earlier download (the server gave no validator); starting over",
                      d->key);
    } else if (!d->meta.segmented) {
      d->way = FETCH_WAY_RESUME;
      d->have = (uint64_t)st.st_size;
    } else if (d->meta.n_extents > 0) {
      /* Filled out of order: the record, not the file's length, says what it holds. */
      d->way = FETCH_WAY_RESUME;
      d->have = fetch_segments_prefix(&d->meta);
    }
  }
  return 0;
}

static int decide_blob(struct pull_cache *pc, const char *digest, const char *what, struct fetch_decision *d,
                       struct byte_source **out, lib_error *err) {
  *out = NULL;
  d->way = FETCH_WAY_UNCACHED;
  if (!pc || !pc->cache || !cache_digest_hex(digest)) {
    if (pc && pc->set->offline)
      return error_set(err, VMPULL_E_NOT_FOUND, "%s is not in the cache (--offline)", what);
    return 0;
  }
  d->way = FETCH_WAY_CACHED;
  int r = try_cached_blob(pc, digest, NULL, NULL, out, err);
  if (r != 0)
    return r < 0 ? r : 0;
  if (pc->set->offline) {
    d->way = FETCH_WAY_KEPT_DISK;
    if (offline_from_kept_disk(pc, digest, &d->kept_disk_only))
      return 0;
    return error_set(err, VMPULL_E_NOT_FOUND, "%s is not in the cache (--offline)", what);
  }
  r = decide_lock(pc, xasprintf("blob %s", digest), what, d, err);
  if (r <= 0)
    return r;
  /* Another pull may have committed it while we waited. */
  d->way = FETCH_WAY_CACHED;
  r = try_cached_blob(pc, digest, NULL, NULL, out, err);
  if (r != 0)
    return r < 0 ? r : 0;
  if (dup_into(&pc->ref.key, NULL) < 0)
    return error_oom(err);
  struct stat st;
  d->have = fstat(pc->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
  /* Filled out of order (a segmented download): the record, not the file's length, says what it holds. */
  if (d->have > 0 && cache_partial_get(pc->cache, pc->name, &d->meta) && d->meta.segmented &&
      strcmp(d->meta.key, d->key) == 0)
    d->have = fetch_segments_prefix(&d->meta);
  d->way = d->have > 0 ? FETCH_WAY_RESUME : FETCH_WAY_DOWNLOAD;
  return 0;
}

int fetch_look(struct pull_cache *pc, const struct byte_plan *plan, const char *want, struct fetch_outlook *look,
               lib_error *err) {
  *look = (struct fetch_outlook){.reachable = 1};
  if (!pc || !pc->cache)
    return 0;
  if (plan->kind == BYTE_PLAN_URL) {
    _cleanup_free_ char *key = redact_url(plan->location);
    if (!key)
      return error_oom(err);
    _cleanup_(cache_ref_clear) struct cache_ref ref = {.size = UINT64_MAX};
    if (pc->set->offline) /* online, only the server can vouch for the record */
      (void)cache_ref_get(pc->cache, key, &ref);
    const char *digest = url_digest_unasked(pc, want, &ref);
    if (digest && !(look->digest = strdup(digest)))
      return error_oom(err);
    if (pc->set->offline) /* the blobs decide_url serves under --offline */
      look->reachable =
          (want && cache_blob_exists(pc->cache, want)) || (ref.key && cache_blob_exists(pc->cache, ref.digest));
  } else if (plan->kind == BYTE_PLAN_BLOB && plan->remote && pc->set->offline) {
    look->reachable = cache_digest_hex(plan->digest) && cache_blob_exists(pc->cache, plan->digest);
  }
  return 0;
}

void fetch_outlook_clear(struct fetch_outlook *look) {
  free(look->digest);
  look->digest = NULL;
}

/* "3 days ago": how long ago a record was written (0: not known). */
static void describe_age(time_t stored, char *buf, size_t size) {
  static const struct {
    const char *unit;
    time_t seconds;
  } units[] = {{"day", 86400}, {"hour", 3600}, {"minute", 60}, {"second", 1}};
  time_t now = time(NULL);
  if (stored <= 0) {
    snprintf(buf, size, "earlier (when is not known)");
    return;
  }
  time_t age = now > stored ? now - stored : 0;
  size_t i = 0;
  while (i + 1 < ARRAY_SIZE(units) && age < units[i].seconds)
    i++;
  long long n = (long long)(age / units[i].seconds);
  snprintf(buf, size, "%lld %s%s ago", n, units[i].unit, n == 1 ? "" : "s");
}

/* The server could not be reached (err says why) and the cache has a copy (d->ref): that copy,
 * stale maybe, said once with its age; the outcome reports it as such. */
static int fetch_stale(struct pull_cache *pc, const struct fetch_decision *d, struct http_response *resp,
                       struct byte_source **out, lib_error *err) {
  lib_error why = *err;
  error_clear(err);
  int r = fetch_cached_blob_open(pc, d->ref.digest, &d->ref, resp, out, err);
  if (r == -VMPULL_E_NOT_FOUND) { /* pruned meanwhile: the server's error stands */
    *err = why;
    return -why.code;
  }
  if (r < 0)
    return r;
  note_cache(pc, VMPULL_CACHE_STALE);
  char age[64];
  describe_age(d->ref.stored, age, sizeof(age));
  hooks_log(pull_cache_hooks(pc), VMPULL_LOG_INFO, "fetch %s: %s", d->key, why.message);
  pull_cache_warn(pc, "%s: server unreachable; using the copy cached %s", d->key, age);
  return 0;
}

static int fetch_url_way(struct pull_cache *pc, struct fetch_decision *d, const struct http_config *c,
                         const struct http_request *req, struct http_response *resp, struct byte_source **out,
                         char **kept_disk_only, lib_error *err) {
  switch (d->way) {
  case FETCH_WAY_UNCACHED: return http_open_retry(c, req, resp, out, err);
  case FETCH_WAY_CACHED: return 0;
  case FETCH_WAY_KEPT_DISK:
    free(*kept_disk_only);
    *kept_disk_only = TAKE_PTR(d->kept_disk_only);
    return 0;
  case FETCH_WAY_REVALIDATE: return fetch_revalidate(pc, d->key, &d->ref, c, req, resp, out, err);
  case FETCH_WAY_RESUME:
    return fetch_resume_partial(pc, d->key, &d->meta, d->validator, d->have, c, req, resp, out, err);
  case FETCH_WAY_DOWNLOAD: break;
  }
  return fetch_download(pc, d->key, c, req, resp, out, err);
}

static int fetch_url_open(struct pull_cache *pc, const struct http_config *base, const struct http_request *req,
                          struct http_response *resp, struct byte_source **out, char **kept_disk_only, lib_error *err) {
  _cleanup_(fetch_decision_clear) struct fetch_decision d = FETCH_DECISION_INIT;
  int r = decide_url(pc, req, &d, resp, out, err);
  if (r < 0)
    return r;
  log_way(pc, d.key ? d.key : "the source URL", &d);
  /* A body that finds the file changed on the server hands the new version over (fetch_url_restart). */
  struct http_config c = *base;
  c.restart = pc ? &pc->restart : NULL;
  /* With a copy to fall back on, a server that cannot be reached is asked once, not retried. */
  struct http_request rq = *req;
  rq.unreachable_is_final = d.stale_ok;
  r = fetch_url_way(pc, &d, &c, &rq, resp, out, kept_disk_only, err);
  if (r < 0 && d.stale_ok && http_unreachable(err))
    return fetch_stale(pc, &d, resp, out, err);
  if (r == 0 && *out && d.way != FETCH_WAY_CACHED && d.way != FETCH_WAY_KEPT_DISK)
    r = fetch_segmented(pc, &c, &rq, resp, d.key, d.way == FETCH_WAY_RESUME ? &d.meta : NULL, out, err);
  return r;
}

static int fetch_blob_way(struct pull_cache *pc, const char *what, struct fetch_decision *d, blob_open_fn open_at,
                          void *ctx, struct byte_source **out, char **kept_disk_only, lib_error *err) {
  long status = 0;
  switch (d->way) {
  case FETCH_WAY_UNCACHED: return open_at(ctx, 0, &status, out, err);
  case FETCH_WAY_CACHED: return 0;
  case FETCH_WAY_KEPT_DISK:
    free(*kept_disk_only);
    *kept_disk_only = TAKE_PTR(d->kept_disk_only);
    return 0;
  case FETCH_WAY_RESUME: return fetch_blob_resume(pc, d->key, what, d->have, open_at, ctx, out, err);
  case FETCH_WAY_REVALIDATE: /* never decided for a blob: by its digest it cannot be stale */
  case FETCH_WAY_DOWNLOAD: break;
  }
  return fetch_blob_download(pc, d->key, open_at, ctx, out, err);
}

static int fetch_blob_open(struct pull_cache *pc, const char *digest, const char *what, blob_open_fn open_at,
                           blob_target_fn target, void *ctx, struct byte_source **out, char **kept_disk_only,
                           lib_error *err) {
  _cleanup_(fetch_decision_clear) struct fetch_decision d = FETCH_DECISION_INIT;
  int r = decide_blob(pc, digest, what, &d, out, err);
  if (r < 0)
    return r;
  log_way(pc, what, &d);
  r = fetch_blob_way(pc, what, &d, open_at, ctx, out, kept_disk_only, err);
  if (r == 0 && *out && d.way != FETCH_WAY_CACHED && d.way != FETCH_WAY_KEPT_DISK)
    r = fetch_segmented_blob(pc, target, ctx, d.key, d.way == FETCH_WAY_RESUME ? &d.meta : NULL, out, err);
  return r;
}

/* The bytes a download puts into the entry it fills are recorded by the source it returns; those
 * that came over the network (not from blobs/) are counted for the outcome. */
static int fetch_finish(struct pull_cache *pc, struct byte_source **out, lib_error *err) {
  if (pc && pc->self_recording) /* a segmented download writes the entry and counts its bytes itself */
    return 0;
  int from_cache = pc && pc->facts &&
                   (pc->facts->cache == VMPULL_CACHE_HIT || pc->facts->cache == VMPULL_CACHE_REVALIDATED ||
                    pc->facts->cache == VMPULL_CACHE_STALE);
  int r = from_cache || !pc ? 0 : pull_facts_count(pc->facts, out, err);
  return r < 0 ? r : pull_cache_record(pc, out, err);
}

int fetch_url(struct pull_cache *pc, const struct http_config *c, const struct http_request *req,
              struct http_response *resp, struct byte_source **out, char **kept_disk_only, lib_error *err) {
  int r = fetch_url_open(pc, c, req, resp, out, kept_disk_only, err);
  return r < 0 ? r : fetch_finish(pc, out, err);
}

int fetch_url_restart(struct pull_cache *pc, struct http_response *resp, struct byte_source **out, lib_error *err) {
  http_response_clear(resp);
  *resp = pc->restart.resp;
  pc->restart.resp = (struct http_response){0};
  *out = TAKE_PTR(pc->restart.src);
  note_cache(pc, VMPULL_CACHE_MISS);
  note_resumed(pc, 0);
  pc->used_cached_bytes = 0;
  pc->self_recording = 0;
  if (pc->cache && pc->fd >= 0 && pc->ref.key) {
    /* The entry is filled again from byte 0: the old version's bytes in it (resumed or not) go. */
    _cleanup_free_ char *key = strdup(pc->ref.key);
    if (!key)
      return error_oom(err);
    pull_cache_start_fill(pc, key, resp);
    int r = set_ref(pc, key, resp, err);
    if (r < 0)
      return r;
  }
  return fetch_finish(pc, out, err);
}

int fetch_blob(struct pull_cache *pc, const char *digest, const char *what, blob_open_fn open_at, blob_target_fn target,
               void *ctx, struct byte_source **out, char **kept_disk_only, lib_error *err) {
  int r = fetch_blob_open(pc, digest, what, open_at, target, ctx, out, kept_disk_only, err);
  return r < 0 ? r : fetch_finish(pc, out, err);
}
