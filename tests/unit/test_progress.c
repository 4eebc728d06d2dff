/* SPDX-License-Identifier: Apache-2.0 */
/* Progress events (lib/base/progress.c): a retry reaches the caller at once, counted, with its reason
 * and wait, even right after another event (which the 50 ms throttle would hold back). */
/* clang-format off */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
/* clang-format on */

#include "base/progress.h"

struct seen {
  int calls;
  unsigned retries;
  char reason[300];
  uint64_t wait_ms;
  unsigned attempt;
};

static int record(const vmpull_progress *ev, void *data) {
  struct seen *s = data;
  s->calls++;
  s->retries = ev->retries;
  snprintf(s->reason, sizeof(s->reason), "%s", ev->retry_reason ? ev->retry_reason : "(null)");
  s->wait_ms = ev->retry_wait_ms;
  s->attempt = ev->retry_attempt;
  return 0;
}

static void test_retry_is_reported_at_once(void **state) {
  (void)state;
  struct seen s = {0};
  struct progress_state p = {.fn = record, .data = &s};
  lib_error err;
  assert_int_equal(progress_report(&p, 1, &err), 0);
  assert_int_equal(progress_report(&p, 0, &err), 0); /* within 50 ms: held back */
  assert_int_equal(s.calls, 1);
  assert_int_equal(progress_retry(&p, "HTTP 503 Service Unavailable", 1, 2000, &err), 0);
  assert_int_equal(s.calls, 2);
  assert_int_equal(s.retries, 1);
  assert_string_equal(s.reason, "HTTP 503 Service Unavailable");
  assert_int_equal(s.wait_ms, 2000);
  assert_int_equal(s.attempt, 1);
  assert_int_equal(progress_retry(&p, NULL, 3, 0, &err), 0);
  assert_int_equal(s.calls, 3);
  assert_int_equal(s.retries, 2);
  assert_int_equal(s.attempt, 3); /* the request's own number, not the count of the call */
  assert_string_equal(s.reason, "");
}

static void test_long_reason_is_cut_and_kept(void **state) {
  (void)state;
  struct seen s = {0};
  struct progress_state p = {.fn = record, .data = &s};
  char reason[1000];
  memset(reason, 'r', sizeof(reason) - 1);
  reason[sizeof(reason) - 1] = '\0';
  lib_error err;
  assert_int_equal(progress_retry(&p, reason, 1, 1, &err), 0);
  assert_int_equal(strlen(s.reason), sizeof(p.retry_reason) - 1);
  /* the event points into the state, not at the caller's (gone) buffer */
  assert_ptr_equal(p.ev.retry_reason, p.retry_reason);
}

static int cancel_it(const vmpull_progress *ev, void *data) {
  (void)ev;
  (void)data;
  return 1;
}

static void test_retry_can_cancel_and_needs_no_listener(void **state) {
  (void)state;
  lib_error err;
  assert_int_equal(progress_retry(NULL, "x", 1, 1, &err), 0);
  struct progress_state quiet = {0};
  assert_int_equal(progress_retry(&quiet, "x", 1, 1, &err), 0);
  assert_int_equal(quiet.ev.retries, 1);
  struct progress_state p = {.fn = cancel_it};
  assert_int_equal(progress_retry(&p, "x", 1, 1, &err), -VMPULL_E_CANCELLED);
  assert_int_equal(err.code, VMPULL_E_CANCELLED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_retry_is_reported_at_once),
      cmocka_unit_test(test_long_reason_is_cut_and_kept),
      cmocka_unit_test(test_retry_can_cancel_and_needs_no_listener),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
