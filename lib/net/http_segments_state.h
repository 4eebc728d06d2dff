/* SPDX-License-Identifier: Apache-2.0 */
/* The state segmented downloads share between the reader (http_segments.c, the pulling thread)
 * and the range connections (http_segments_ranges.c, the transfer thread). Internal to those two. */
#ifndef VMPULL_HTTP_SEGMENTS_STATE_H
#define VMPULL_HTTP_SEGMENTS_STATE_H

#include "net/http.h"
#include "net/http_transfer.h"

#include <pthread.h>

struct seg_extent; /* net/http_segments.h */

#define SEG_MAX_CONNECTIONS 32u
#define SEG_MIN_PIECE (4ull << 20)
#define SEG_MAX_PIECE (16ull << 20)
#define WAIT_MS 100
#define GROW_INTERVAL_NS 250000000ull
#define GROW_FACTOR 1.12 /* bytes per second must rise this much for the next doubling */
/* ... and this much for the first: a link that caps each connection carries nearly twice as much on
 * two; one whose limit is shared (a full pipe, a busy server, loopback's CPU) gives a little more
 * at best, not worth the ranges' extra copy and the record. */
#define FIRST_GROW_FACTOR 1.5
#define STARVED_FRACTION 0.25 /* the reader waited this share of the time: the network is the slower side */
/* How much a kill -9 may cost: the record is brought up to date this often (each time an fdatasync,
 * which the writeback started as the bytes land keeps short). On the transfer thread, between
 * transfers: a record taken while the connections go on writing would wait for their new bytes
 * too, and lag further behind them (measured: 0.60x of the file fetched again after a kill -9 at
 * half, against 0.53x). */
#define CHECKPOINT_NS 250000000ull
#define CHECKPOINT_BYTES (16ull << 20)

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
  uint64_t written;  /* its bytes before this are on their way to disk (start_writeback) */
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
  int (*checkpoint)(void *data, const struct seg_extent *extents, size_t n, lib_error *why);
  void *checkpoint_data;
  void (*land_failed)(void *data, int errnum, const lib_error *why);
  void *land_failed_data;
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
  uint64_t written; /* the first connection's bytes before this are on their way to disk */
  int at_end, handed_over;
  int one_connection; /* the bytes stopped landing in fd: first (or a request from pos) brings the rest */
  unsigned ranges, most_connections; /* for the closing log line */

  /* shared, under mu */
  pthread_mutex_t mu;
  pthread_cond_t cond;
  uint64_t received;
  uint64_t reader_wait_ns;
  int stop, engine_done, first_active, changed;
  int need_renew;     /* a range was refused (401/403/410): the reader renews url and headers */
  lib_error fatal;    /* code OK: none */
  int land_errno;     /* a write into fd (or its record) failed: the reader goes on over one connection */
  lib_error land_why; /* the record's error; code OK: a write, land_errno says it */
  unsigned target;    /* connections wanted, the first one included */
  char warning[2 * VMPULL_ERROR_MAX + 64];
  int warning_pending;
  /* the retry the warning tells of, for the pull's retry event (sent with it, by the reader) */
  char retry_reason[VMPULL_ERROR_MAX];
  unsigned retry_attempt;
  uint64_t retry_ms;

  /* transfer thread */
  CURLM *multi;
  struct seg_conn conns[SEG_MAX_CONNECTIONS];
  pthread_t thread;
  int thread_started, sync_ready;
  int ranges_started; /* the first range was asked for (the record said what fd held before it) */
  uint64_t grow_at, grow_received, grow_wait;
  double rate_before_add;
  unsigned adds;
  int growing;

  /* the record (seg_checkpoint_now, under ck_mu: one record at a time, in order) */
  pthread_mutex_t ck_mu;
  uint64_t ck_at, ck_received;
  int ck_failed, ck_first_done;
};

/* The caller's cancel flag is set. */
int seg_cancelled(const struct seg_state *s);
/* Under mu: the first fatal error (s->fatal) ends everything. */
void seg_fail_locked(struct seg_state *s, const lib_error *e);
/* Under mu: a write into fd failed (errnum, or why: the record's error); the ranges stop and the
 * reader goes on over one connection (seg_fall_back). The first failure counts. */
void seg_land_failed_locked(struct seg_state *s, int errnum, const lib_error *why);
/* On the reader's thread, once a landing failed: the transfer thread stopped, fd closed, the
 * caller told (land_failed), and s->first streaming from pos (a fresh request when it was gone). */
int seg_fall_back(struct seg_state *s, lib_error *err);
/* Stop the transfer thread and wait for it (reader's thread). */
void seg_stop_engine(struct seg_state *s);
/* Make what fd holds durable and record it (the caller's checkpoint), without mu held. */
void seg_checkpoint_now(struct seg_state *s);
/* Take conn's transfer off the multi handle and free it. */
void seg_range_release(struct seg_state *s, struct seg_conn *conn);
/* The transfer thread (http_segments_ranges.c). */
void *seg_transfer_thread(void *arg);

#endif
