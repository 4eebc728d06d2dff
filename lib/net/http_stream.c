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

  pthread_t thread;
  int thread_started;
  pthread_mutex_t mu;
  pthread_cond_t data_cond;  /* bytes arrived, headers in, or the transfer ended */
  pthread_cond_t space_cond; /* room in the ring, or the consumer is gone */
  uint8_t *ring;
  size_t head, len; /* readable bytes: ring[head .. head+len) modulo RING_SIZE */
  int headers_ready;
  int done;                      /* the transfer thread has finished */
  int closing;                   /* the consumer is gone: stop */
  volatile sig_atomic_t *cancel; /* the caller's cancel flag, read on the caller's thread only */
  vmpull_error result;           /* how the transfer ended (code OK: complete) */
};

static void deadline_in(struct timespec *ts, unsigned ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_nsec += (long)ms * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec += ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
  }
}

/* Consumer side only: the flag is set by a signal handler on the caller's
 * thread; the transfer thread learns of it through `closing`. */
static int cancelled(const struct http_stream *s) {
  return s->cancel && *s->cancel;
}

/* Transfer thread: the status line is known; anything but the expected
 * status ends the transfer before its (error page) body is downloaded. */
static int stream_on_headers(struct http_transfer *t) {
  struct http_stream *s = t->owner;
  int ok = t->resp.status == 200 || (s->range_request && t->resp.status == 206) ||
           (s->not_modified_ok && t->resp.status == 304);
  pthread_mutex_lock(&s->mu);
  s->headers_ready = 1;
  pthread_cond_broadcast(&s->data_cond);
  pthread_mutex_unlock(&s->mu);
  if (!ok) {
    vmpull_error e;
    http_status_error(&t->resp, &e);
    return http_transfer_fail(t, e.code, "%s", e.message);
  }
  return 0;
}

static int stream_on_body(struct http_transfer *t, const char *p, size_t n) {
  struct http_stream *s = t->owner;
  pthread_mutex_lock(&s->mu);
  while (n > 0) {
    while (s->len == RING_SIZE && !s->closing) {
      struct timespec ts;
      deadline_in(&ts, WAIT_MS);
      pthread_cond_timedwait(&s->space_cond, &s->mu, &ts);
    }
    if (s->closing) {
      pthread_mutex_unlock(&s->mu);
      return -1;
    }
    size_t tail = (s->head + s->len) % RING_SIZE;
    size_t chunk = MIN(n, RING_SIZE - s->len);
    chunk = MIN(chunk, RING_SIZE - tail);
    memcpy(s->ring + tail, p, chunk);
    s->len += chunk;
    p += chunk;
    n -= chunk;
    pthread_cond_signal(&s->data_cond);
  }
  pthread_mutex_unlock(&s->mu);
  return 0;
}

static int stream_should_stop(struct http_transfer *t) {
  struct http_stream *s = t->owner;
  pthread_mutex_lock(&s->mu);
  int stop = s->closing;
  pthread_mutex_unlock(&s->mu);
  return stop;
}

static void *transfer_thread(void *arg) {
  struct http_stream *s = arg;
  CURLcode rc = http_transfer_run(&s->t);
  vmpull_error e;
  error_clear(&e);
  (void)http_transfer_error(&s->t, rc, &e);
  if (e.code == VMPULL_OK && !s->t.headers_done)
    error_set(&e, VMPULL_E_HTTP, "no response");
  pthread_mutex_lock(&s->mu);
  s->result = e;
  s->done = 1;
  pthread_cond_broadcast(&s->data_cond);
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

static int stream_read(struct byte_source *src, uint8_t *buf, size_t cap, size_t *got, vmpull_error *err) {
  struct http_stream *s = (struct http_stream *)src;
  *got = 0;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    if (s->len > 0) {
      size_t n = MIN(cap, s->len);
      n = MIN(n, RING_SIZE - s->head);
      memcpy(buf, s->ring + s->head, n);
      s->head = (s->head + n) % RING_SIZE;
      s->len -= n;
      pthread_cond_signal(&s->space_cond);
      pthread_mutex_unlock(&s->mu);
      *got = n;
      return 0;
    }
    if (s->done) {
      vmpull_error e = s->result;
      pthread_mutex_unlock(&s->mu);
      if (e.code != VMPULL_OK) {
        *err = e;
        return -e.code;
      }
      return 0;
    }
    if (cancelled(s)) {
      pthread_mutex_unlock(&s->mu);
      return error_set(err, VMPULL_E_CANCELLED, "cancelled");
    }
    struct timespec ts;
    deadline_in(&ts, WAIT_MS);
    pthread_cond_timedwait(&s->data_cond, &s->mu, &ts);
  }
}

static void stream_free(struct byte_source *src) {
  struct http_stream *s = (struct http_stream *)src;
  if (s->thread_started) {
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    pthread_cond_broadcast(&s->space_cond);
    pthread_mutex_unlock(&s->mu);
    curl_multi_wakeup(s->t.multi);
    pthread_join(s->thread, NULL);
  }
  http_transfer_cleanup(&s->t);
  pthread_cond_destroy(&s->data_cond);
  pthread_cond_destroy(&s->space_cond);
  pthread_mutex_destroy(&s->mu);
  free(s->ring);
  free(s->base.name);
  free(s);
}

static const struct byte_source_ops stream_ops = {.read = stream_read, .free = stream_free};

static void stream_freep(struct http_stream **s) {
  if (*s)
    stream_free(&(*s)->base);
}

static int copy_headers(const struct http_response *h, struct http_response *out, vmpull_error *err) {
  struct http_response c = {
      .status = h->status,
      .content_length = h->content_length,
      .content_range_start = h->content_range_start,
      .content_range_total = h->content_range_total,
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

static int start_thread(struct http_stream *s, vmpull_error *err) {
  int r = worker_thread_start(&s->thread, transfer_thread, s);
  if (r != 0)
    return error_set_errno(err, VMPULL_E_IO, r, "cannot start the transfer thread");
  s->thread_started = 1;
  return 0;
}

int http_source_open(const struct http_config *c, const struct http_request *req, struct http_response *resp,
                     struct byte_source **out, vmpull_error *err) {
  _cleanup_(stream_freep) struct http_stream *s = calloc(1, sizeof(*s));
  if (!s)
    return error_oom(err);
  s->base.ops = &stream_ops;
  s->base.size = UINT64_MAX;
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->data_cond, &ca);
  pthread_cond_init(&s->space_cond, &ca);
  pthread_condattr_destroy(&ca);
  s->range_request = req->range_start > 0;
  s->not_modified_ok = req->not_modified_ok;
  s->range_start = req->range_start;
  s->base.name = redact_url(req->url ? req->url : "");
  s->ring = malloc(RING_SIZE);
  if (!s->base.name || !s->ring)
    return error_oom(err);

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
  pthread_mutex_lock(&s->mu);
  while (!s->headers_ready && !s->done) {
    if (cancelled(s)) {
      pthread_mutex_unlock(&s->mu);
      return error_set(err, VMPULL_E_CANCELLED, "cancelled");
    }
    struct timespec ts;
    deadline_in(&ts, WAIT_MS);
    pthread_cond_timedwait(&s->data_cond, &s->mu, &ts);
  }
  int headers_ready = s->headers_ready;
  vmpull_error result = s->result;
  pthread_mutex_unlock(&s->mu);
  if (!headers_ready) {
    *err = result;
    return -result.code;
  }
  /* From here the transfer thread no longer touches the parsed headers. Fill
   * resp even for a refused status: retries want Retry-After and the status. */
  const struct http_response *h = &s->t.resp;
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

int http_source_set_name(struct byte_source *src, const char *name, vmpull_error *err) {
  char *n = strdup(name);
  if (!n)
    return error_oom(err);
  free(src->name);
  src->name = n;
  return 0;
}
