/* SPDX-License-Identifier: Apache-2.0 */
#include "base/progress.h"

#include "base/error.h"
#include "base/util.h"

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
