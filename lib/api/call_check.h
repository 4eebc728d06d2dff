/* SPDX-License-Identifier: Apache-2.0 */
/* What a public call checks and sets up before it does anything (global.c). */
#ifndef VMPULL_GLOBAL_H
#define VMPULL_GLOBAL_H

#include "base/error.h"

/* Options made by vmpull_pull_options_init, an out-parameter given, no flag outside known_flags;
 * then vmpull_global_init. fn names the public call in the message. */
int public_call_check(const char *fn, const vmpull_pull_options *o, const void *out, unsigned flags,
                      unsigned known_flags, lib_error *err);

#endif
