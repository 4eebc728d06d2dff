/* SPDX-License-Identifier: Apache-2.0 */
#include "net/http_retry.h"

#include "base/error.h"
#include "base/progress.h"
#include "base/redact.h"
#include "base/util.h"

#include <time.h>

int http_retryable(long status, int code) {
  switch (status) {
  case 408:
  case 429:
  case 500:
  case 502:
  case 503:
  case 504: return 1;
  default: break;
  }
  /* Reset, timeout, refused, cut short: the network's fault, not the request's. */
  return status == 0 && code == VMPULL_E_NETWORK;
}

int http_unreachable(const lib_error *e) {
  switch (e->curl_code) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT: return 1;
  /* The one timeout besides connecting is the stall (CURLOPT_LOW_SPEED_*), "too slow" in curl's words. */
  case CURLE_OPERATION_TIMEDOUT: return e->http_status == 0 && !strstr(e->message, "too slow");
  default: return 0;
  }
}

void http_restart_clear(struct http_restart *r) {
  source_free(r->src);
  r->src = NULL;
  http_response_clear(&r->resp);
}

uint64_t http_retry_delay_ms(unsigned n, const char *retry_after) {
  if (retry_after && *retry_after) {
    /* delay-seconds is 1*DIGIT (RFC 9110): strtoull would take "-5" as 2^64-5, a wait at the cap.
     * A sign, a space or a fraction is no hint at all; then the backoff. */
    size_t digits = strspn(retry_after, "0123456789");
    if (digits && retry_after[digits] == '\0') {
      uint64_t s = 0;
      for (size_t i = 0; i < digits && s <= RETRY_AFTER_MAX_MS / 1000; i++)
        s = s * 10 + (uint64_t)(retry_after[i] - '0');
      return MIN(s * 1000, (uint64_t)RETRY_AFTER_MAX_MS);
    }
    time_t when = digits || strchr("+- \t", *retry_after) ? (time_t)-1 : curl_getdate(retry_after, NULL);
    if (when != (time_t)-1) {
      time_t now = time(NULL);
      uint64_t ms = when > now ? (uint64_t)(when - now) * 1000 : 0;
      return MIN(ms, (uint64_t)RETRY_AFTER_MAX_MS);
    }
  }
  uint64_t ms = RETRY_FIRST_MS;
  for (unsigned i = 1; i < n && ms < RETRY_MAX_MS; i++)
    ms *= 2;
  return MIN(ms, (uint64_t)RETRY_MAX_MS);
}

static volatile sig_atomic_t *cancel_flag(const struct http_config *c) {
  return c->cancel ? c->cancel : c->progress ? c->progress->cancel : NULL;
}

/* Waits run on the pulling thread: every tenth of a second the cancel flag is read and the
 * caller's progress callback runs (throttled as ever), so that returning non-zero from it cancels
 * a wait of up to five minutes (Retry-After) as it cancels a transfer. */
static int sleep_ms(const struct http_config *c, uint64_t ms, lib_error *err) {
  volatile sig_atomic_t *cancel = cancel_flag(c);
  uint64_t end = now_ns() + ms * 1000000ull;
  for (;;) {
    if (cancel && *cancel)
      return error_set(err, VMPULL_E_CANCELLED, "cancelled");
    int r = progress_report(c->progress, 0, err);
    if (r < 0)
      return r;
    uint64_t now = now_ns();
    if (now >= end)
      return 0;
    uint64_t step = MIN(end - now, 100000000ull);
    struct timespec ts = {.tv_sec = (time_t)(step / 1000000000ull), .tv_nsec = (long)(step % 1000000000ull)};
    nanosleep(&ts, NULL);
  }
}

/* One line per retry: what failed, when the next attempt goes, how many are left. */
static int wait_and_say(const struct http_config *c, const char *url, const lib_error *why, unsigned n, uint64_t ms,
                        lib_error *err) {
  if (c->warning) {
    _cleanup_free_ char *shown = redact_url(url);
    const char *msg = why->message;
    /* The source name usually leads the message already. */
    warning_send(c->warning, c->warning_data, "%s: %s; retry %u of %d in %.3g s", shown ? shown : "download", msg, n,
                 c->retries, (double)ms / 1000);
  }
  int r = progress_retry(c->progress, why->message, n, ms, err);
  if (r < 0)
    return r;
  return sleep_ms(c, ms, err);
}

int http_get_retry(const struct http_config *c, const struct http_request *req, struct http_response *resp,
                   lib_error *err) {
  for (unsigned n = 1;; n++) {
    lib_error why;
    error_clear(&why);
    http_response_clear(resp);
    int r = http_get(c, req, resp, err);
    if (r == 0) {
      if (!http_retryable(resp->status, 0) || n > (unsigned)c->retries)
        return 0;
      http_status_error(resp, &why);
    } else {
      if (!http_retryable(resp->status, err->code) || n > (unsigned)c->retries)
        return r;
      why = *err;
    }
    uint64_t ms = http_retry_delay_ms(n, resp->retry_after);
    r = wait_and_say(c, req->url, &why, n, ms, err);
    if (r < 0)
      return r;
  }
}

/* ---- a body that survives a broken transfer ---- */

struct retry_source {
  struct byte_source base;
  struct byte_source *inner;
  struct http_config c;
  char *url;
  struct curl_slist *headers;
  int max_redirects, allow_insecure_redirect;
  uint64_t start;             /* the first byte the original request asked for */
  uint64_t delivered;         /* bytes this source passed on */
  char *etag, *last_modified; /* of the original response: the body must not change under us */
  uint64_t total;             /* the whole file's length by the original response, UINT64_MAX: unknown */
  unsigned failures;          /* in a row, without progress in between */
  uint64_t delivered_at_failure;
  int (*reauthorize)(void *data, const struct http_response *resp, struct curl_slist **headers, lib_error *err);
  void *reauthorize_data;
};

/* http_source_open, answering one 401 through req->reauthorize. *owned is the header list we
 * own (freed and replaced when fresh credentials come; req->headers then points to the new one). */
static int open_answering_401(const struct http_config *c, struct http_request *req, struct curl_slist **owned,
                              struct http_response *resp, struct byte_source **out, lib_error *err) {
  int r = http_source_open(c, req, resp, out, err);
  if (r == 0 || resp->status != 401 || !req->reauthorize)
    return r;
  lib_error why = *err;
  struct curl_slist *fresh = NULL;
  int a = req->reauthorize(req->reauthorize_data, resp, &fresh, err);
  if (a <= 0) {
    http_headers_free(fresh);
    if (a == 0)
      *err = why;
    return a < 0 ? a : r;
  }
  http_headers_free(*owned);
  *owned = fresh;
  req->headers = fresh;
  http_response_clear(resp);
  return http_source_open(c, req, resp, out, err);
}

/* If-Range needs a strong validator: a weak ETag cannot vouch for bytes. */
static const char *if_range_of(const char *etag, const char *last_modified) {
  if (http_etag_strong(etag))
    return etag;
  return last_modified && *last_modified ? last_modified : NULL;
}

static int same(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int wrap(const struct http_config *c, const struct http_request *req, const struct http_response *resp,
                struct byte_source *inner, struct byte_source **out, lib_error *err);

/* The retry found another file (resp, a 200 from byte 0, s->inner its body): never mixed with the
 * bytes read, it is handed over whole to the caller's http_restart while it takes one, and the
 * read fails either way. */
static int changed(struct retry_source *s, const struct http_request *req, struct http_response *resp, uint64_t total,
                   lib_error *err) {
  struct http_restart *restart = s->c.restart;
  if (restart && restart->left > 0 && !restart->src) {
    struct byte_source *fresh = NULL;
    int r = wrap(&s->c, req, resp, TAKE_PTR(s->inner), &fresh, err);
    if (r < 0)
      return r;
    restart->src = fresh;
    restart->resp = *resp;
    *resp = (struct http_response){0};
    restart->left--;
  }
  if (s->total != UINT64_MAX && total != UINT64_MAX && total != s->total)
    return error_set(err, VMPULL_E_HTTP, "%s: changed on the server during the download (%llu bytes, now %llu)",
                     s->base.name, (unsigned long long)s->total, (unsigned long long)total);
  return error_set(err, VMPULL_E_HTTP, "%s: changed on the server during the download", s->base.name);
}

int http_skip_body(struct byte_source *src, uint64_t n, const char *shown, const char *when, lib_error *err) {
  uint8_t buf[65536];
  while (n > 0) {
    size_t got = 0;
    int r = source_read(src, buf, (size_t)MIN(n, sizeof(buf)), &got, err);
    if (r < 0)
      return r;
    if (got == 0)
      return error_set(err, VMPULL_E_HTTP, "%s: the body is shorter%s than before", shown, when);
    n -= got;
  }
  return 0;
}

static int reopen(struct retry_source *s, const lib_error *why, lib_error *err) {
  lib_error last = *why;
  for (;;) {
    if (s->delivered > s->delivered_at_failure)
      s->failures = 0; /* the last attempt got somewhere: a fresh budget */
    s->delivered_at_failure = s->delivered;
    if (s->failures >= (unsigned)s->c.retries) {
      *err = last;
      return -last.code;
    }
    s->failures++;
    int r = wait_and_say(&s->c, s->url, &last, s->failures, http_retry_delay_ms(s->failures, NULL), err);
    if (r < 0)
      return r;
    source_free(TAKE_PTR(s->inner));
    uint64_t from = s->start + s->delivered;
    struct http_request req = {
        .url = s->url,
        .headers = s->headers,
        .max_redirects = s->max_redirects,
        .allow_insecure_redirect = s->allow_insecure_redirect,
        .range_start = from,
        .if_range = from ? if_range_of(s->etag, s->last_modified) : NULL,
        .reauthorize = s->reauthorize,
        .reauthorize_data = s->reauthorize_data,
    };
    _cleanup_(http_response_clear) struct http_response resp = {0};
    r = open_answering_401(&s->c, &req, &s->headers, &resp, &s->inner, &last);
    if (r < 0) {
      if (last.code == VMPULL_E_CANCELLED || !http_retryable(resp.status, last.code)) {
        *err = last;
        return r;
      }
      if (resp.retry_after) {
        /* Honour the server's wish on the next round rather than our backoff. */
        uint64_t ms = http_retry_delay_ms(1, resp.retry_after);
        r = sleep_ms(&s->c, ms > RETRY_FIRST_MS ? ms - RETRY_FIRST_MS : 0, err);
        if (r < 0)
          return r;
      }
      continue;
    }
    /* Validators can lie (or a server keeps its ETag across an append): a length that changed is
     * a changed file, whose bytes cannot continue the ones already hashed and decoded. */
    uint64_t total = resp.status == 206 ? resp.content_range_total : resp.content_length;
    int other_length = s->total != UINT64_MAX && total != UINT64_MAX && total != s->total;
    int other_validator = (s->etag && resp.etag && !same(s->etag, resp.etag)) ||
                          (s->last_modified && resp.last_modified && !same(s->last_modified, resp.last_modified));
    /* A 200 is the whole file from byte 0: another version's can start over, a 206's tail cannot. */
    if (resp.status == 200 && (other_length || other_validator))
      return changed(s, &req, &resp, total, err);
    if (other_length)
      return error_set(err, VMPULL_E_HTTP, "%s: changed on the server during the download (%llu bytes, now %llu)",
                       s->base.name, (unsigned long long)s->total, (unsigned long long)total);
    if (from && resp.status == 200) {
      /* Range ignored under the same validator: the same bytes again, those read are skipped. */
      r = http_skip_body(s->inner, from, s->inner->name, " on the retry", err);
      if (r < 0) {
        if (!http_retryable(0, err->code))
          return r;
        last = *err;
        continue;
      }
    }
    return 0;
  }
}

static int retry_read(struct byte_source *src, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  struct retry_source *s = (struct retry_source *)src;
  for (;;) {
    *got = 0;
    if (!s->inner) /* handed over (changed) or lost on a failed reopen: the error was said */
      return error_set(err, VMPULL_E_HTTP, "%s: the download ended in an error", s->base.name);
    int r = source_read(s->inner, buf, cap, got, err);
    if (r == 0) {
      s->delivered += *got;
      return 0;
    }
    if (!http_retryable(0, err->code))
      return r;
    lib_error why = *err;
    r = reopen(s, &why, err);
    if (r < 0)
      return r;
  }
}

static void retry_free(struct byte_source *src) {
  struct retry_source *s = (struct retry_source *)src;
  source_free(s->inner);
  /* Our copies of the request: the URL may hold user:password, the headers a token. */
  free_secret(s->url);
  http_headers_free(s->headers);
  free(s->etag);
  free(s->last_modified);
  free(s->base.name);
  free(s);
}

static const struct byte_source_ops retry_ops = {.read = retry_read, .free = retry_free};

static int wrap(const struct http_config *c, const struct http_request *req, const struct http_response *resp,
                struct byte_source *inner, struct byte_source **out, lib_error *err) {
  struct retry_source *s = calloc(1, sizeof(*s));
  if (!s) {
    source_free(inner);
    return error_oom(err);
  }
  s->base.ops = &retry_ops;
  s->base.size = inner->size;
  s->inner = inner;
  s->c = *c;
  s->max_redirects = req->max_redirects;
  s->allow_insecure_redirect = req->allow_insecure_redirect;
  s->reauthorize = req->reauthorize;
  s->reauthorize_data = req->reauthorize_data;
  /* A 200 to a range request started at byte 0. */
  s->start = resp->status == 206 ? req->range_start : 0;
  s->total = resp->status == 206 ? resp->content_range_total : resp->content_length;
  s->url = strdup(req->url);
  s->base.name = strdup(inner->name ? inner->name : "");
  int ok = s->url && s->base.name;
  for (const struct curl_slist *h = req->headers; ok && h; h = h->next) {
    struct curl_slist *n = curl_slist_append(s->headers, h->data);
    if (n)
      s->headers = n;
    ok = n != NULL;
  }
  if (ok && resp->etag)
    ok = (s->etag = strdup(resp->etag)) != NULL;
  if (ok && resp->last_modified)
    ok = (s->last_modified = strdup(resp->last_modified)) != NULL;
  if (!ok) {
    retry_free(&s->base);
    return error_oom(err);
  }
  *out = &s->base;
  return 0;
}

int http_open_retry(const struct http_config *c, const struct http_request *req, struct http_response *resp,
                    struct byte_source **out, lib_error *err) {
  *out = NULL;
  struct byte_source *inner = NULL;
  _cleanup_headers_ struct curl_slist *owned = NULL; /* fresh credentials from a 401, if any */
  struct http_request rq = *req;
  for (unsigned n = 1;; n++) {
    http_response_clear(resp);
    int r = open_answering_401(c, &rq, &owned, resp, &inner, err);
    if (r == 0)
      break;
    if (err->code == VMPULL_E_CANCELLED || !http_retryable(resp->status, err->code) || n > (unsigned)c->retries ||
        (req->unreachable_is_final && http_unreachable(err)))
      return r;
    lib_error why = *err;
    r = wait_and_say(c, req->url, &why, n, http_retry_delay_ms(n, resp->retry_after), err);
    if (r < 0)
      return r;
  }
  if (!inner) /* 304 Not Modified: nothing to stream */
    return 0;
  if (c->retries <= 0) {
    *out = inner;
    return 0;
  }
  return wrap(c, &rq, resp, inner, out, err);
}
