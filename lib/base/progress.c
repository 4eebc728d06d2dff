/* SPDX-License-Identifier: Apache-2.0 */
#include "base/progress.h"

#include "base/error.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>

int progress_check_cancel(struct progress_state *p, lib_error *err) {
  if (p && p->cancel && *p->cancel)
    return error_set(err, VMPULL_E_CANCELLED, "cancelled");
  return 0;
}

int progress_report(struct progress_state *p, int force, lib_error *err) {
  if (!p)
    return 0;
  int r = progress_check_cancel(p, err);
  if (r < 0)
    return r;
  if (!p->fn)
    return 0;
  uint64_t now = now_ns();
  if (!force && now - p->last_ns < 50000000ull)
    return 0;
  p->last_ns = now;
  if (p->fn(&p->ev, p->data) != 0)
    return error_set(err, VMPULL_E_CANCELLED, "cancelled");
  return 0;
}

int progress_poll(void *data, uint64_t done) {
  struct progress_poll *p = data;
  if (!p->progress)
    return 0;
  p->progress->ev.written = done;
  if (p->also_fetched)
    p->progress->ev.fetched = done;
  return progress_report(p->progress, 0, p->err) < 0 ? -ECANCELED : 0;
}

int progress_retry(struct progress_state *p, const char *reason, unsigned attempt, uint64_t wait_ms, lib_error *err) {
  if (!p)
    return 0;
  snprintf(p->retry_reason, sizeof(p->retry_reason), "%s", reason ? reason : "");
  p->ev.retries++;
  p->ev.retry_attempt = attempt;
  p->ev.retry_reason = p->retry_reason;
  p->ev.retry_wait_ms = wait_ms;
  return progress_report(p, 1, err);
}
