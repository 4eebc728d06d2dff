/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The range connections of a segmented download (http_segments.h), on one transfer thread: one
 * curl multi handle whose connections are kept between ranges, each range checked before a byte
 * of it is written, retried from its high-water mark, and the growth of the number of
 * connections. The reader's side is http_segments.c.
 */
#include "base/error.h"
#include "base/util.h"
#include "net/http_retry.h"
#include "net/http_segments.h"
#include "net/http_segments_state.h"

/* ---- durable record of what fd holds ---- */

static void checkpoint_locked(struct seg_state *s);

void seg_checkpoint_now(struct seg_state *s) {
  if (!s->checkpoint)
    return;
  pthread_mutex_lock(&s->ck_mu);
  checkpoint_locked(s);
  s->ck_first_done = 1;
  pthread_mutex_unlock(&s->ck_mu);
}

/* Under ck_mu. */
static void checkpoint_locked(struct seg_state *s) {
  if (s->ck_failed)
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
  int landing = s->land_errno == 0;
  pthread_mutex_unlock(&s->mu);
  if (!landing)
    return; /* the entry is given up: no record of it any more */
  lib_error why;
  error_clear(&why);
  int r = s->checkpoint(s->checkpoint_data, ext, n, &why);
  if (r < 0) {
    /* Bytes that may not have reached the disk, or a record that cannot say which did: the entry
     * cannot be kept up, so nothing more lands in it. */
    s->ck_failed = 1;
    if (why.code == VMPULL_OK)
      error_set_errno(&why, VMPULL_E_IO, -r, "record the download of %s", s->shown);
    pthread_mutex_lock(&s->mu);
    seg_land_failed_locked(s, -r, &why);
    pthread_mutex_unlock(&s->mu);
  }
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
  if (w < 0) {
    /* Not the pull's failure: the ranges stop, the reader goes on over one connection. */
    pthread_mutex_lock(&s->mu);
    seg_land_failed_locked(s, -w, NULL);
    pthread_mutex_unlock(&s->mu);
    return http_transfer_fail(t, VMPULL_E_IO, "write the download of %s: %s", s->shown, strerror(-w));
  }
  conn->got += n;
  if (s->checkpoint) /* the next checkpoint's fdatasync then waits for little */
    start_writeback(s->fd, &conn->written, at + n);
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

void seg_range_release(struct seg_state *s, struct seg_conn *conn) {
  if (conn->busy)
    curl_multi_remove_handle(s->multi, conn->t.easy);
  conn->busy = 0;
  http_transfer_cleanup(&conn->t);
  memset(&conn->t, 0, sizeof(conn->t));
}

static int range_start(struct seg_state *s, struct seg_conn *conn, lib_error *err) {
  seg_range_release(s, conn);
  const struct seg_piece *p = &s->pieces[conn->piece];
  conn->asked = conn->written = p->hwm;
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
  snprintf(s->retry_reason, sizeof(s->retry_reason), "%s", msg);
  s->retry_attempt = n;
  s->retry_ms = ms;
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
  if (s->land_errno || (e.code == VMPULL_OK && p->hwm == p->end)) {
    /* (after a failed landing the ranges' errors no longer matter: the reader goes on without them) */
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
    seg_fail_locked(s, &e);
  } else if (!retryable && !http_retryable(0, e.code)) {
    seg_fail_locked(s, &e);
  } else {
    if (p->hwm > p->hwm_at_failure)
      p->failures = 0; /* it got somewhere: a fresh budget, as a retrying body has */
    p->hwm_at_failure = p->hwm;
    if (p->failures >= (unsigned)MAX(s->c.retries, 0)) {
      seg_fail_locked(s, &e);
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
          seg_fail_locked(s, &e);
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
  if (s->adds == 0 ? starved >= STARVED_FRACTION
                   : rate >= s->rate_before_add * (s->adds == 1 ? FIRST_GROW_FACTOR : GROW_FACTOR)) {
    s->target = MIN(s->target * 2, s->max_conn);
    s->adds++;
    s->rate_before_add = rate;
  } else if (s->adds > 0) {
    s->growing = 0; /* the last one did not pay: stay there */
    if (s->adds == 1)
      s->target = 1; /* not even the first: one connection is what this link carries, go back to it */
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
    size_t take = k;
    if (s->first_active && s->adds == 1 && s->growing) {
      /* The second connection is a probe of whether it pays, until grow_locked judges it. It takes
       * the last pieces nobody has, so the first connection streams on undisturbed meanwhile; if
       * it does not pay, the first connection carries the rest and meets those pieces only at
       * the end. */
      for (size_t j = s->n_pieces; j-- > k;)
        if (s->pieces[j].owner == -1 && s->pieces[j].hwm < s->pieces[j].end) {
          take = j;
          break;
        }
    }
    s->pieces[take].owner = (int)i + 1;
    conn->piece = (int)take;
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

void *seg_transfer_thread(void *arg) {
  struct seg_state *s = arg;
  for (;;) {
    uint64_t now = now_ns();
    pthread_mutex_lock(&s->mu);
    if (seg_cancelled(s))
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
      if (!s->ranges_started) {
        /* Before the first byte lands out of order, the record must say which bytes fd holds:
         * without it a resume would take the file's length for what it has. */
        seg_checkpoint_now(s);
        s->ranges_started = 1;
        if (s->ck_failed)
          break; /* no record, no ranges: the reader goes on over the first connection */
      }
      lib_error e;
      if (range_start(s, conn, &e) < 0) {
        pthread_mutex_lock(&s->mu);
        seg_fail_locked(s, &e);
        pthread_mutex_unlock(&s->mu);
        break;
      }
    }
    int running = 0;
    if (curl_multi_perform(s->multi, &running) != CURLM_OK) {
      lib_error e;
      error_set(&e, VMPULL_E_IO, "%s: the transfers failed", s->shown);
      pthread_mutex_lock(&s->mu);
      seg_fail_locked(s, &e);
      pthread_mutex_unlock(&s->mu);
      break;
    }
    int left = 0, finished = 0;
    CURLMsg *m;
    while ((m = curl_multi_info_read(s->multi, &left))) {
      if (m->msg != CURLMSG_DONE)
        continue;
      for (unsigned i = 0; i < SEG_MAX_CONNECTIONS; i++)
        if (s->conns[i].busy && s->conns[i].t.easy == m->easy_handle) {
          range_finish(s, &s->conns[i], m->data.result);
          finished++;
          break;
        }
    }
    /* A connection that finished its range asks for the next piece at once: on a fast link a
     * piece takes milliseconds, and a wait here would leave the connection idle for longer. */
    now = now_ns();
    pthread_mutex_lock(&s->mu);
    uint64_t unrecorded = s->received - s->ck_received;
    pthread_mutex_unlock(&s->mu);
    if (s->ck_first_done && !s->ck_failed && (now - s->ck_at >= CHECKPOINT_NS || unrecorded >= CHECKPOINT_BYTES))
      seg_checkpoint_now(s);
    if (!finished)
      curl_multi_poll(s->multi, NULL, 0, WAIT_MS, NULL);
  }
  for (unsigned i = 0; i < SEG_MAX_CONNECTIONS; i++)
    seg_range_release(s, &s->conns[i]);
  pthread_mutex_lock(&s->mu);
  s->engine_done = 1;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
  return NULL;
}
