/* SPDX-License-Identifier: Apache-2.0 */
/* What public calls check first, and the process-wide initialisation they share. */
#include "api/call_check.h"

#include "base/error.h"
#include "net/http_transfer.h"

#include <stddef.h>

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
