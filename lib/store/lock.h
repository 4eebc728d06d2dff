/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Advisory locks on cache entries (flock). The lock lives on the file being
 * filled itself, so the kernel drops it when its holder dies (kill -9, crash)
 * and there are no separate lock files to go stale. A file can be renamed
 * (committed) or removed while someone waits on it; the waiter notices and
 * locks the file now under that name instead.
 */
#ifndef VMPULL_LOCK_H
#define VMPULL_LOCK_H

#include "base/error.h"

#include <signal.h>

struct lock_wait {
  const char *what;          /* named in the waiting message: "https://host/img.xz" */
  vmpull_warning_fn warning; /* told once when the lock is held by another process */
  void *warning_data;
  volatile sig_atomic_t *cancel; /* polled while waiting */
  /* Called at every poll while waiting (every 50 ms; it throttles itself), so that the caller's
   * progress callback runs during the wait and can cancel it: < 0 (err filled) stops the wait
   * with that error. NULL: none. */
  int (*tick)(void *data, lib_error *err);
  void *tick_data;
};

/* Open (creating, mode 0600) name in dirfd and lock it exclusively, waiting for
 * another holder if needed. *fd is the open, locked file (read/write). */
int lock_file(int dirfd, const char *name, const struct lock_wait *w, int *fd, lib_error *err);

/* Lock an existing name without waiting: 1 locked (*fd set), 0 busy or gone, < 0 error (-errno). */
int lock_file_try(int dirfd, const char *name, int *fd);

#endif
