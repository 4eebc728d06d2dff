/* SPDX-License-Identifier: Apache-2.0 */
/* One error model (after crun's libcrun/error.c): fill err, return -code. */
#ifndef VMPULL_ERROR_H
#define VMPULL_ERROR_H

#include "vmpull.h"

/* Set err to code and a formatted message. Returns -code, for `return error_set(...)`. */
int error_set(vmpull_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like error_set, appending ": strerror(errnum)". */
int error_set_errno(vmpull_error *err, int code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prefix the existing message with context ("ctx: old message"). Returns -err->code. */
int error_wrap(vmpull_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reset to VMPULL_OK / empty. */
void error_clear(vmpull_error *err);
/* Out-of-memory in one place, so every caller says the same thing. */
int error_oom(vmpull_error *err);

#endif
