/* SPDX-License-Identifier: Apache-2.0 */
#include "base/hooks.h"

#include "base/error.h"

void hooks_vwarn(const struct call_hooks *h, const char *fmt, va_list ap) {
  if (h)
    warning_vsend(h->warning, h->warning_data, fmt, ap);
}

void hooks_vlog(const struct call_hooks *h, int level, const char *fmt, va_list ap) {
  if (h)
    log_vsend(h->log, h->log_data, level, fmt, ap);
}

void hooks_log(const struct call_hooks *h, int level, const char *fmt, ...) {
  if (!hooks_logging(h))
    return;
  va_list ap;
  va_start(ap, fmt);
  hooks_vlog(h, level, fmt, ap);
  va_end(ap);
}

int hooks_logging(const struct call_hooks *h) {
  return h && h->log;
}

void hooks_warn(const struct call_hooks *h, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  hooks_vwarn(h, fmt, ap);
  va_end(ap);
}
