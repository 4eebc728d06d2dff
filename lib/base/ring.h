/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one bounded producer/consumer queue between a caller's thread and a worker thread (the
 * transfer, the hash, the writer). It keeps positions only, in units its owner chooses (bytes of a
 * byte array, or whole buffers of an array of buffers): cap units at ring positions 0..cap-1,
 * count of them queued from head on. The owner's data live beside it; the producer fills free
 * units and the consumer reads queued ones without the lock, since each side only touches its own
 * part. Either side can end it: the producer closes it (nothing more will come), the consumer
 * abandons it (nothing more will be read). Worker threads start with base/thread.h's
 * worker_thread_start, signals blocked.
 *
 * The lock is the owner's too (ring_lock): state it keeps beside the queue (a result, an error, a
 * "headers are in" flag) changes under it, followed by ring_notify_locked.
 */
#ifndef VMPULL_RING_H
#define VMPULL_RING_H

#include <pthread.h>
#include <stddef.h>

struct ring {
  pthread_mutex_t mu;
  pthread_cond_t changed; /* units queued or freed, closed, abandoned, or the owner's state */
  size_t cap, head, count;
  int closed;    /* the producer is done: the consumer drains what is queued, then sees the end */
  int abandoned; /* the consumer is gone: the producer stops */
};

/* 0, or a positive errno. */
int ring_init(struct ring *r, size_t cap);
void ring_destroy(struct ring *r);

void ring_lock(struct ring *r);
void ring_unlock(struct ring *r);
/* With the lock held: wake every waiter (after changing state kept beside the ring). */
void ring_notify_locked(struct ring *r);
/* With the lock held: sleep until notified, at most wait_ms milliseconds (0: no limit). */
void ring_wait_locked(struct ring *r, unsigned wait_ms);

/* Producer. Waits for free units; returns how many follow one another from *at (the first free
 * position) up to the end of the ring, at most max; 0 once the ring is abandoned. */
size_t ring_reserve(struct ring *r, size_t max, size_t *at);
/* Queue the n units filled at the position ring_reserve gave. */
void ring_commit(struct ring *r, size_t n);
/* Nothing more will be queued. */
void ring_close(struct ring *r);

/* Consumer, with the lock held: the queued units that follow one another from *at (the oldest),
 * at most max; 0 when none is queued. Does not wait. */
size_t ring_peek_locked(const struct ring *r, size_t max, size_t *at);
/* Consumer. Waits for queued units (as ring_peek_locked); 0 once the ring is closed and empty. */
size_t ring_peek(struct ring *r, size_t max, size_t *at);
/* Free the n oldest units (read, or dropped). */
void ring_release(struct ring *r, size_t n);
void ring_release_locked(struct ring *r, size_t n);
/* With the lock held: wait until every queued unit is released (the consumer caught up). */
void ring_wait_empty_locked(struct ring *r);
/* Nothing more will be read: a waiting producer returns. */
void ring_abandon(struct ring *r);

#endif
