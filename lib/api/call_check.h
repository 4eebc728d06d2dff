/* SPDX-License-Identifier: Apache-2.0 */
/* What a public call checks and sets up before it does anything (global.c). */
#ifndef VMPULL_GLOBAL_H
#define VMPULL_GLOBAL_H

#include "base/error.h"

/* Options made by vmpull_pull_options_init, an out-parameter given, no flag outside known_flags;
 * then vmpull_global_init. fn names the public call in the message. */
int public_call_check(const char *fn, const vmpull_pull_options *o, const void *out, unsigned flags,
                      unsigned known_flags, lib_error *err);

struct pull_config;
typedef int (*json_call_run)(const struct pull_config *cfg, void *ctx, char **json, lib_error *err);
/* The frame of a public call that answers in JSON (vmpull_inspect, vmpull_save): check, read the
 * options once, run; on failure no JSON and an error that starts "<verb> <source>" (redacted). A
 * failure recovered from on the way (https before plain http) is not the outcome: cleared. */
int public_json_call(const char *fn, const char *verb, const vmpull_pull_options *opts, unsigned flags,
                     unsigned known_flags, json_call_run run, void *ctx, char **json, lib_error *err);

#endif
