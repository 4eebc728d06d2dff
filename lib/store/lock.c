/* SPDX-License-Identifier: Apache-2.0 */
#include "store/lock.h"

#include "base/error.h"
#include "base/fs_beneath.h"
#include "base/platform.h"
#include "base/util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

/* After flock succeeds, is fd still the file called name? A holder may have
 * renamed it into the blob store or removed it while we waited. */
static int still_named(int dirfd, const char *name, int fd) {
  return plat_same_file(fd, dirfd, name);
}

int lock_file_try(int dirfd, const char *name, int *fd) {
  _cleanup_close_ int f = beneath_open(dirfd, name, O_RDWR | O_NOCTTY | O_NONBLOCK, 0);
  if (f < 0)
    return f == -ENOENT ? 0 : f;
  struct stat st;
  if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode))
    return 0; /* not an entry of ours */
  if (plat_flock(f, LOCK_EX | LOCK_NB) < 0)
    return errno == EWOULDBLOCK ? 0 : -errno;
  if (!still_named(dirfd, name, f))
    return 0;
  *fd = TAKE_FD(f);
  return 1;
}

int lock_file(int dirfd, const char *name, const struct lock_wait *w, int *fd, lib_error *err) {
  int said = 0;
  for (;;) {
    /* O_NONBLOCK: a FIFO under the entry's name would otherwise take the bytes and block. */
    _cleanup_close_ int f = beneath_open(dirfd, name, O_RDWR | O_CREAT | O_NOCTTY | O_NONBLOCK, 0600);
    if (f < 0)
      return error_set_errno(err, VMPULL_E_IO, -f, "open cache entry for %s", w->what);
    struct stat st;
    if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode))
      return error_set(err, VMPULL_E_IO, "open cache entry for %s: not a regular file", w->what);
    if (plat_set_blocking(f) < 0)
      return error_set_errno(err, VMPULL_E_IO, errno, "open cache entry for %s", w->what);
    /* Poll rather than block in plat_flock(): a blocked plat_flock() cannot see the
     * cancel flag when the program's signal handlers restart system calls. */
    for (;;) {
      if (plat_flock(f, LOCK_EX | LOCK_NB) == 0)
        break;
      if (errno != EWOULDBLOCK && errno != EINTR)
        return error_set_errno(err, VMPULL_E_IO, errno, "lock cache entry for %s", w->what);
      if (w->cancel && *w->cancel)
        return error_set(err, VMPULL_E_CANCELLED, "cancelled");
      if (w->tick) {
        int r = w->tick(w->tick_data, err);
        if (r < 0)
          return r;
      }
      if (!said) {
        said = 1;
        warning_send(w->warning, w->warning_data, "waiting for another vmpull that is downloading %s", w->what);
      }
      struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    if (still_named(dirfd, name, f)) {
      *fd = TAKE_FD(f);
      return 0;
    }
    /* The holder committed or removed it: lock whatever the name holds now. */
  }
}
