/* SPDX-License-Identifier: Apache-2.0 */
#include "base/util.h"

#include "base/error.h"
#include "base/platform.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

char *xasprintf(const char *fmt, ...) {
  va_list ap;
  char *s = NULL;
  va_start(ap, fmt);
  int r = vasprintf(&s, fmt, ap);
  va_end(ap);
  return r < 0 ? NULL : s;
}

int ends_with_ci(const char *s, const char *suffix) {
  size_t ls = strlen(s), lx = strlen(suffix);
  return ls >= lx && strcasecmp(s + ls - lx, suffix) == 0;
}

int starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

void start_writeback(int fd, uint64_t *from, uint64_t end) {
  if (end - *from < WRITEBACK_STEP)
    return;
  plat_writeback_start(fd, *from, end - *from);
  *from = end;
}

int pwrite_all(int fd, const void *buf, size_t len, uint64_t off) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = plat_pwrite(fd, p, len, off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
    off += (uint64_t)n;
  }
  return 0;
}

int write_all(int fd, const void *buf, size_t len) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN) {
        plat_wait_writable(fd);
        continue;
      }
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

struct wiped_buffer {
  char *data;
  size_t cap;
};
static void wiped_buffer_free(struct wiped_buffer *b) {
  secure_zero(b->data, b->cap);
  free(b->data);
  b->data = NULL;
}

int read_file_limited(const char *path, size_t max, char **out, size_t *len) {
  _cleanup_close_ int fd = plat_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  return read_fd_limited(fd, max, out, len);
}

int read_fd_limited(int fd, size_t max, char **out, size_t *len) {
  struct stat st;
  if (fstat(fd, &st) < 0)
    return -errno;
  if (S_ISDIR(st.st_mode))
    return -EISDIR;
  /* The file may be an auth file: no copy of its bytes is left behind unwiped (no realloc;
   * a regular file's size is known, so usually one buffer does). */
  size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size < max ? (size_t)st.st_size + 1 : 4096;
  size_t used = 0;
  _cleanup_(wiped_buffer_free) struct wiped_buffer b = {.data = malloc(cap + 1), .cap = cap + 1};
  char *buf = b.data;
  if (!buf)
    return -ENOMEM;
  for (;;) {
    if (used == cap) {
      if (cap > max)
        return -EFBIG;
      cap *= 2;
      char *nb = malloc(cap + 1);
      if (!nb)
        return -ENOMEM;
      memcpy(nb, buf, used);
      wiped_buffer_free(&b);
      b = (struct wiped_buffer){.data = nb, .cap = cap + 1};
      buf = nb;
    }
    ssize_t n = read(fd, buf + used, cap - used);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (n == 0)
      break;
    used += (size_t)n;
    if (used > max)
      return -EFBIG;
  }
  buf[used] = '\0';
  if (len)
    *len = used;
  *out = TAKE_PTR(b.data);
  return 0;
}

uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int mkdir_parents(const char *path, mode_t mode, int *created, size_t *failed_len) {
  _cleanup_free_ char *copy = strdup(path);
  if (!copy)
    return -ENOMEM;
  if (created)
    *created = 0;
  if (failed_len)
    *failed_len = strlen(path);
  if (!*copy)
    return -ENOENT;
  for (char *p = copy + 1;; p++) {
    if (*p != '/' && *p != '\0')
      continue;
    char saved = *p;
    *p = '\0';
    int made = mkdir(copy, mode) == 0;
    if (!made && errno != EEXIST) {
      if (failed_len)
        *failed_len = (size_t)(p - copy);
      return -errno;
    }
    *p = saved;
    if (created)
      *created = made;
    if (!saved || !p[1])
      break;
  }
  return 0;
}

int mkdir_parents_or_fail(const char *path, mode_t mode, int *created, struct lib_error *err) {
  size_t failed_len;
  int r = mkdir_parents(path, mode, created, &failed_len);
  if (r == -ENOMEM)
    return error_oom(err);
  if (r < 0)
    return error_set_errno(err, VMPULL_E_IO, -r, "create folder %.*s", (int)failed_len, path);
  return 0;
}

int read_file_or_fail(const char *path, size_t max, const char *what, char **out, size_t *len, lib_error *err) {
  int r = read_file_limited(path, max, out, len);
  if (r == -EFBIG)
    return error_set(err, VMPULL_E_LIMIT, "%s %s is larger than %zu bytes", what, path, max);
  if (r < 0)
    return error_set_errno(err, r == -ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, -r, "%s %s", what, path);
  return 0;
}
