/* SPDX-License-Identifier: Apache-2.0 */
/* What public calls check first, and the process-wide initialisation they share. */
#include "api/call_check.h"

#include "api/options.h"
#include "base/error.h"
#include "base/util.h"
#include "net/http_transfer.h"
#include "oci/oci_ref.h"

#include <stddef.h>
#include <stdlib.h>

VMPULL_PUBLIC int vmpull_global_init(vmpull_error *err) {
  lib_error e = {0};
  int r = http_global_init(&e);
  error_export(&e, err);
  return r;
}

int public_call_check(const char *fn, const vmpull_pull_options *o, const void *out, unsigned flags,
                      unsigned known_flags, lib_error *err) {
  if (!o || !out || o->struct_size < offsetof(vmpull_pull_options, cancel) + sizeof(o->cancel))
    return error_set(err, VMPULL_E_USAGE, "%s: options not initialised with vmpull_pull_options_init", fn);
  if (flags & ~known_flags)
    return error_set(err, VMPULL_E_USAGE, "%s: unknown flags 0x%x", fn, flags);
  return http_global_init(err);
}

int public_json_call(const char *fn, const char *verb, const vmpull_pull_options *opts, unsigned flags,
                     unsigned known_flags, json_call_run run, void *ctx, char **json, lib_error *err) {
  if (json)
    *json = NULL;
  int r = public_call_check(fn, opts, json, flags, known_flags, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *shown = redact_source(opts->source ? opts->source : "");
  struct pull_config cfg;
  pull_config_from_options(opts, &cfg);
  r = run(&cfg, ctx, json, err);
  if (r < 0) {
    free(*json);
    *json = NULL;
    return error_wrap(err, "%s %s", verb, shown ? shown : "source");
  }
  error_clear(err);
  return 0;
}
