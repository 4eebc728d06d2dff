/* SPDX-License-Identifier: Apache-2.0 */
/* Byte source: a local file. */
#include "base/error.h"
#include "base/platform.h"
#include "base/util.h"
#include "pipeline/source.h"

#include <fcntl.h>
#include <sys/stat.h>

/* How often a read that waits on a quiet pipe looks at the cancel flag. */
#define WAIT_POLL_MS 100

struct file_source {
  struct byte_source base;
  int fd;
  /* A FIFO, pipe, socket or device can go quiet for good: its reads wait in
   * poll() and watch the cancel flag, since with SA_RESTART handlers a signal
   * never interrupts a blocked read(). */
  int may_block;
  volatile sig_atomic_t *cancel; /* NULL: not cancellable */
};

static int cancelled(const struct file_source *f, lib_error *err) {
  if (f->cancel && *f->cancel)
    return error_set(err, VMPULL_E_CANCELLED, "cancelled");
  return 0;
}

/* Wait until fd has bytes (or EOF) to read, watching the cancel flag. */
static int wait_readable(struct file_source *f, lib_error *err) {
  for (;;) {
    int r = cancelled(f, err);
    if (r < 0)
      return r;
    int n = plat_wait_readable(f->fd, WAIT_POLL_MS);
    if (n < 0 && errno != EINTR)
      return error_set_errno(err, VMPULL_E_IO, errno, "wait for %s", f->base.name);
    if (n > 0)
      return 0;
  }
}

static int file_read(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  struct file_source *f = (struct file_source *)s;
  for (;;) {
    if (f->may_block) {
      int r = wait_readable(f, err);
      if (r < 0)
        return r;
    }
    ssize_t n = read(f->fd, buf, cap);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        int r = cancelled(f, err);
        if (r < 0)
          return r;
        continue;
      }
      return error_set_errno(err, VMPULL_E_IO, errno, "read %s", s->name);
    }
    *got = (size_t)n;
    return 0;
  }
}

static void file_free(struct byte_source *s) {
  struct file_source *f = (struct file_source *)s;
  closep(&f->fd);
  free(s->name);
  free(f);
}

static const struct byte_source_ops file_ops = {.read = file_read, .free = file_free};

int source_file_open(const char *path, struct byte_source **out, lib_error *err) {
  return source_file_open_cancellable(path, NULL, out, err);
}

int source_file_open_cancellable(const char *path, volatile sig_atomic_t *cancel, struct byte_source **out,
                                 lib_error *err) {
  /* open() of a FIFO waits for a writer: do that wait in poll() too (O_NONBLOCK), where the
   * cancel flag is seen. The flag only changes how this descriptor waits, not the pipe. */
  struct stat st;
  int fifo = stat(path, &st) == 0 && S_ISFIFO(st.st_mode);
  _cleanup_close_ int fd = plat_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | (fifo ? O_NONBLOCK : 0), 0);
  if (fd < 0)
    return error_set_errno(err, errno == ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, errno, "open %s", path);
  if (fstat(fd, &st) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "stat %s", path);
  if (S_ISDIR(st.st_mode))
    return error_set(err, VMPULL_E_USAGE, "%s: is a directory, not a disk image", path);
  /* Sequential hint doubles kernel readahead so disk reads overlap decoding. */
  plat_fadvise_sequential(fd);
  struct file_source *f = calloc(1, sizeof(*f));
  if (!f)
    return error_oom(err);
  f->base.ops = &file_ops;
  f->base.name = strdup(path);
  f->base.size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UINT64_MAX;
  f->fd = TAKE_FD(fd);
  f->may_block = !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
  f->cancel = cancel;
  if (!f->base.name) {
    file_free(&f->base);
    return error_oom(err);
  }
  *out = &f->base;
  return 0;
}

int source_file_from_fd(int fd, const char *name, uint64_t size, struct byte_source **out, lib_error *err) {
  struct file_source *f = calloc(1, sizeof(*f));
  if (!f) {
    closep(&fd);
    return error_oom(err);
  }
  f->base.ops = &file_ops;
  f->base.name = strdup(name);
  f->base.size = size;
  f->fd = fd;
  if (!f->base.name) {
    file_free(&f->base);
    return error_oom(err);
  }
  plat_fadvise_sequential(fd);
  *out = &f->base;
  return 0;
}
