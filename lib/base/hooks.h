/* SPDX-License-Identifier: Apache-2.0 */
/* The caller's callbacks as every floor receives them: the api floor copies them out of the public
 * options once (api/options.c); nothing below it sees those options. */
#ifndef VMPULL_HOOKS_H
#define VMPULL_HOOKS_H

#include "base/compat.h"
#include "vmpull.h"

#include <stdarg.h>

struct call_hooks {
  vmpull_warning_fn warning; /* one-line warnings; NULL: nobody listens (send them with warning_send) */
  void *warning_data;
  vmpull_progress_fn progress; /* progress events; NULL: none */
  void *progress_data;
  volatile sig_atomic_t *cancel; /* polled; non-zero cancels the call; may be NULL */
  vmpull_log_fn log;             /* lines for someone debugging a call; NULL: none (send them with hooks_log) */
  void *log_data;
};

/* A one-line warning to the caller, cleaned like every message (warning_send); h may be NULL, and
 * so may its warning callback: then nobody listens. */
void hooks_warn(const struct call_hooks *h, const char *fmt, ...) VMPULL_PRINTF(2, 3);
void hooks_vwarn(const struct call_hooks *h, const char *fmt, va_list ap) VMPULL_PRINTF(2, 0);

/* A log line at level (a vmpull_log_level), cleaned like a warning; h may be NULL, and so may its
 * log callback: then nothing is even formatted. Never put a credential in one: URLs go through
 * redact_url first. */
void hooks_log(const struct call_hooks *h, int level, const char *fmt, ...) VMPULL_PRINTF(3, 4);
void hooks_vlog(const struct call_hooks *h, int level, const char *fmt, va_list ap) VMPULL_PRINTF(3, 0);
/* Does anybody listen to log lines? For a line whose arguments cost something to make. */
int hooks_logging(const struct call_hooks *h);

#endif
