/* SPDX-License-Identifier: Apache-2.0 */
/* The one producer/consumer ring (lib/base/ring.c) and its worker threads (lib/base/thread.c). */
/* clang-format off */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
/* clang-format on */

#include "base/ring.h"
#include "base/thread.h"

#define CAP 7 /* odd, so that chunks wrap at every place */
#define TOTAL 100000

struct pipe_test {
  struct ring ring;
  uint8_t buf[CAP];
  size_t produced;
  int abandoned_seen;
  int sigint_blocked;
};

static void *producer(void *arg) {
  struct pipe_test *p = arg;
#ifndef _WIN32
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  p->sigint_blocked = sigismember(&mask, SIGINT) == 1;
#else
  p->sigint_blocked = 1; /* no signal masks on Windows (Ctrl-C runs on a thread of its own) */
#endif
  while (p->produced < TOTAL) {
    size_t at;
    size_t want = 1 + p->produced % 5;
    size_t n = ring_reserve(&p->ring, want < TOTAL - p->produced ? want : TOTAL - p->produced, &at);
    if (!n) {
      p->abandoned_seen = 1;
      return NULL;
    }
    for (size_t i = 0; i < n; i++)
      p->buf[at + i] = (uint8_t)(p->produced + i);
    p->produced += n;
    ring_commit(&p->ring, n);
  }
  ring_close(&p->ring);
  return NULL;
}

static void test_order_and_end(void **state) {
  (void)state;
  struct pipe_test p = {0};
  assert_int_equal(ring_init(&p.ring, CAP), 0);
  pthread_t t;
  assert_int_equal(worker_thread_start(&t, producer, &p), 0);
  size_t consumed = 0, at, n;
  while ((n = ring_peek(&p.ring, 3, &at)) > 0) {
    assert_true(at + n <= CAP);
    for (size_t i = 0; i < n; i++)
      assert_int_equal(p.buf[at + i], (uint8_t)(consumed + i));
    consumed += n;
    ring_release(&p.ring, n);
  }
  pthread_join(t, NULL);
  assert_int_equal(consumed, TOTAL);
  assert_true(p.sigint_blocked);
  ring_destroy(&p.ring);
}

static void test_abandon_stops_producer(void **state) {
  (void)state;
  struct pipe_test p = {0};
  assert_int_equal(ring_init(&p.ring, CAP), 0);
  pthread_t t;
  assert_int_equal(worker_thread_start(&t, producer, &p), 0);
  size_t at;
  assert_true(ring_peek(&p.ring, 1, &at) > 0);
  ring_release(&p.ring, 1);
  ring_abandon(&p.ring); /* the producer, waiting for room or not, returns */
  pthread_join(t, NULL);
  assert_true(p.abandoned_seen);
  assert_true(p.produced < TOTAL);
  ring_destroy(&p.ring);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_order_and_end),
      cmocka_unit_test(test_abandon_stops_producer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
