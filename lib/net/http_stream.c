/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming GET as a byte source.
 *
 * Why a transfer thread and a ring buffer (rather than a multi handle driven
 * from source reads): the decoders (xz above all) spend long stretches
 * without reading, and a transfer driven from reads would then sit idle, the
 * TCP window would close and TLS decryption would run on the decoder's
 * thread. A thread of its own keeps the socket drained and decrypted while
 * the decoder works; the bounded ring (RING_SIZE) caps the memory and pushes
 * back on the server through TCP flow control when the decoder is the slower
 * side. Reads copy straight from the ring into the caller's buffer.
 *
 * The transfer thread waits in two places: curl_multi_poll() (woken by close
 * through curl_multi_wakeup, and at most 100 ms anyway) and the ring being
 * full (woken by a read or by close). The cancel flag is read by the pulling
 * thread only (reads poll it every 100 ms while they wait), which then closes
 * the source: the transfer stops well within a second either way.
 */
#include "base/error.h"
#include "base/progress.h"
#include "base/redact.h"
#include "base/ring.h"
#include "base/thread.h"
#include "base/util.h"
#include "net/http.h"
#include "net/http_transfer.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

#define RING_SIZE (8u << 20)
#define WAIT_MS 100

struct http_stream {
  struct byte_source base;
  struct http_transfer t;
  int range_request;
  int not_modified_ok; /* a 304 answers a conditional request: no body to stream */
  uint64_t range_start;
  uint64_t range_length; /* a request for these bytes only: a 200 (the whole body) is cut off after them */
  uint64_t body_taken;   /* transfer thread: body bytes put in the ring */

  pthread_t thread;
  int thread_started;
  int ring_ready;
  struct ring ring; /* in bytes of buf; abandoned: the consumer is gone, stop */
  uint8_t *buf;
  /* Under the ring's lock: */
  int headers_ready;
  int done;                      /* the transfer thread has finished */
  volatile sig_atomic_t *cancel; /* the caller's cancel flag, read on the caller's thread only */
  lib_error result;              /* how the transfer ended (code OK: complete) */
  struct http_config log_to;     /* its log callback only: the closing line, on the caller's thread */
  char *url;                     /* for that line (redacted there); NULL without a log callback */
  uint64_t started_ns;           /* when the request went out: the lines give the time taken */
};

/* Consumer side only: the flag is set by a signal handler on the caller's
 * thread; the transfer thread learns of it through the ring's abandoned flag. */
static int cancelled(const struct http_stream *s) {
  return s->cancel && *s->cancel;
}

/* Transfer thread: the status line is known; anything but the expected
 * status ends the transfer before its (error page) body is downloaded. */
static int stream_on_headers(struct http_transfer *t) {
  struct http_stream *s = t->owner;
  int ok = t->resp.status == 200 || (s->range_request && t->resp.status == 206) ||
           (s->not_modified_ok && t->resp.status == 304);
  ring_lock(&s->ring);
  s->headers_ready = 1;
  ring_notify_locked(&s->ring);
  ring_unlock(&s->ring);
  if (!ok) {
    lib_error e;
    http_status_error(&t->resp, &e);
    return http_transfer_fail(t, e.code, "%s", e.message);
  }
  return 0;
}

static int stream_on_body(struct http_transfer *t, const char *p, size_t n) {
  struct http_stream *s = t->owner;
  int enough = 0;
  if (s->range_length && t->resp.status == 200 && n >= s->range_length - s->body_taken) {
    n = (size_t)(s->range_length - s->body_taken);
    enough = 1; /* the server ignored the range: what was asked for is here, drop the rest */
  }
  s->body_taken += n;
  while (n > 0) {
    size_t at;
    size_t chunk = ring_reserve(&s->ring, n, &at);
    if (!chunk)
      return -1; /* the consumer is gone */
    memcpy(s->buf + at, p, chunk);
    ring_commit(&s->ring, chunk);
    p += chunk;
    n -= chunk;
  }
  return enough ? -1 : 0;
}

static int stream_should_stop(struct http_transfer *t) {
  struct http_stream *s = t->owner;
  ring_lock(&s->ring);
  int stop = s->ring.abandoned;
  ring_unlock(&s->ring);
  return stop;
}

static void *transfer_thread(void *arg) {
  struct http_stream *s = arg;
  CURLcode rc = http_transfer_run(&s->t);
  lib_error e;
  error_clear(&e);
  (void)http_transfer_error(&s->t, rc, &e);
  if (e.code == VMPULL_OK && !s->t.headers_done)
    error_set(&e, VMPULL_E_HTTP, "no response");
  ring_lock(&s->ring);
  s->result = e;
  s->done = 1;
  ring_notify_locked(&s->ring);
  ring_unlock(&s->ring);
  return NULL;
}

static int stream_read(struct byte_source *src, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  struct http_stream *s = (struct http_stream *)src;
  *got = 0;
  ring_lock(&s->ring);
  for (;;) {
    size_t at;
    size_t n = ring_peek_locked(&s->ring, cap, &at);
    if (n > 0) {
      memcpy(buf, s->buf + at, n);
      ring_release_locked(&s->ring, n);
      ring_unlock(&s->ring);
      *got = n;
      return 0;
    }
    if (s->done) {
      lib_error e = s->result;
      ring_unlock(&s->ring);
      if (e.code != VMPULL_OK) {
        *err = e;
        return -e.code;
      }
      return 0;
    }
    if (cancelled(s)) {
      ring_unlock(&s->ring);
      return error_set(err, VMPULL_E_CANCELLED, "cancelled");
    }
    ring_wait_locked(&s->ring, WAIT_MS);
  }
}

static void stream_free(struct byte_source *src) {
  struct http_stream *s = (struct http_stream *)src;
  if (s->thread_started) {
    ring_abandon(&s->ring);
    curl_multi_wakeup(s->t.multi);
    pthread_join(s->thread, NULL);
    if (s->url && s->t.headers_done)
      http_log_request(&s->log_to, s->url, "%llu body bytes received%s, %.3f s", (unsigned long long)s->t.received,
                       s->done && s->result.code == VMPULL_OK ? "" : " (closed before the end)",
                       (double)(now_ns() - s->started_ns) / 1e9);
  }
  free(s->url);
  http_transfer_cleanup(&s->t);
  if (s->ring_ready)
    ring_destroy(&s->ring);
  free(s->buf);
  free(s->base.name);
  free(s);
}

static const struct byte_source_ops stream_ops = {.read = stream_read, .free = stream_free};

static void stream_freep(struct http_stream **s) {
  if (*s)
    stream_free(&(*s)->base);
}

static int copy_headers(const struct http_response *h, struct http_response *out, lib_error *err) {
  struct http_response c = {
      .status = h->status,
      .content_length = h->content_length,
      .content_range_start = h->content_range_start,
      .content_range_total = h->content_range_total,
      .content_range_end = h->content_range_end,
      .accept_ranges = h->accept_ranges,
  };
  const char *const from[] = {h->reason,        h->effective_url,    h->content_type,        h->etag,
                              h->last_modified, h->www_authenticate, h->content_disposition, h->docker_content_digest,
                              h->retry_after};
  char **const to[] = {&c.reason,        &c.effective_url,    &c.content_type,        &c.etag,
                       &c.last_modified, &c.www_authenticate, &c.content_disposition, &c.docker_content_digest,
                       &c.retry_after};
  for (size_t i = 0; i < ARRAY_SIZE(from); i++) {
    if (from[i] && !(*to[i] = strdup(from[i]))) {
      http_response_clear(&c);
      return error_oom(err);
    }
  }
  *out = c;
  return 0;
}

static int start_thread(struct http_stream *s, lib_error *err) {
  int r = worker_thread_start(&s->thread, transfer_thread, s);
  if (r != 0)
    return error_set_errno(err, VMPULL_E_IO, r, "cannot start the transfer thread");
  s->thread_started = 1;
  return 0;
}

int http_source_open(const struct http_config *c, const struct http_request *req, struct http_response *resp,
                     struct byte_source **out, lib_error *err) {
  _cleanup_(stream_freep) struct http_stream *s = calloc(1, sizeof(*s));
  if (!s)
    return error_oom(err);
  s->base.ops = &stream_ops;
  s->base.size = UINT64_MAX;
  s->started_ns = now_ns();
  int e = ring_init(&s->ring, RING_SIZE);
  if (e)
    return error_set_errno(err, VMPULL_E_IO, e, "cannot set up the transfer");
  s->ring_ready = 1;
  s->range_request = req->range_start > 0 || req->range_length > 0;
  s->not_modified_ok = req->not_modified_ok;
  s->range_start = req->range_start;
  s->range_length = req->range_length;
  s->base.name = redact_url(req->url ? req->url : "");
  s->buf = malloc(RING_SIZE);
  if (!s->base.name || !s->buf)
    return error_oom(err);

  if (c->log) {
    s->log_to = (struct http_config){.log = c->log, .log_data = c->log_data};
    if (!(s->url = strdup(req->url ? req->url : "")))
      return error_oom(err);
  }

  int r = http_transfer_setup(&s->t, c, req, err);
  if (r < 0)
    return r;
  s->cancel = TAKE_PTR(s->t.cancel);
  s->t.owner = s;
  s->t.on_headers = stream_on_headers;
  s->t.on_body = stream_on_body;
  s->t.should_stop = stream_should_stop;
  r = start_thread(s, err);
  if (r < 0)
    return r;

  /* Wait for the final response's headers (or the end of the transfer). */
  ring_lock(&s->ring);
  while (!s->headers_ready && !s->done) {
    if (cancelled(s)) {
      ring_unlock(&s->ring);
      return error_set(err, VMPULL_E_CANCELLED, "cancelled");
    }
    ring_wait_locked(&s->ring, WAIT_MS);
  }
  int headers_ready = s->headers_ready;
  lib_error result = s->result;
  ring_unlock(&s->ring);
  double secs = (double)(now_ns() - s->started_ns) / 1e9;
  if (!headers_ready) {
    http_log_request(c, req->url, "%s, %.3f s", result.message, secs);
    *err = result;
    return -result.code;
  }
  /* From here the transfer thread no longer touches the parsed headers. Fill
   * resp even for a refused status: retries want Retry-After and the status. */
  const struct http_response *h = &s->t.resp;
  if (req->range_start > 0)
    http_log_request(c, req->url, "HTTP %ld (asked from byte %llu), Content-Length %lld, headers in %.3f s", h->status,
                     (unsigned long long)req->range_start,
                     h->content_length == UINT64_MAX ? -1ll : (long long)h->content_length, secs);
  else
    http_log_request(c, req->url, "HTTP %ld, Content-Length %lld, headers in %.3f s", h->status,
                     h->content_length == UINT64_MAX ? -1ll : (long long)h->content_length, secs);
  r = copy_headers(h, resp, err);
  if (r < 0)
    return r;
  if (s->not_modified_ok && h->status == 304) {
    *out = NULL; /* the cached copy is current (pull_cache.c) */
    return 0;
  }
  if (!(h->status == 200 || (s->range_request && h->status == 206)))
    return http_status_error(h, err);
  if (h->status == 206 && h->content_range_start != req->range_start)
    return error_set(err, VMPULL_E_HTTP, "HTTP 206 for bytes from %llu, asked from %llu",
                     (unsigned long long)h->content_range_start, (unsigned long long)req->range_start);
  s->base.size = h->content_length;
  *out = &TAKE_PTR(s)->base;
  return 0;
}

int http_source_set_name(struct byte_source *src, const char *name, lib_error *err) {
  char *n = strdup(name);
  if (!n)
    return error_oom(err);
  free(src->name);
  src->name = n;
  return 0;
}
