/* SPDX-License-Identifier: Apache-2.0 */
/* Process-wide initialisation that libraries we use require exactly once. */
#include <curl/curl.h>
#include <pthread.h>

#include "error.h"

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
