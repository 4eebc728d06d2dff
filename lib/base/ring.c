/* SPDX-License-Identifier: Apache-2.0 */
#include "base/ring.h"

#include "base/util.h"

#include <time.h>

int ring_init(struct ring *r, size_t cap) {
  *r = (struct ring){.cap = cap};
  int e = pthread_mutex_init(&r->mu, NULL);
  if (e)
    return e;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* timed waits ignore wall-clock jumps */
  e = pthread_cond_init(&r->changed, &ca);
  pthread_condattr_destroy(&ca);
  if (e)
    pthread_mutex_destroy(&r->mu);
  return e;
}

void ring_destroy(struct ring *r) {
  pthread_cond_destroy(&r->changed);
  pthread_mutex_destroy(&r->mu);
}

void ring_lock(struct ring *r) {
  pthread_mutex_lock(&r->mu);
}

void ring_unlock(struct ring *r) {
  pthread_mutex_unlock(&r->mu);
}

void ring_notify_locked(struct ring *r) {
  pthread_cond_broadcast(&r->changed);
}

void ring_wait_locked(struct ring *r, unsigned wait_ms) {
  if (!wait_ms) {
    pthread_cond_wait(&r->changed, &r->mu);
    return;
  }
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_nsec += (long)wait_ms * 1000000L;
  ts.tv_sec += ts.tv_nsec / 1000000000L;
  ts.tv_nsec %= 1000000000L;
  pthread_cond_timedwait(&r->changed, &r->mu, &ts);
}

size_t ring_reserve(struct ring *r, size_t max, size_t *at) {
  pthread_mutex_lock(&r->mu);
  while (r->count == r->cap && !r->abandoned)
    pthread_cond_wait(&r->changed, &r->mu);
  size_t n = 0;
  if (!r->abandoned) {
    *at = (r->head + r->count) % r->cap;
    n = MIN(MIN(max, r->cap - r->count), r->cap - *at);
  }
  pthread_mutex_unlock(&r->mu);
  return n;
}

void ring_commit(struct ring *r, size_t n) {
  pthread_mutex_lock(&r->mu);
  r->count += n;
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->mu);
}

void ring_close(struct ring *r) {
  pthread_mutex_lock(&r->mu);
  r->closed = 1;
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->mu);
}

size_t ring_peek_locked(const struct ring *r, size_t max, size_t *at) {
  *at = r->head;
  return MIN(MIN(max, r->count), r->cap - r->head);
}

size_t ring_peek(struct ring *r, size_t max, size_t *at) {
  pthread_mutex_lock(&r->mu);
  while (r->count == 0 && !r->closed)
    pthread_cond_wait(&r->changed, &r->mu);
  size_t n = ring_peek_locked(r, max, at);
  pthread_mutex_unlock(&r->mu);
  return n;
}

void ring_release_locked(struct ring *r, size_t n) {
  r->head = (r->head + n) % r->cap;
  r->count -= n;
  pthread_cond_broadcast(&r->changed);
}

void ring_release(struct ring *r, size_t n) {
  pthread_mutex_lock(&r->mu);
  ring_release_locked(r, n);
  pthread_mutex_unlock(&r->mu);
}

void ring_wait_empty_locked(struct ring *r) {
  while (r->count > 0)
    pthread_cond_wait(&r->changed, &r->mu);
}

void ring_abandon(struct ring *r) {
  pthread_mutex_lock(&r->mu);
  r->abandoned = 1;
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->mu);
}
