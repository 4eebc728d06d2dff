/* SPDX-License-Identifier: Apache-2.0 */
#include "base/hooks.h"

#include "base/error.h"

void hooks_vwarn(const struct call_hooks *h, const char *fmt, va_list ap) {
  if (h)
    warning_vsend(h->warning, h->warning_data, fmt, ap);
}

void hooks_warn(const struct call_hooks *h, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  hooks_vwarn(h, fmt, ap);
  va_end(ap);
}
