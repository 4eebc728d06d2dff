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
#include "base/platform.h"
#include "base/redact.h"
#include "base/thread.h"
#include "base/util.h"
#include "net/http_retry.h"
#include "net/http_segments_state.h"

#include <time.h>

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

static volatile sig_atomic_t *cancel_flag(const struct http_config *c) {
  return c->cancel ? c->cancel : c->progress ? c->progress->cancel : NULL;
}

int seg_cancelled(const struct seg_state *s) {
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

void seg_fail_locked(struct seg_state *s, const lib_error *e) {
  if (s->fatal.code == VMPULL_OK)
    s->fatal = *e;
  s->stop = 1;
  pthread_cond_broadcast(&s->cond);
}

/* ---- the reader (pulling thread) ---- */

void seg_stop_engine(struct seg_state *s) {
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

/* A range's retry, told on the reader's thread: the warning, and the retry event a whole-file
 * retry sends too (the callback may cancel). */
static int send_warning(struct seg_state *s, lib_error *err) {
  char line[2 * VMPULL_ERROR_MAX + 64], reason[VMPULL_ERROR_MAX];
  pthread_mutex_lock(&s->mu);
  int pending = s->warning_pending;
  unsigned attempt = s->retry_attempt;
  uint64_t ms = s->retry_ms;
  if (pending) {
    memcpy(line, s->warning, sizeof(line));
    memcpy(reason, s->retry_reason, sizeof(reason));
  }
  s->warning_pending = 0;
  pthread_mutex_unlock(&s->mu);
  if (!pending)
    return 0;
  if (s->c.warning)
    warning_send(s->c.warning, s->c.warning_data, "%s", line);
  return progress_retry(s->c.progress, reason, attempt, ms, err);
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
    seg_fail_locked(s, err);
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
    if (w < 0) {
      /* The bytes read are good: they go on, and so does this connection, alone (seg_fall_back);
       * its piece keeps its mark, so no record names them. */
      s->pos += *got;
      pthread_mutex_lock(&s->mu);
      s->received += *got;
      seg_land_failed_locked(s, -w, NULL);
      pthread_mutex_unlock(&s->mu);
      return 0;
    }
    start_writeback(s->fd, &s->written, s->pos + *got);
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

/* Bytes of the prefix from fd, waiting for them; 1: none will land any more (seg_fall_back). */
static int read_landed(struct seg_state *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  uint64_t avail;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    /* A failed landing: bytes the record could not vouch for are not read back either. */
    if (s->land_errno) {
      pthread_mutex_unlock(&s->mu);
      return 1;
    }
    avail = prefix_locked(s, s->pos);
    if (avail > s->pos)
      break;
    if (s->fatal.code != VMPULL_OK || (s->engine_done && !seg_cancelled(s))) {
      lib_error e = s->fatal;
      int changed = s->changed;
      pthread_mutex_unlock(&s->mu);
      if (e.code == VMPULL_OK)
        error_set(&e, VMPULL_E_NETWORK, "%s: the transfers ended before byte %llu", s->shown,
                  (unsigned long long)s->pos);
      return fail_read(s, &e, changed, err);
    }
    if (seg_cancelled(s)) {
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
    ssize_t k = plat_pread(s->fd, buf, n, s->pos);
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

/* After a failed landing (seg_fall_back): the one connection's next bytes, which land nowhere. */
static int read_rest(struct seg_state *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  if (!s->first) /* its request failed: that error was the read's */
    return error_set(err, VMPULL_E_NETWORK, "%s: the download ended in an error", s->shown);
  int r = source_read(s->first, buf, (size_t)MIN((uint64_t)cap, s->total - s->pos), got, err);
  if (r < 0)
    return r;
  if (*got == 0)
    return error_set(err, VMPULL_E_NETWORK, "%s: the body ended after %llu of %llu bytes", s->shown,
                     (unsigned long long)s->pos, (unsigned long long)s->total);
  s->pos += *got;
  pthread_mutex_lock(&s->mu);
  s->received += *got;
  pthread_mutex_unlock(&s->mu);
  return 0;
}

static int landing_failed(struct seg_state *s) {
  pthread_mutex_lock(&s->mu);
  int failed = s->land_errno != 0;
  pthread_mutex_unlock(&s->mu);
  return failed;
}

static int seg_read(struct byte_source *src, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  struct seg_state *s = (struct seg_state *)src;
  *got = 0;
  int r = send_warning(s, err);
  if (r < 0)
    return r;
  /* A failed landing goes before the ranges' errors: without them the pull does not need them. */
  if (!s->one_connection && landing_failed(s)) {
    r = seg_fall_back(s, err);
    if (r < 0)
      return r;
  }
  if (s->renew && !s->one_connection) {
    r = renew_if_asked(s, err);
    if (r < 0)
      return r;
  }
  pthread_mutex_lock(&s->mu);
  lib_error fatal = s->fatal;
  int changed = s->changed;
  pthread_mutex_unlock(&s->mu);
  if (fatal.code != VMPULL_OK && !s->one_connection)
    return fail_read(s, &fatal, changed, err);
  if (seg_cancelled(s))
    return error_set(err, VMPULL_E_CANCELLED, "cancelled");
  if (s->pos >= s->total) {
    if (!s->at_end) {
      s->at_end = 1;
      seg_stop_engine(s);
      count_network(s);
      http_log_request(&s->c, s->url, "%u ranges besides the first request, at most %u connections at once", s->ranges,
                       MAX(s->most_connections, 1u));
    }
    return 0;
  }
  if (s->one_connection) {
    r = read_rest(s, buf, cap, got, err);
  } else if (s->first && s->pos < s->first_end) {
    r = read_first(s, buf, cap, got, err);
  } else {
    r = read_landed(s, buf, cap, got, err);
    if (r == 1) {
      r = seg_fall_back(s, err);
      if (r == 0)
        r = read_rest(s, buf, cap, got, err);
    }
  }
  if (r == 0)
    count_network(s);
  return r;
}

static void seg_free(struct byte_source *src) {
  struct seg_state *s = (struct seg_state *)src;
  seg_stop_engine(s);
  source_free(TAKE_PTR(s->first));
  if (!s->at_end && s->sync_ready)
    seg_checkpoint_now(s); /* what this pull got stays for the next one */
  if (s->sync_ready)
    count_network(s);
  for (unsigned i = 0; i < SEG_MAX_CONNECTIONS; i++)
    seg_range_release(s, &s->conns[i]);
  if (s->multi)
    curl_multi_cleanup(s->multi);
  if (s->sync_ready) {
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->ck_mu);
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
  if (pthread_mutex_init(&s->ck_mu, NULL) != 0) {
    pthread_mutex_destroy(&s->mu);
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
  s->land_failed = o->land_failed;
  s->land_failed_data = o->land_failed_data;
  s->network_bytes = o->network_bytes;
  s->renew = o->renew;
  s->renew_data = o->renew_data;
  s->renew_free = o->renew_free;
  s->pos = s->written = o->start;
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
  int e = worker_thread_start(&s->thread, seg_transfer_thread, s);
  if (e != 0)
    return error_set_errno(err, VMPULL_E_IO, e, "cannot start the transfer thread");
  s->thread_started = 1;
  *out = &TAKE_PTR(s)->base;
  return 0;
}
