/* SPDX-License-Identifier: Apache-2.0 */
#include "fetch/pull_cache.h"

#include "base/error.h"
#include "base/progress.h"
#include "base/redact.h"
#include "base/util.h"
#include "net/http_retry.h"
#include "pipeline/tee.h"
#include "store/lock.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

static void warn(const struct pull_cache *pc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(const struct pull_cache *pc, const char *fmt, ...) {
  if (!pc->o)
    return;
  va_list ap;
  va_start(ap, fmt);
  warning_vsend(pc->o->warning, pc->o->warning_data, fmt, ap);
  va_end(ap);
}

void pull_cache_warn(const struct pull_cache *pc, const char *fmt, ...) {
  char msg[VMPULL_ERROR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  warn(pc, "%s", msg);
}

int pull_cache_init(struct pull_cache *pc, const vmpull_pull_options *o, struct progress_state *progress, int *distrust,
                    vmpull_error *err) {
  *pc = (struct pull_cache)PULL_CACHE_INIT;
  pc->o = o;
  pc->progress = progress;
  pc->err = err;
  pc->distrust = distrust;
  if (o->expected_digest) {
    pc->want_digest = strdup(o->expected_digest);
    if (!pc->want_digest)
      return error_oom(err);
  }
  if (o->no_cache || !o->cache_dir || !*o->cache_dir) {
    if (o->offline)
      return error_set(err, VMPULL_E_USAGE, "--offline needs the cache (it was %s)",
                       o->no_cache ? "turned off with --no-cache" : "not given");
    return 0;
  }
  vmpull_error cerr;
  int refused = 0;
  int r = cache_open(o->cache_dir, 1, &pc->cache, &refused, &cerr);
  if (r < 0) {
    /* A link below the cache folder is someone's doing, not an unusable cache: stop. */
    if (o->offline || refused) {
      *err = cerr;
      return r;
    }
    warn(pc, "not using the cache: %s", cerr.message);
  }
  return 0;
}

void pull_cache_http_config(const struct pull_cache *pc, const vmpull_pull_options *o, struct http_config *c) {
  http_config_from_options(c, o);
  c->progress = pc ? pc->progress : NULL;
}

/* Give up the entry. An empty partial is only a lock: it goes (we hold it). */
static void release(struct pull_cache *pc, int drop) {
  if (pc->fd < 0)
    return;
  struct stat st;
  if (drop || (fstat(pc->fd, &st) == 0 && st.st_size == 0 && !pc->filling)) {
    cache_partial_forget(pc->cache, pc->name);
    unlinkat(pc->cache->partial_fd, pc->name, 0);
  }
  closep(&pc->fd);
  pc->filling = 0;
}

void pull_cache_done(struct pull_cache *pc) {
  int code = pc->err ? pc->err->code : VMPULL_OK;
  /* Damaged bytes from the cache cost one more attempt, never a bad disk. */
  int bad = !pc->committed && pc->used_cached_bytes &&
            (code == VMPULL_E_DIGEST || code == VMPULL_E_CORRUPT || code == VMPULL_E_UNSUPPORTED);
  if (pc->cache) {
    /* A blob that still hashes to its name is not what failed (a wrong --digest, bad content
     * upstream): keep it, and fetching it again would change nothing. */
    if (bad && pc->hit_digest && !pc->filling) {
      if (cache_blob_verify(pc->cache, pc->hit_digest) == 1)
        bad = 0;
      else
        cache_blob_remove(pc->cache, pc->hit_digest);
    }
    /* A failed download keeps its bytes for the next pull to resume, unless
     * they are the reason it failed (a digest or decoder error). */
    int drop = pc->filling && (code == VMPULL_E_DIGEST || code == VMPULL_E_CORRUPT || code == VMPULL_E_UNSUPPORTED);
    if (pc->filling && pc->resume_from == 0 && !drop) {
      struct stat st;
      drop = fstat(pc->fd, &st) == 0 && st.st_size == 0;
    }
    release(pc, drop);
  }
  if (bad && pc->err && pc->cache)
    error_wrap(pc->err, "%s in %s", pc->hit_digest ? "cached copy" : "interrupted download", pc->cache->dir);
  if (bad && pc->distrust && !*pc->distrust && !(pc->o && pc->o->offline))
    *pc->distrust = 1;
  cache_free(pc->cache);
  cache_ref_clear(&pc->ref);
  free(pc->want_digest);
  free(pc->hit_digest);
  free(pc->disk_only);
  *pc = (struct pull_cache)PULL_CACHE_INIT;
}

/* The cache only saves time: when writing into it fails (read-only, full, damaged), say so
 * once and go on without it, dropping what this pull had put into partial/. */
static void give_up(struct pull_cache *pc, const char *why) {
  if (!pc->cache)
    return;
  warn(pc, "cache disabled for this pull: %s", why);
  release(pc, 1);
  cache_free(pc->cache);
  pc->cache = NULL;
}

/* 1: the entry is ours to fill; 0: the cache could not take it and is off for this pull. */
static int lock_entry(struct pull_cache *pc, const char *key, const char *shown, vmpull_error *err) {
  cache_key_name(key, pc->name);
  struct lock_wait w = {
      .what = shown,
      .warning = pc->o->warning,
      .warning_data = pc->o->warning_data,
      .cancel = pc->o->cancel,
  };
  int r = lock_file(pc->cache->partial_fd, pc->name, &w, &pc->fd, err);
  if (r == 0)
    return 1;
  if (err->code == VMPULL_E_CANCELLED || pc->o->offline)
    return r;
  give_up(pc, err->message);
  error_clear(err);
  return 0;
}

void pull_cache_fill_failed(void *data, int errnum) {
  struct pull_cache *pc = data;
  if (!pc->cache)
    return;
  char why[VMPULL_ERROR_MAX];
  snprintf(why, sizeof(why), "write %s/partial/%s: %s", pc->cache->dir, pc->name, strerror(errnum));
  give_up(pc, why);
}

/* Bytes read from the cache count as "resumed" in the progress events. */
struct cached_source {
  struct byte_source base;
  struct byte_source *inner;
  struct progress_state *progress;
};

static int cached_read(struct byte_source *src, uint8_t *buf, size_t cap, size_t *got, vmpull_error *err) {
  struct cached_source *s = (struct cached_source *)src;
  int r = source_read(s->inner, buf, cap, got, err);
  if (r == 0 && s->progress)
    s->progress->ev.resumed += *got;
  return r;
}

static void cached_free(struct byte_source *src) {
  struct cached_source *s = (struct cached_source *)src;
  source_free(s->inner);
  free(s);
}

static const struct byte_source_ops cached_ops = {.read = cached_read, .free = cached_free};

/* Serve the bytes from blobs/; the entry's lock is not needed for that. */
static int use_blob(struct pull_cache *pc, const char *digest, struct byte_source **out, vmpull_error *err) {
  struct byte_source *file = NULL;
  int r = cache_blob_open(pc->cache, digest, &file, err);
  if (r < 0)
    return r;
  struct cached_source *s = calloc(1, sizeof(*s));
  if (!s) {
    source_free(file);
    return error_oom(err);
  }
  s->base.ops = &cached_ops;
  s->base.name = file->name;
  s->base.size = file->size;
  s->inner = file;
  s->progress = pc->progress;
  *out = &s->base;
  free(pc->hit_digest);
  pc->hit_digest = strdup(digest);
  if (!pc->hit_digest)
    return error_oom(err);
  pc->used_cached_bytes = 1;
  /* A partial of the same thing is of no use any more. */
  release(pc, 1);
  return 0;
}

static int dup_into(char **slot, const char *v) {
  free(*slot);
  *slot = v ? strdup(v) : NULL;
  return !v || *slot ? 0 : -1;
}

/* --offline without the bytes: a disk kept from them may still make the output. The pull then
 * has no source: pull_cache_from_disk checks the disk, and fails the pull if it cannot use it. */
static int offline_from_kept_disk(struct pull_cache *pc, const char *digest) {
  return digest && cache_disk_exists(pc->cache, digest) && dup_into(&pc->disk_only, digest) == 0;
}

/* Start filling the entry from byte 0 with this response (or, when the cache cannot take it, go on without). */
static void start_fill(struct pull_cache *pc, const char *key, const struct http_response *resp) {
  if (ftruncate(pc->fd, 0) < 0) {
    vmpull_error why;
    error_set_errno(&why, VMPULL_E_IO, errno, "truncate %s/partial/%s", pc->cache->dir, pc->name);
    give_up(pc, why.message);
    return;
  }
  struct cache_partial meta = {
      .key = (char *)key,
      .etag = resp ? resp->etag : NULL,
      .last_modified = resp ? resp->last_modified : NULL,
      .digest = pc->want_digest,
      .total = resp ? resp->content_length : UINT64_MAX,
  };
  vmpull_error why;
  if (cache_partial_put(pc->cache, pc->name, &meta, &why) < 0) {
    give_up(pc, why.message);
    return;
  }
  pc->filling = 1;
  pc->resume_from = 0;
}

static int set_ref(struct pull_cache *pc, const char *key, const struct http_response *resp, vmpull_error *err) {
  if (dup_into(&pc->ref.key, key) < 0 || dup_into(&pc->ref.etag, resp ? resp->etag : NULL) < 0 ||
      dup_into(&pc->ref.last_modified, resp ? resp->last_modified : NULL) < 0 ||
      dup_into(&pc->ref.content_disposition, resp ? resp->content_disposition : NULL) < 0)
    return error_oom(err);
  return 0;
}

/* If-Range and If-None-Match need a strong ETag to mean "these exact bytes". */
static const char *strong_etag(const char *etag) {
  return http_etag_strong(etag);
}

/* Fill resp from the cache's record, as if the server had answered. */
static int resp_from_ref(struct http_response *resp, const struct cache_ref *ref, vmpull_error *err) {
  http_response_clear(resp);
  resp->status = 304;
  if (dup_into(&resp->etag, ref->etag) < 0 || dup_into(&resp->last_modified, ref->last_modified) < 0 ||
      dup_into(&resp->content_disposition, ref->content_disposition) < 0)
    return error_oom(err);
  resp->content_length = ref->size;
  return 0;
}

static int fetch_fresh(struct pull_cache *pc, const char *key, const struct http_config *c,
                       const struct http_request *req, struct http_response *resp, struct byte_source **out,
                       vmpull_error *err) {
  int r = http_open_retry(c, req, resp, out, err);
  if (r < 0)
    return r;
  start_fill(pc, key, resp);
  return set_ref(pc, key, resp, err);
}

int fetch_url(struct pull_cache *pc, const struct http_config *c, const struct http_request *req,
              struct http_response *resp, struct byte_source **out, vmpull_error *err) {
  *out = NULL;
  if (!pc || !pc->cache)
    return http_open_retry(c, req, resp, out, err);
  _cleanup_free_ char *key = redact_url(req->url);
  if (!key)
    return error_oom(err);
  int r = lock_entry(pc, key, key, err);
  if (r < 0)
    return r;
  if (r == 0)
    return http_open_retry(c, req, resp, out, err);

  /* The bytes are promised by digest and we have them: no request at all. */
  if (pc->want_digest && cache_blob_exists(pc->cache, pc->want_digest)) {
    struct cache_ref ref = {.size = UINT64_MAX};
    int have_ref = cache_ref_get(pc->cache, key, &ref);
    r = have_ref ? resp_from_ref(resp, &ref, err) : 0;
    cache_ref_clear(&ref);
    if (r == 0)
      r = use_blob(pc, pc->want_digest, out, err);
    if (r != -VMPULL_E_NOT_FOUND)
      return r;
    error_clear(err);
  }

  __attribute__((cleanup(cache_ref_clear))) struct cache_ref ref = {.size = UINT64_MAX};
  if (cache_ref_get(pc->cache, key, &ref) && cache_blob_exists(pc->cache, ref.digest)) {
    if (pc->o->offline) {
      r = resp_from_ref(resp, &ref, err);
      return r < 0 ? r : use_blob(pc, ref.digest, out, err);
    }
    const char *etag = strong_etag(ref.etag);
    if (etag || ref.last_modified) {
      _cleanup_headers_ struct curl_slist *headers = NULL;
      for (const struct curl_slist *h = req->headers; h; h = h->next)
        if (!(headers = curl_slist_append(headers, h->data)))
          return error_oom(err);
      _cleanup_free_ char *cond =
          etag ? xasprintf("If-None-Match: %s", etag) : xasprintf("If-Modified-Since: %s", ref.last_modified);
      if (!cond || !(headers = curl_slist_append(headers, cond)))
        return error_oom(err);
      struct http_request creq = *req;
      creq.headers = headers;
      creq.not_modified_ok = 1;
      r = http_open_retry(c, &creq, resp, out, err);
      if (r < 0)
        return r;
      if (!*out) { /* 304: ours is current */
        _cleanup_free_ char *disposition = TAKE_PTR(resp->content_disposition);
        r = resp_from_ref(resp, &ref, err);
        if (r == 0 && !resp->content_disposition)
          resp->content_disposition = TAKE_PTR(disposition);
        if (r == 0)
          r = use_blob(pc, ref.digest, out, err);
        if (r != -VMPULL_E_NOT_FOUND)
          return r;
        /* Pruned under us (we still hold the entry): fetch it after all. */
        error_clear(err);
        return fetch_fresh(pc, key, c, req, resp, out, err);
      }
      /* Changed on the server: this response is the new download. */
      start_fill(pc, key, resp);
      return set_ref(pc, key, resp, err);
    }
    /* No validator to ask with: only a new download can tell. */
  }
  if (pc->o->offline) {
    if (offline_from_kept_disk(pc, pc->want_digest ? pc->want_digest : ref.key ? ref.digest : NULL))
      return ref.key ? resp_from_ref(resp, &ref, err) : 0;
    return error_set(err, VMPULL_E_NOT_FOUND, "%s is not in the cache (--offline)", key);
  }

  /* Resume what an earlier pull left in partial/. */
  struct stat st;
  __attribute__((cleanup(cache_partial_clear))) struct cache_partial meta = {.total = UINT64_MAX};
  if (fstat(pc->fd, &st) == 0 && st.st_size > 0) {
    const char *validator = NULL;
    if (cache_partial_get(pc->cache, pc->name, &meta) && strcmp(meta.key, key) == 0)
      validator = strong_etag(meta.etag) ? meta.etag : meta.last_modified;
    if (!validator) {
      warn(pc, "%s: cannot resume the earlier download (the server gave no validator); starting over", key);
    } else {
      uint64_t have = (uint64_t)st.st_size;
      struct http_request rreq = *req;
      rreq.range_start = have;
      rreq.if_range = validator;
      r = http_open_retry(c, &rreq, resp, out, err);
      if (r < 0) {
        if (resp->status != 416)
          return r;
        warn(pc, "%s: the server refused to resume at byte %llu (HTTP 416); starting over", key,
             (unsigned long long)have);
        error_clear(err);
        return fetch_fresh(pc, key, c, req, resp, out, err);
      }
      if (resp->status == 206 && meta.total != UINT64_MAX && resp->content_range_total != UINT64_MAX &&
          resp->content_range_total != meta.total) {
        /* The same validator, another length: the validator lied, the file is not the one we have half of. */
        warn(pc,
             "%s: changed on the server since the interrupted download (%llu bytes, now %llu); downloading from "
             "the start",
             key, (unsigned long long)meta.total, (unsigned long long)resp->content_range_total);
        source_free(TAKE_PTR(*out));
        http_response_clear(resp);
        return fetch_fresh(pc, key, c, req, resp, out, err);
      }
      if (resp->status == 206) {
        pc->filling = 1;
        pc->resume_from = have;
        pc->used_cached_bytes = 1;
        if ((*out)->size != UINT64_MAX)
          (*out)->size += have;
        if (resp->content_length != UINT64_MAX)
          resp->content_length += have;
        /* The validators are those of the bytes we have; the response may carry fewer headers. */
        if (!resp->etag && meta.etag && !(resp->etag = strdup(meta.etag)))
          return error_oom(err);
        if (!resp->last_modified && meta.last_modified && !(resp->last_modified = strdup(meta.last_modified)))
          return error_oom(err);
        return set_ref(pc, key, resp, err);
      }
      warn(pc, "%s: %s; downloading from the start", key,
           strong_etag(meta.etag) && resp->etag && strcmp(meta.etag, resp->etag) != 0
               ? "changed on the server since the interrupted download"
               : "the server ignored the request to resume");
      start_fill(pc, key, resp);
      return set_ref(pc, key, resp, err);
    }
  }
  return fetch_fresh(pc, key, c, req, resp, out, err);
}

int fetch_blob(struct pull_cache *pc, const char *digest, const char *what, blob_open_fn open_at, void *ctx,
               struct byte_source **out, vmpull_error *err) {
  *out = NULL;
  long status = 0;
  if (!pc || !pc->cache || !cache_digest_hex(digest)) {
    if (pc && pc->o->offline)
      return error_set(err, VMPULL_E_NOT_FOUND, "%s is not in the cache (--offline)", what);
    return open_at(ctx, 0, &status, out, err);
  }
  if (cache_blob_exists(pc->cache, digest)) {
    int r = use_blob(pc, digest, out, err);
    if (r != -VMPULL_E_NOT_FOUND)
      return r;
    error_clear(err);
  }
  if (pc->o->offline) {
    if (offline_from_kept_disk(pc, digest))
      return 0;
    return error_set(err, VMPULL_E_NOT_FOUND, "%s is not in the cache (--offline)", what);
  }
  _cleanup_free_ char *key = xasprintf("blob %s", digest);
  if (!key)
    return error_oom(err);
  int r = lock_entry(pc, key, what, err);
  if (r < 0)
    return r;
  if (r == 0)
    return open_at(ctx, 0, &status, out, err);
  /* Another pull may have committed it while we waited. */
  if (cache_blob_exists(pc->cache, digest)) {
    r = use_blob(pc, digest, out, err);
    if (r != -VMPULL_E_NOT_FOUND)
      return r;
    error_clear(err);
  }
  if (dup_into(&pc->ref.key, NULL) < 0)
    return error_oom(err);
  struct stat st;
  uint64_t have = fstat(pc->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
  if (have > 0) {
    /* Content-addressed: the bytes cannot have changed, no validator needed. */
    r = open_at(ctx, have, &status, out, err);
    if (r == 0 && status == 206) {
      pc->filling = 1;
      pc->resume_from = have;
      pc->used_cached_bytes = 1;
      if ((*out)->size != UINT64_MAX)
        (*out)->size += have;
      return 0;
    }
    if (r == 0) {
      warn(pc, "%s: the registry ignored the request to resume; downloading from the start", what);
    } else if (status == 416) {
      warn(pc, "%s: the registry refused to resume (HTTP 416); starting over", what);
      error_clear(err);
      r = open_at(ctx, 0, &status, out, err);
    }
    if (r < 0)
      return r;
  } else {
    r = open_at(ctx, 0, &status, out, err);
    if (r < 0)
      return r;
  }
  struct http_response none = {.content_length = UINT64_MAX};
  start_fill(pc, key, &none);
  return 0;
}

int fetch_document(struct pull_cache *pc, const struct http_config *c, const struct http_request *req,
                   struct http_response *resp, vmpull_error *err) {
  if (!pc || !pc->cache)
    return http_get_retry(c, req, resp, err);
  _cleanup_free_ char *key = redact_url(req->url);
  if (!key)
    return error_oom(err);
  __attribute__((cleanup(cache_ref_clear))) struct cache_ref ref = {.size = UINT64_MAX};
  int cached = cache_ref_get(pc->cache, key, &ref) && cache_blob_exists(pc->cache, ref.digest);
  size_t max = req->max_body ? (size_t)req->max_body : 16u << 20;
  if (pc->o->offline) {
    if (!cached)
      return error_set(err, VMPULL_E_NOT_FOUND, "%s is not in the cache (--offline)", key);
    http_response_clear(resp);
    resp->status = 200;
    int r = cache_blob_read(pc->cache, ref.digest, max, &resp->body, &resp->body_len, err);
    if (r < 0)
      return error_wrap(err, "%s", key);
    if (dup_into(&resp->content_type, ref.media_type) < 0)
      return error_oom(err);
    return 0;
  }
  _cleanup_headers_ struct curl_slist *headers = NULL;
  for (const struct curl_slist *h = req->headers; h; h = h->next)
    if (!(headers = curl_slist_append(headers, h->data)))
      return error_oom(err);
  const char *etag = cached ? strong_etag(ref.etag) : NULL;
  if (etag || (cached && ref.last_modified)) {
    _cleanup_free_ char *cond =
        etag ? xasprintf("If-None-Match: %s", etag) : xasprintf("If-Modified-Since: %s", ref.last_modified);
    if (!cond || !(headers = curl_slist_append(headers, cond)))
      return error_oom(err);
  }
  struct http_request creq = *req;
  creq.headers = headers;
  int r = http_get_retry(c, &creq, resp, err);
  if (r < 0)
    return r;
  if (resp->status == 304 && cached) {
    free(resp->body);
    resp->body = NULL;
    r = cache_blob_read(pc->cache, ref.digest, max, &resp->body, &resp->body_len, err);
    if (r == -VMPULL_E_NOT_FOUND) {
      /* Damaged or pruned: ask again without the condition. */
      error_clear(err);
      http_response_clear(resp);
      creq.headers = req->headers;
      return http_get_retry(c, &creq, resp, err);
    }
    if (r < 0)
      return r;
    resp->status = 200;
    if (!resp->content_type && ref.media_type && !(resp->content_type = strdup(ref.media_type)))
      return error_oom(err);
    return 0;
  }
  if (resp->status == 200 && (resp->etag || resp->last_modified)) {
    /* Without a validator a cached copy could never be reused online; keep it for --offline all the same. */
    char digest[80];
    vmpull_error ignored;
    if (cache_blob_write(pc->cache, resp->body, resp->body_len, digest, &ignored) == 0) {
      struct cache_ref nref = {.key = key,
                               .digest = digest,
                               .etag = resp->etag,
                               .last_modified = resp->last_modified,
                               .media_type = resp->content_type,
                               .size = resp->body_len};
      (void)cache_ref_put(pc->cache, &nref, &ignored);
    }
  } else if (resp->status == 200) {
    char digest[80];
    vmpull_error ignored;
    if (cache_blob_write(pc->cache, resp->body, resp->body_len, digest, &ignored) == 0) {
      struct cache_ref nref = {.key = key, .digest = digest, .media_type = resp->content_type, .size = resp->body_len};
      (void)cache_ref_put(pc->cache, &nref, &ignored);
    }
  }
  return 0;
}

int pull_cache_fill_fd(const struct pull_cache *pc) {
  return pc->filling ? pc->fd : -1;
}
uint64_t pull_cache_fill_offset(const struct pull_cache *pc) {
  return pc->filling ? pc->resume_from : 0;
}

/* ---- replay: the partial's bytes first, hashed and decoded like fresh ones ---- */

struct replay_source {
  struct byte_source base;
  struct byte_source *tee;
  int fd; /* borrowed from the pull_cache */
  uint64_t off, end;
  struct progress_state *progress;
};

static int replay_read(struct byte_source *src, uint8_t *buf, size_t cap, size_t *got, vmpull_error *err) {
  struct replay_source *s = (struct replay_source *)src;
  if (s->off >= s->end)
    return source_read(s->tee, buf, cap, got, err);
  int r = progress_check_cancel(s->progress, err);
  if (r < 0)
    return r;
  for (;;) {
    ssize_t n = pread(s->fd, buf, (size_t)MIN((uint64_t)cap, s->end - s->off), (off_t)s->off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return error_set_errno(err, VMPULL_E_IO, errno, "read the interrupted download of %s", s->base.name);
    if (n == 0)
      return error_set(err, VMPULL_E_IO, "the interrupted download of %s shrank", s->base.name);
    s->off += (uint64_t)n;
    *got = (size_t)n;
    break;
  }
  r = tee_prime(s->tee, buf, *got, err);
  if (r < 0)
    return r;
  if (s->progress) {
    s->progress->ev.fetched += *got;
    s->progress->ev.resumed += *got;
    return progress_report(s->progress, 0, err);
  }
  return 0;
}

static void replay_free(struct byte_source *src) {
  struct replay_source *s = (struct replay_source *)src;
  source_free(s->tee);
  free(s);
}

static const struct byte_source_ops replay_ops = {.read = replay_read, .free = replay_free};

int pull_cache_replay(struct pull_cache *pc, struct byte_source *tee, struct byte_source **top, vmpull_error *err) {
  if (!pc->filling || pc->resume_from == 0) {
    *top = tee;
    return 0;
  }
  struct replay_source *s = calloc(1, sizeof(*s));
  if (!s) {
    source_free(tee);
    return error_oom(err);
  }
  s->base.ops = &replay_ops;
  s->base.name = tee->name;
  s->base.size = tee->size;
  s->tee = tee;
  s->fd = pc->fd;
  s->end = pc->resume_from;
  s->progress = pc->progress;
  *top = &s->base;
  return 0;
}

int pull_cache_commit(struct pull_cache *pc, const char *digest, vmpull_error *err) {
  if (!pc->cache)
    return 0;
  if (pc->hit_digest && strcmp(pc->hit_digest, digest) != 0)
    return error_set(err, VMPULL_E_DIGEST, "cached copy %s/blobs/sha256/%s is damaged (it hashes to %s)",
                     pc->cache->dir, pc->hit_digest + 7, digest);
  if (!pc->filling)
    return 0;
  if (pc->want_digest && strcmp(pc->want_digest, digest) != 0)
    return 0; /* the pull itself fails on this; keep nothing */
  vmpull_error cerr;
  int r = cache_commit_partial(pc->cache, pc->name, pc->fd, digest, &cerr);
  if (r == 0 && pc->ref.key) {
    pc->ref.digest = strdup(digest);
    struct stat st;
    pc->ref.size = fstat(pc->fd, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
    r = pc->ref.digest ? cache_ref_put(pc->cache, &pc->ref, &cerr) : error_oom(&cerr);
  }
  pc->committed = 1;
  pc->filling = 0;
  closep(&pc->fd); /* renamed away: nothing to unlink */
  if (r < 0)
    warn(pc, "could not keep the download in the cache: %s", cerr.message);
  return 0;
}

/* ---- documents (manifests) ---- */

int cache_document_by_digest(struct pull_cache *pc, const char *digest, char **buf, size_t *len) {
  if (!pc || !pc->cache || !cache_digest_hex(digest) || !cache_blob_exists(pc->cache, digest))
    return 0;
  vmpull_error ignored;
  return cache_blob_read(pc->cache, digest, 16u << 20, buf, len, &ignored) == 0;
}

int cache_document_by_ref(struct pull_cache *pc, const char *key, char **buf, size_t *len, char **digest,
                          char **media_type) {
  if (!pc || !pc->cache)
    return 0;
  __attribute__((cleanup(cache_ref_clear))) struct cache_ref ref = {.size = UINT64_MAX};
  if (!cache_ref_get(pc->cache, key, &ref) || !cache_document_by_digest(pc, ref.digest, buf, len))
    return 0;
  free(*digest);
  *digest = TAKE_PTR(ref.digest);
  free(*media_type);
  *media_type = TAKE_PTR(ref.media_type);
  return 1;
}

void cache_document_put(struct pull_cache *pc, const char *key, const char *media_type, const char *buf, size_t len) {
  if (!pc || !pc->cache)
    return;
  char digest[80];
  vmpull_error ignored;
  if (cache_blob_write(pc->cache, buf, len, digest, &ignored) < 0 || !key)
    return;
  struct cache_ref ref = {.key = (char *)key, .digest = digest, .media_type = (char *)media_type, .size = len};
  (void)cache_ref_put(pc->cache, &ref, &ignored);
}
