/* SPDX-License-Identifier: Apache-2.0 */
/* Byte source: a local file. */
#include <fcntl.h>
#include <sys/stat.h>

#include "error.h"
#include "source.h"
#include "util.h"

struct file_source {
  struct byte_source base;
  int fd;
};

static int file_read(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, vmpull_error *err) {
  struct file_source *f = (struct file_source *)s;
  for (;;) {
    ssize_t n = read(f->fd, buf, cap);
    if (n < 0) {
      if (errno == EINTR)
        continue;
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

int source_file_open(const char *path, struct byte_source **out, vmpull_error *err) {
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return error_set_errno(err, errno == ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, errno, "open %s", path);
  struct stat st;
  if (fstat(fd, &st) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "stat %s", path);
  if (S_ISDIR(st.st_mode))
    return error_set(err, VMPULL_E_USAGE, "%s: is a directory, not a disk image", path);
  /* Sequential hint doubles kernel readahead so disk reads overlap decoding. */
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  struct file_source *f = calloc(1, sizeof(*f));
  if (!f)
    return error_oom(err);
  f->base.ops = &file_ops;
  f->base.name = strdup(path);
  f->base.size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UINT64_MAX;
  f->fd = TAKE_FD(fd);
  if (!f->base.name) {
    file_free(&f->base);
    return error_oom(err);
  }
  *out = &f->base;
  return 0;
}

int source_file_from_fd(int fd, const char *name, uint64_t size, struct byte_source **out, vmpull_error *err) {
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
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  *out = &f->base;
  return 0;
}
