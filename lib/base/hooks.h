/* SPDX-License-Identifier: Apache-2.0 */
/* The caller's callbacks as every floor receives them: the api floor copies them out of the public
 * options once (api/options.c); nothing below it sees those options. */
#ifndef VMPULL_HOOKS_H
#define VMPULL_HOOKS_H

#include "vmpull.h"

#include <stdarg.h>

struct call_hooks {
  vmpull_warning_fn warning; /* one-line warnings; NULL: nobody listens (send them with warning_send) */
  void *warning_data;
  vmpull_progress_fn progress; /* progress events; NULL: none */
  void *progress_data;
  volatile sig_atomic_t *cancel; /* polled; non-zero cancels the call; may be NULL */
};

/* A one-line warning to the caller, cleaned like every message (warning_send); h may be NULL, and
 * so may its warning callback: then nobody listens. */
void hooks_warn(const struct call_hooks *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hooks_vwarn(const struct call_hooks *h, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
