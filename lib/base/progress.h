/* SPDX-License-Identifier: Apache-2.0 */
/* Progress events to the caller's callback, throttled, plus cancellation. */
#ifndef VMPULL_PROGRESS_H
#define VMPULL_PROGRESS_H

#include "base/error.h"

struct progress_state {
  vmpull_progress ev;
  vmpull_progress_fn fn;
  void *data;
  volatile sig_atomic_t *cancel;
  uint64_t last_ns;
  char retry_reason[256]; /* ev.retry_reason's text */
};

/* A retry is scheduled: counted, its reason, its number for its own request (attempt, from 1) and
 * wait told to the caller at once (not throttled). */
int progress_retry(struct progress_state *p, const char *reason, unsigned attempt, uint64_t wait_ms, lib_error *err);

/* Report (at most every 50 ms unless force); returns -VMPULL_E_CANCELLED when asked to stop. */
int progress_report(struct progress_state *p, int force, lib_error *err);
/* Poll only the cancel flag (cheap, for hot loops). */
int progress_check_cancel(struct progress_state *p, lib_error *err);

/* A copy's poll (store/disk_copy.h's callback shape): done bytes are reported as written (and as
 * fetched too when the copy is the fetch, a local file), a cancel comes back as -ECANCELED with err
 * filled. */
struct progress_poll {
  struct progress_state *progress; /* NULL: nobody listens */
  lib_error *err;
  int also_fetched;
};
int progress_poll(void *data, uint64_t done);

#endif
