/* SPDX-License-Identifier: Apache-2.0 */
/* Process-wide initialisation that libraries we use require exactly once, and what public calls check first. */
#include "api/call_check.h"

#include "base/error.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_status = 0;

static void global_init_once(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    global_status = -1;
}

VMPULL_PUBLIC int vmpull_global_init(vmpull_error *err) {
  pthread_once(&global_once, global_init_once);
  if (global_status < 0)
    return error_set(err, VMPULL_E_IO, "libcurl global initialisation failed");
  return 0;
}

int public_call_check(const char *fn, const vmpull_pull_options *o, const void *out, unsigned flags,
                      unsigned known_flags, vmpull_error *err) {
  if (!o || !out || o->struct_size < offsetof(vmpull_pull_options, cancel) + sizeof(o->cancel))
    return error_set(err, VMPULL_E_USAGE, "%s: options not initialised with vmpull_pull_options_init", fn);
  if (flags & ~known_flags)
    return error_set(err, VMPULL_E_USAGE, "%s: unknown flags 0x%x", fn, flags);
  return vmpull_global_init(err);
}
