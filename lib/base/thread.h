/* SPDX-License-Identifier: Apache-2.0 */
/* The library's worker threads (the transfer, the hash, the writer) start in one place. */
#ifndef VMPULL_THREAD_H
#define VMPULL_THREAD_H

#include <pthread.h>

/* pthread_create with every signal blocked in the new thread: signals (SIGINT, SIGTERM) belong to
 * the caller's threads, whose handlers set the cancel flag the pull polls. 0 or a positive errno,
 * as pthread_create. */
int worker_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
