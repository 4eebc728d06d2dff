/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Segmented downloads (http_segments.h): the reader on the pulling thread, the ranges on one
 * transfer thread. The two share the piece table under one mutex; the reader waits on its
 * condition for the prefix to grow, the transfer thread in curl_multi_poll (woken by
 * curl_multi_wakeup, at most 100 ms anyway, when it also reads the cancel flag).
 *
 * Callbacks of the caller (warnings, the log) run on the pulling thread only: the transfer
 * thread leaves its warning for the next read to send.
 */
#include "net/http_segments.h"

#include "base/error.h"
#include "base/redact.h"
#include "base/thread.h"
#include "base/util.h"
#include "net/http_retry.h"
#include "net/http_transfer.h"

#include <pthread.h>
#include <time.h>

#define SEG_MAX_CONNECTIONS 32u
#define SEG_MIN_PIECE (4ull << 20)
#define SEG_MAX_PIECE (16ull << 20)
#define WAIT_MS 100
#define GROW_INTERVAL_NS 250000000ull
#define GROW_FACTOR 1.12      /* bytes per second must rise this much for the next doubling */
#define STARVED_FRACTION 0.25 /* the reader waited this share of the time: the network is the slower side */
#define CHECKPOINT_NS 1000000000ull
#define CHECKPOINT_BYTES (64ull << 20)

uint64_t http_segments_piece_size(uint64_t total) {
  /* About 32 pieces, in whole MiB: enough for 8 connections to always find one, few enough that
   * each range is long against a connection's start. */
  uint64_t p = (total / 32 + (1u << 20) - 1) & ~((1ull << 20) - 1);
  return MIN(MAX(p, SEG_MIN_PIECE), SEG_MAX_PIECE);
}

int http_segments_worth(uint64_t total) {
  return total != UINT64_MAX && total >= 2 * http_segments_piece_size(total);
}

uint64_t seg_prefix_of(const struct seg_extent *e, size_t n, uint64_t from) {
  /* extents may come in any order: advance while one covers from */
  for (int moved = 1; moved;) {
    moved = 0;
    for (size_t i = 0; i < n; i++)
      if (e[i].start <= from && e[i].end > from) {
        from = e[i].end;
        moved = 1;
      }
  }
  return from;
}

uint64_t seg_piece_mark(const struct seg_extent *e, size_t n, uint64_t piece_start, uint64_t piece_end) {
  return MIN(seg_prefix_of(e, n, piece_start), piece_end);
}

struct seg_piece {
  uint64_t start, end;
  uint64_t hwm;     /* bytes [start, hwm) are in fd (or were read from the first connection) */
  uint64_t initial; /* hwm when the reader was made: an earlier pull's bytes */
  int owner;        /* -1 nobody, 0 the first connection, k > 0 range connection k */
  unsigned failures;
  uint64_t hwm_at_failure;
};

struct seg_state;

struct seg_conn {
  struct http_transfer t;
  struct seg_state *s;
  int piece;         /* -1: idle */
  int busy;          /* its transfer is on the multi handle */
  uint64_t asked;    /* the first byte asked for */
  uint64_t got;      /* body bytes of this response */
  uint64_t retry_at; /* now_ns() before which it does not ask again */
  int retryable;     /* what the callbacks refused may be asked again */
  int changed;       /* a 200 under another validator or length */
  int expired;       /* 401/403/410: ask the URL first asked for */
  int waiting_renew; /* its piece waits for renew (transfer thread, under mu) */
  int delivered;     /* it has received body bytes since it was opened (transfer thread) */
};

struct seg_state {
  struct byte_source base;
  struct http_config c;
  char *url, *url_first, *validator, *shown;
  struct curl_slist *headers;
  uint64_t total, start, piece_size;
  size_t n_pieces;
  struct seg_piece *pieces;
  int fd, first_into_fd;
  unsigned max_conn;
  int (*checkpoint)(void *data, const struct seg_extent *extents, size_t n);
  void *checkpoint_data;
  uint64_t *network_bytes;
  int (*renew)(void *data, char **url, struct curl_slist **headers, lib_error *err);
  void *renew_data;
  void (*renew_free)(void *data);

  /* reader (pulling thread) */
  struct byte_source *first;
  int first_piece;
  uint64_t first_end; /* the first connection is read up to here (its pieces' end) */
  uint64_t pos;
  uint64_t counted; /* of received, added to *network_bytes */
  int at_end, handed_over;
  unsigned ranges, most_connections; /* for the closing log line */

  /* shared, under mu */
  pthread_mutex_t mu;
  pthread_cond_t cond;
  uint64_t received;
  uint64_t reader_wait_ns;
  int stop, engine_done, first_active, changed;
  int need_renew;  /* a range was refused (401/403/410): the reader renews url and headers */
  lib_error fatal; /* code OK: none */
  unsigned target; /* connections wanted, the first one included */
  char warning[2 * VMPULL_ERROR_MAX + 64];
  int warning_pending;

  /* transfer thread */
  CURLM *multi;
  struct seg_conn conns[SEG_MAX_CONNECTIONS];
  pthread_t thread;
  int thread_started, sync_ready;
  uint64_t grow_at, grow_received, grow_wait;
  double rate_before_add;
  unsigned adds;
  int growing;
  uint64_t ck_at, ck_received;
  int ck_failed, ck_first_done;
};

static volatile sig_atomic_t *cancel_flag(const struct http_config *c) {
  return c->cancel ? c->cancel : c->progress ? c->progress->cancel : NULL;
}

static int cancelled(const struct seg_state *s) {
  volatile sig_atomic_t *f = cancel_flag(&s->c);
  return f && *f;
}

/* Under mu: the end of the contiguous bytes from pos. */
static uint64_t prefix_locked(const struct seg_state *s, uint64_t pos) {
  for (size_t k = (size_t)(pos / s->piece_size); k < s->n_pieces; k++)
    if (s->pieces[k].hwm < s->pieces[k].end)
      return MAX(s->pieces[k].hwm, pos);
  return s->total;
}

static void fail_locked(struct seg_state *s, const lib_error *e) {
  if (s->fatal.code == VMPULL_OK)
    s->fatal = *e;
  s->stop = 1;
  pthread_cond_broadcast(&s->cond);
}

/* ---- durable record of what fd holds ---- */

static void checkpoint_now(struct seg_state *s) {
  if (!s->checkpoint || s->ck_failed)
    return;
  _cleanup_free_ struct seg_extent *ext = calloc(s->n_pieces ? s->n_pieces : 1, sizeof(*ext));
  if (!ext)
    return;
  size_t n = 0;
  pthread_mutex_lock(&s->mu);
  for (size_t k = 0; k < s->n_pieces; k++) {
    const struct seg_piece *p = &s->pieces[k];
    if (p->hwm <= p->start)
      continue;
    if (n > 0 && ext[n - 1].end == p->start)
      ext[n - 1].end = p->hwm;
    else
      ext[n++] = (struct seg_extent){p->start, p->hwm};
  }
  s->ck_received = s->received;
  pthread_mutex_unlock(&s->mu);
  if (s->checkpoint(s->checkpoint_data, ext, n) < 0)
    s->ck_failed = 1;
  s->ck_at = now_ns();
}

/* ---- the range connections (transfer thread) ---- */

static int range_on_headers(struct http_transfer *t) {
  struct seg_conn *conn = t->owner;
  struct seg_state *s = conn->s;
  const struct seg_piece *p = &s->pieces[conn->piece];
  const struct http_response *h = &t->resp;
  if (h->status == 206) {
    if (h->content_range_start == conn->asked && h->content_range_end == p->end - 1 &&
        h->content_range_total == s->total &&
        (h->content_length == UINT64_MAX || h->content_length == p->end - conn->asked))
      return 0;
    conn->retryable = 1;
    return http_transfer_fail(t, VMPULL_E_HTTP, "%s: HTTP 206 for bytes %lld-%lld/%lld, asked for bytes %llu-%llu/%llu",
                              s->shown, h->content_range_start == UINT64_MAX ? -1ll : (long long)h->content_range_start,
                              h->content_range_end == UINT64_MAX ? -1ll : (long long)h->content_range_end,
                              h->content_range_total == UINT64_MAX ? -1ll : (long long)h->content_range_total,
                              (unsigned long long)conn->asked, (unsigned long long)(p->end - 1),
                              (unsigned long long)s->total);
  }
  if (h->status == 200) {
    const char *v = s->validator;
    int same = v && ((h->etag && strcmp(h->etag, v) == 0) || (h->last_modified && strcmp(h->last_modified, v) == 0));
    if (v && (!same || (h->content_length != UINT64_MAX && h->content_length != s->total))) {
      conn->changed = 1;
      return http_transfer_fail(t, VMPULL_E_HTTP, "%s: changed on the server during the download", s->shown);
    }
    return http_transfer_fail(t, VMPULL_E_HTTP, "%s: the server answered a range request with the whole file",
                              s->shown);
  }
  lib_error e;
  http_status_error(h, &e);
  conn->expired = h->status == 401 || h->status == 403 || h->status == 410;
  conn->retryable = conn->expired || http_retryable(h->status, e.code);
  return http_transfer_fail(t, e.code, "%s: %s", s->shown, e.message);
}

static int range_on_body(struct http_transfer *t, const char *buf, size_t n) {
  struct seg_conn *conn = t->owner;
  struct seg_state *s = conn->s;
  struct seg_piece *p = &s->pieces[conn->piece];
  uint64_t at = conn->asked + conn->got;
  if (at + n > p->end) {
    conn->retryable = 1;
    return http_transfer_fail(t, VMPULL_E_HTTP, "%s: more bytes than asked for (bytes %llu-%llu)", s->shown,
                              (unsigned long long)conn->asked, (unsigned long long)(p->end - 1));
  }
  int w = pwrite_all(s->fd, buf, n, at);
  if (w < 0)
    return http_transfer_fail(t, VMPULL_E_IO, "write the download of %s: %s", s->shown, strerror(-w));
  conn->got += n;
  conn->delivered = 1;
  pthread_mutex_lock(&s->mu);
  p->hwm = at + n;
  s->received += n;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
  return 0;
}

static int range_should_stop(struct http_transfer *t) {
  (void)t;
  return 0;
}

static void range_release(struct seg_state *s, struct seg_conn *conn) {
  if (conn->busy)
    curl_multi_remove_handle(s->multi, conn->t.easy);
  conn->busy = 0;
  http_transfer_cleanup(&conn->t);
  memset(&conn->t, 0, sizeof(conn->t));
}

static int range_start(struct seg_state *s, struct seg_conn *conn, lib_error *err) {
  range_release(s, conn);
  const struct seg_piece *p = &s->pieces[conn->piece];
  conn->asked = p->hwm;
  conn->got = 0;
  conn->retryable = conn->changed = conn->expired = 0;
  pthread_mutex_lock(&s->mu); /* url and headers change on a renewal */
  struct http_request req = {
      .url = s->url,
      .headers = s->headers,
      .max_redirects = 10,
      .allow_insecure_redirect = !s->c.tls_verify,
      .range_start = p->hwm,
      .range_length = p->end - p->hwm,
      .if_range = s->validator,
  };
  int r = http_transfer_setup(&conn->t, &s->c, &req, err);
  pthread_mutex_unlock(&s->mu);
  if (r < 0)
    return r;
  /* The multi handle's pool keeps the connections between ranges (keep-alive): the ranges are
   * exact, so no body runs past what the response says. */
  curl_multi_cleanup(conn->t.multi);
  conn->t.multi = NULL;
  curl_easy_setopt(conn->t.easy, CURLOPT_FORBID_REUSE, 0L);
  curl_easy_setopt(conn->t.easy, CURLOPT_CLOSESOCKETFUNCTION, NULL);
  conn->t.owner = conn;
  conn->t.on_headers = range_on_headers;
  conn->t.on_body = range_on_body;
  conn->t.should_stop = range_should_stop;
  if (curl_multi_add_handle(s->multi, conn->t.easy) != CURLM_OK)
    return error_set(err, VMPULL_E_IO, "cannot add a transfer for %s", s->shown);
  conn->busy = 1;
  s->ranges++;
  return 0;
}

static void say_retry_locked(struct seg_state *s, const lib_error *why, unsigned n, uint64_t ms) {
  const char *msg = why->message;
  if (starts_with(msg, s->shown) && msg[strlen(s->shown)] == ':')
    msg += strlen(s->shown) + 1 + (msg[strlen(s->shown) + 1] == ' ');
  snprintf(s->warning, sizeof(s->warning), "%s: %s; retry %u of %d in %.3g s", s->shown, msg, n, s->c.retries,
           (double)ms / 1000);
  s->warning_pending = 1;
}

/* A range transfer ended with rc. */
static void range_finish(struct seg_state *s, struct seg_conn *conn, CURLcode rc) {
  lib_error e;
  error_clear(&e);
  (void)http_transfer_error(&conn->t, rc, &e);
  _cleanup_free_ char *retry_after = conn->t.resp.retry_after ? strdup(conn->t.resp.retry_after) : NULL;
  int changed = conn->changed, expired = conn->expired, retryable = conn->retryable;
  curl_multi_remove_handle(s->multi, conn->t.easy);
  conn->busy = 0;
  pthread_mutex_lock(&s->mu);
  struct seg_piece *p = &s->pieces[conn->piece];
  if (e.code == VMPULL_OK && p->hwm == p->end) {
    conn->piece = -1;
    pthread_mutex_unlock(&s->mu);
    return;
  }
  if (e.code == VMPULL_OK) {
    error_set(&e, VMPULL_E_NETWORK, "%s: the range ended after %llu of %llu bytes", s->shown,
              (unsigned long long)conn->got, (unsigned long long)(p->end - conn->asked));
  } else if (!conn->t.failed && !starts_with(e.message, s->shown)) {
    error_wrap(&e, "%s", s->shown);
  }
  if (changed) {
    s->changed = 1;
    fail_locked(s, &e);
  } else if (!retryable && !http_retryable(0, e.code)) {
    fail_locked(s, &e);
  } else {
    if (p->hwm > p->hwm_at_failure)
      p->failures = 0; /* it got somewhere: a fresh budget, as a retrying body has */
    p->hwm_at_failure = p->hwm;
    if (p->failures >= (unsigned)MAX(s->c.retries, 0)) {
      fail_locked(s, &e);
    } else {
      p->failures++;
      uint64_t ms = http_retry_delay_ms(p->failures, retry_after);
      conn->retry_at = now_ns() + ms * 1000000ull;
      say_retry_locked(s, &e, p->failures, ms);
      if (expired && s->renew) {
        s->need_renew = 1;
        conn->waiting_renew = 1;
      } else if (expired && s->url_first && strcmp(s->url, s->url_first) != 0) {
        /* The pinned URL expired: the one first asked for leads to a fresh one; the checks of
         * every range still hold it to the same length and validator. */
        free_secret(s->url);
        s->url = strdup(s->url_first);
        if (!s->url) {
          error_set(&e, VMPULL_E_IO, "out of memory");
          fail_locked(s, &e);
        }
      }
    }
  }
  pthread_mutex_unlock(&s->mu);
}

/* ---- growth, like a congestion window ---- */

static void grow_locked(struct seg_state *s, uint64_t now) {
  /* A connection counts from its first byte (a far server's handshakes take round trips): the
   * window that judges an addition starts once every connection with a piece delivers. */
  unsigned allowed = MIN(s->target - (s->first_active ? 1u : 0u), SEG_MAX_CONNECTIONS);
  for (unsigned i = 0; i < allowed; i++)
    if (s->conns[i].piece >= 0 && !s->conns[i].delivered) {
      s->grow_at = now;
      s->grow_received = s->received;
      s->grow_wait = s->reader_wait_ns;
      return;
    }
  if (now - s->grow_at < GROW_INTERVAL_NS)
    return;
  double dt = (double)(now - s->grow_at);
  double rate = (double)(s->received - s->grow_received) / dt;
  double starved = (double)(s->reader_wait_ns - s->grow_wait) / dt;
  s->grow_at = now;
  s->grow_received = s->received;
  s->grow_wait = s->reader_wait_ns;
  if (!s->growing || s->target >= s->max_conn)
    return;
  if (s->adds == 0 ? starved >= STARVED_FRACTION : rate >= s->rate_before_add * GROW_FACTOR) {
    s->target = MIN(s->target * 2, s->max_conn);
    s->adds++;
    s->rate_before_add = rate;
  } else if (s->adds > 0) {
    s->growing = 0; /* the last one did not pay: stay there */
  }
}

/* Under mu: give idle connections the lowest pieces nobody has, up to what target allows. */
static void assign_locked(struct seg_state *s) {
  for (unsigned i = 0; i < SEG_MAX_CONNECTIONS; i++)
    if (s->conns[i].waiting_renew && !s->need_renew) {
      s->conns[i].waiting_renew = 0;
      s->conns[i].retry_at = 0;
    }
  unsigned allowed = s->target - (s->first_active ? 1 : 0), working = 0;
  allowed = MIN(allowed, SEG_MAX_CONNECTIONS);
  for (unsigned i = 0; i < SEG_MAX_CONNECTIONS; i++)
    working += s->conns[i].piece >= 0;
  size_t k = 0;
  for (unsigned i = 0; i < allowed && working < allowed; i++) {
    struct seg_conn *conn = &s->conns[i];
    if (conn->piece >= 0)
      continue;
    while (k < s->n_pieces && (s->pieces[k].owner != -1 || s->pieces[k].hwm == s->pieces[k].end))
      k++;
    if (k == s->n_pieces)
      return;
    s->pieces[k].owner = (int)i + 1;
    conn->piece = (int)k;
    conn->retry_at = 0;
    working++;
  }
  s->most_connections = MAX(s->most_connections, working + (s->first_active ? 1 : 0));
}

static int all_done_locked(const struct seg_state *s) {
  for (size_t k = 0; k < s->n_pieces; k++)
    if (s->pieces[k].hwm < s->pieces[k].end)
      return 0;
  return 1;
}

static void *transfer_thread(void *arg) {
  struct seg_state *s = arg;
  for (;;) {
    uint64_t now = now_ns();
    pthread_mutex_lock(&s->mu);
    if (cancelled(s))
      s->stop = 1;
    int stop = s->stop || all_done_locked(s);
    if (!stop) {
      grow_locked(s, now);
      assign_locked(s);
    }
    pthread_mutex_unlock(&s->mu);
    if (stop)
      break;
    for (unsigned i = 0; i < SEG_MAX_CONNECTIONS; i++) {
      struct seg_conn *conn = &s->conns[i];
      if (conn->piece < 0 || conn->busy || now < conn->retry_at || conn->waiting_renew)
        continue;
      if (!s->ck_first_done) {
        /* Before the first byte lands out of order, the record must say which bytes fd holds:
         * without it a resume would take the file's length for what it has. */
        checkpoint_now(s);
        s->ck_first_done = 1;
      }
      lib_error e;
      if (range_start(s, conn, &e) < 0) {
        pthread_mutex_lock(&s->mu);
        fail_locked(s, &e);
        pthread_mutex_unlock(&s->mu);
        break;
      }
    }
    int running = 0;
    if (curl_multi_perform(s->multi, &running) != CURLM_OK) {
      lib_error e;
      error_set(&e, VMPULL_E_IO, "%s: the transfers failed", s->shown);
      pthread_mutex_lock(&s->mu);
      fail_locked(s, &e);
      pthread_mutex_unlock(&s->mu);
      break;
    }
    int left = 0;
    CURLMsg *m;
    while ((m = curl_multi_info_read(s->multi, &left))) {
      if (m->msg != CURLMSG_DONE)
        continue;
      for (unsigned i = 0; i < SEG_MAX_CONNECTIONS; i++)
        if (s->conns[i].busy && s->conns[i].t.easy == m->easy_handle) {
          range_finish(s, &s->conns[i], m->data.result);
          break;
        }
    }
    now = now_ns();
    if (s->ck_first_done && (now - s->ck_at >= CHECKPOINT_NS || s->received - s->ck_received >= CHECKPOINT_BYTES))
      checkpoint_now(s);
    curl_multi_poll(s->multi, NULL, 0, WAIT_MS, NULL);
  }
  for (unsigned i = 0; i < SEG_MAX_CONNECTIONS; i++)
    range_release(s, &s->conns[i]);
  pthread_mutex_lock(&s->mu);
  s->engine_done = 1;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* ---- the reader (pulling thread) ---- */

static void stop_engine(struct seg_state *s) {
  if (!s->thread_started)
    return;
  pthread_mutex_lock(&s->mu);
  s->stop = 1;
  pthread_mutex_unlock(&s->mu);
  curl_multi_wakeup(s->multi);
  pthread_join(s->thread, NULL);
  s->thread_started = 0;
}

static void count_network(struct seg_state *s) {
  pthread_mutex_lock(&s->mu);
  uint64_t received = s->received;
  pthread_mutex_unlock(&s->mu);
  if (s->network_bytes)
    *s->network_bytes += received - s->counted;
  s->counted = received;
}

static void send_warning(struct seg_state *s) {
  char line[2 * VMPULL_ERROR_MAX + 64];
  pthread_mutex_lock(&s->mu);
  int pending = s->warning_pending;
  if (pending)
    memcpy(line, s->warning, sizeof(line));
  s->warning_pending = 0;
  pthread_mutex_unlock(&s->mu);
  if (pending && s->c.warning)
    warning_send(s->c.warning, s->c.warning_data, "%s", line);
}

/* The transfers ended in e: with a changed file, its new version goes to c.restart first. */
static int fail_read(struct seg_state *s, const lib_error *e, int changed, lib_error *err) {
  struct http_restart *restart = s->c.restart;
  if (changed && !s->handed_over && restart && restart->left > 0 && !restart->src) {
    s->handed_over = 1;
    struct http_request req = {
        .url = s->url_first ? s->url_first : s->url,
        .headers = s->headers,
        .max_redirects = 10,
        .allow_insecure_redirect = !s->c.tls_verify,
    };
    struct http_response resp = {0};
    struct byte_source *fresh = NULL;
    int r = http_open_retry(&s->c, &req, &resp, &fresh, err);
    if (r < 0) {
      http_response_clear(&resp);
      return r;
    }
    restart->src = fresh;
    restart->resp = resp;
    restart->left--;
  }
  *err = *e;
  return -e->code;
}

/* A range was refused as expired: the caller's renew gives the URL and headers from now on. */
static int renew_if_asked(struct seg_state *s, lib_error *err) {
  pthread_mutex_lock(&s->mu);
  int asked = s->need_renew && s->fatal.code == VMPULL_OK;
  pthread_mutex_unlock(&s->mu);
  if (!asked)
    return 0;
  char *url = NULL;
  struct curl_slist *headers = NULL;
  int r = s->renew(s->renew_data, &url, &headers, err);
  pthread_mutex_lock(&s->mu);
  if (r < 0) {
    fail_locked(s, err);
  } else {
    free_secret(s->url);
    s->url = url;
    http_headers_free(s->headers);
    s->headers = headers;
    s->need_renew = 0;
  }
  pthread_mutex_unlock(&s->mu);
  curl_multi_wakeup(s->multi);
  return r;
}

/* The first connection's next bytes (up to first_end). */
static int read_first(struct seg_state *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  uint64_t t0 = now_ns();
  int r = source_read(s->first, buf, (size_t)MIN((uint64_t)cap, s->first_end - s->pos), got, err);
  uint64_t waited = now_ns() - t0;
  if (r < 0)
    return r;
  if (*got == 0)
    return error_set(err, VMPULL_E_NETWORK, "%s: the body ended after %llu of %llu bytes", s->shown,
                     (unsigned long long)s->pos, (unsigned long long)s->total);
  if (s->first_into_fd) {
    int w = pwrite_all(s->fd, buf, *got, s->pos);
    if (w < 0)
      return error_set_errno(err, VMPULL_E_IO, -w, "write the download of %s", s->shown);
  }
  s->pos += *got;
  int drop = 0;
  pthread_mutex_lock(&s->mu);
  s->reader_wait_ns += waited;
  s->received += *got;
  s->pieces[s->first_piece].hwm = s->pos;
  if (s->pos == s->first_end) {
    size_t next = (size_t)s->first_piece + 1;
    if (next < s->n_pieces && s->pieces[next].owner == -1 && s->pieces[next].hwm == s->pieces[next].start) {
      s->pieces[next].owner = 0;
      s->first_piece = (int)next;
      s->first_end = s->pieces[next].end;
    } else {
      drop = 1; /* another connection has what follows: this one's place goes to the ranges */
      s->first_active = 0;
    }
  }
  pthread_mutex_unlock(&s->mu);
  if (drop) {
    source_free(TAKE_PTR(s->first));
    curl_multi_wakeup(s->multi);
  }
  return 0;
}

/* Bytes of the prefix from fd, waiting for them. */
static int read_landed(struct seg_state *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  uint64_t avail;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    avail = prefix_locked(s, s->pos);
    if (avail > s->pos)
      break;
    if (s->fatal.code != VMPULL_OK || (s->engine_done && !cancelled(s))) {
      lib_error e = s->fatal;
      int changed = s->changed;
      pthread_mutex_unlock(&s->mu);
      if (e.code == VMPULL_OK)
        error_set(&e, VMPULL_E_NETWORK, "%s: the transfers ended before byte %llu", s->shown,
                  (unsigned long long)s->pos);
      return fail_read(s, &e, changed, err);
    }
    if (cancelled(s)) {
      pthread_mutex_unlock(&s->mu);
      return error_set(err, VMPULL_E_CANCELLED, "cancelled");
    }
    if (s->need_renew) {
      pthread_mutex_unlock(&s->mu);
      int r = renew_if_asked(s, err);
      if (r < 0)
        return r;
      pthread_mutex_lock(&s->mu);
      continue;
    }
    uint64_t t0 = now_ns();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += WAIT_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->cond, &s->mu, &ts);
    s->reader_wait_ns += now_ns() - t0;
  }
  pthread_mutex_unlock(&s->mu);
  size_t n = (size_t)MIN((uint64_t)cap, avail - s->pos);
  for (;;) {
    ssize_t k = pread(s->fd, buf, n, (off_t)s->pos);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0)
      return error_set_errno(err, VMPULL_E_IO, errno, "read the download of %s", s->shown);
    if (k == 0)
      return error_set(err, VMPULL_E_IO, "the download of %s shrank", s->shown);
    n = (size_t)k;
    break;
  }
  /* An earlier pull's bytes (a resumed entry) count as resumed, as a replay's do. */
  if (s->c.progress) {
    uint64_t from = s->pos, to = s->pos + n;
    for (size_t k = (size_t)(from / s->piece_size); k < s->n_pieces && s->pieces[k].start < to; k++) {
      uint64_t a = MAX(from, s->pieces[k].start), b = MIN(to, s->pieces[k].initial);
      if (b > a)
        s->c.progress->ev.resumed += b - a;
    }
  }
  s->pos += n;
  *got = n;
  return 0;
}

static int seg_read(struct byte_source *src, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  struct seg_state *s = (struct seg_state *)src;
  *got = 0;
  send_warning(s);
  if (s->renew) {
    int r = renew_if_asked(s, err);
    if (r < 0)
      return r;
  }
  pthread_mutex_lock(&s->mu);
  lib_error fatal = s->fatal;
  int changed = s->changed;
  pthread_mutex_unlock(&s->mu);
  if (fatal.code != VMPULL_OK)
    return fail_read(s, &fatal, changed, err);
  if (cancelled(s))
    return error_set(err, VMPULL_E_CANCELLED, "cancelled");
  if (s->pos >= s->total) {
    if (!s->at_end) {
      s->at_end = 1;
      stop_engine(s);
      count_network(s);
      http_log_request(&s->c, s->url, "%u ranges besides the first request, at most %u connections at once", s->ranges,
                       MAX(s->most_connections, 1u));
    }
    return 0;
  }
  int r = s->first && s->pos < s->first_end ? read_first(s, buf, cap, got, err) : read_landed(s, buf, cap, got, err);
  if (r == 0)
    count_network(s);
  return r;
}

static void seg_free(struct byte_source *src) {
  struct seg_state *s = (struct seg_state *)src;
  stop_engine(s);
  source_free(TAKE_PTR(s->first));
  if (!s->at_end && s->sync_ready)
    checkpoint_now(s); /* what this pull got stays for the next one */
  if (s->sync_ready)
    count_network(s);
  for (unsigned i = 0; i < SEG_MAX_CONNECTIONS; i++)
    range_release(s, &s->conns[i]);
  if (s->multi)
    curl_multi_cleanup(s->multi);
  if (s->sync_ready) {
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
  }
  closep(&s->fd);
  free_secret(s->url);
  free_secret(s->url_first);
  free(s->validator);
  free(s->shown);
  http_headers_free(s->headers);
  free(s->pieces);
  free(s->base.name);
  if (s->renew_free)
    s->renew_free(s->renew_data);
  free(s);
}

static const struct byte_source_ops seg_ops = {.read = seg_read, .free = seg_free};

static void seg_freep(struct seg_state **s) {
  if (*s)
    seg_free(&(*s)->base);
}

static int sync_init(struct seg_state *s) {
  pthread_condattr_t attr;
  if (pthread_condattr_init(&attr) != 0)
    return -1;
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  int r = pthread_cond_init(&s->cond, &attr);
  pthread_condattr_destroy(&attr);
  if (r != 0)
    return -1;
  if (pthread_mutex_init(&s->mu, NULL) != 0) {
    pthread_cond_destroy(&s->cond);
    return -1;
  }
  s->sync_ready = 1;
  return 0;
}

static int pieces_init(struct seg_state *s, const struct http_segments_options *o) {
  s->piece_size = http_segments_piece_size(o->total);
  s->n_pieces = (size_t)((o->total + s->piece_size - 1) / s->piece_size);
  s->pieces = calloc(s->n_pieces, sizeof(*s->pieces));
  if (!s->pieces)
    return -1;
  for (size_t k = 0; k < s->n_pieces; k++) {
    struct seg_piece *p = &s->pieces[k];
    p->start = (uint64_t)k * s->piece_size;
    p->end = MIN(p->start + s->piece_size, o->total);
    p->owner = -1;
    /* Before start: the caller's (replayed); the first connection's piece: from start on. */
    if (p->end <= o->start)
      p->hwm = p->end;
    else if (p->start <= o->start)
      p->hwm = o->start;
    else
      p->hwm = seg_piece_mark(o->have, o->n_have, p->start, p->end);
    p->initial = p->start <= o->start ? p->start : p->hwm;
    p->hwm_at_failure = p->hwm;
  }
  return 0;
}

int http_segments_open(const struct http_config *c, const struct http_segments_options *o, struct byte_source *first,
                       struct byte_source **out, lib_error *err) {
  _cleanup_source_ struct byte_source *first_owned = first;
  _cleanup_close_ int fd = o->fd;
  _cleanup_(seg_freep) struct seg_state *s = calloc(1, sizeof(*s));
  if (!s) {
    if (o->renew_free)
      o->renew_free(o->renew_data);
    return error_oom(err);
  }
  s->fd = TAKE_FD(fd);
  s->base.ops = &seg_ops;
  s->base.size = o->total - o->start;
  s->c = *c;
  s->total = o->total;
  s->start = o->start;
  s->first_into_fd = o->first_into_fd;
  s->max_conn = MIN(MAX(o->max_connections, 2u), SEG_MAX_CONNECTIONS);
  s->checkpoint = o->checkpoint;
  s->checkpoint_data = o->checkpoint_data;
  s->network_bytes = o->network_bytes;
  s->renew = o->renew;
  s->renew_data = o->renew_data;
  s->renew_free = o->renew_free;
  s->pos = o->start;
  for (unsigned i = 0; i < SEG_MAX_CONNECTIONS; i++) {
    s->conns[i].s = s;
    s->conns[i].piece = -1;
  }
  s->url = strdup(o->url);
  s->url_first = o->url_first ? strdup(o->url_first) : NULL;
  s->validator = o->validator ? strdup(o->validator) : NULL;
  s->shown = redact_url(o->url_first ? o->url_first : o->url);
  s->base.name = first->name ? strdup(first->name) : strdup(s->shown ? s->shown : "");
  if (!s->url || (o->url_first && !s->url_first) || (o->validator && !s->validator) || !s->shown || !s->base.name ||
      pieces_init(s, o) < 0)
    return error_oom(err);
  for (const struct curl_slist *h = o->headers; h; h = h->next) {
    struct curl_slist *n = curl_slist_append(s->headers, h->data);
    if (!n)
      return error_oom(err);
    s->headers = n;
  }
  if (sync_init(s) < 0)
    return error_set(err, VMPULL_E_IO, "cannot set up the transfers of %s", s->shown);
  if (o->start < o->total) {
    s->first = TAKE_PTR(first_owned);
    s->first_active = 1;
    s->first_piece = (int)(o->start / s->piece_size);
    s->first_end = s->pieces[s->first_piece].end;
    s->pieces[s->first_piece].owner = 0;
  }
  s->target = 1;
  s->growing = 1;
  s->grow_at = s->ck_at = now_ns();
  if (!(s->multi = curl_multi_init()))
    return error_set(err, VMPULL_E_IO, "cannot initialise libcurl");
  /* Several connections are the point: no HTTP/2 multiplexing of the ranges over one of them
   * (curl's default per-host limit is none). */
  curl_multi_setopt(s->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
  int e = worker_thread_start(&s->thread, transfer_thread, s);
  if (e != 0)
    return error_set_errno(err, VMPULL_E_IO, e, "cannot start the transfer thread");
  s->thread_started = 1;
  *out = &TAKE_PTR(s)->base;
  return 0;
}
