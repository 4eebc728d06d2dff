/* SPDX-License-Identifier: Apache-2.0 */
#include "base/thread.h"

#include "base/platform.h"

int worker_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg) {
  return plat_thread_start(thread, fn, arg);
}
