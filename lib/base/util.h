/* SPDX-License-Identifier: Apache-2.0 */
/* Internal helpers: scope-based cleanup, ownership transfer, small utilities. */
#ifndef VMPULL_UTIL_H
#define VMPULL_UTIL_H

#include "base/compat.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
/* systemd's DEFINE_TRIVIAL_CLEANUP_FUNC: funcp(type *p) calls func(*p) unless *p is NULL, for
 * `_cleanup_(funcp) type x = ...;`. */
#define DEFINE_CLEANUP_FUNC(type, func)                                                                                \
  static inline void func##p(type *p) {                                                                                \
    if (*p)                                                                                                            \
      func(*p);                                                                                                        \
  }

static inline void freep(void *p) {
  free(*(void **)p);
}
static inline void closep(int *fd) {
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
  }
}
static inline void fclosep(FILE **f) {
  if (*f)
    fclose(*f);
}
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand ownership out of a cleanup-scoped variable. */
#define TAKE_PTR(p)                                                                                                    \
  ({                                                                                                                   \
    __typeof__(p) _taken_ = (p);                                                                                       \
    (p) = NULL;                                                                                                        \
    _taken_;                                                                                                           \
  })
#define TAKE_FD(fd)                                                                                                    \
  ({                                                                                                                   \
    int _taken_fd_ = (fd);                                                                                             \
    (fd) = -1;                                                                                                         \
    _taken_fd_;                                                                                                        \
  })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Wipe memory that held a secret before it is freed. */
static inline void secure_zero(void *p, size_t n) {
  if (p)
    explicit_bzero(p, n);
}
static inline void free_secret(char *s) {
  if (s) {
    explicit_bzero(s, strlen(s));
    free(s);
  }
}
static inline void free_secretp(char **s) {
  free_secret(*s);
}
#define _cleanup_secret_ _cleanup_(free_secretp)

/* Never-NULL allocation helpers: abort on OOM is not acceptable in a library,
 * so they return NULL and callers report VMPULL_E_IO "out of memory". */
char *xasprintf(const char *fmt, ...) VMPULL_PRINTF(1, 2);

int ends_with_ci(const char *s, const char *suffix);
int starts_with(const char *s, const char *prefix);

/* Write all of buf at offset (retrying on EINTR and short writes). */
int pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Write all of buf at fd's position (a pipe: EINTR, short writes and, on a non-blocking fd, EAGAIN
 * waited out). 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);
/* Once WRITEBACK_STEP bytes have been written since *from, start writing them out without
 * waiting (sync_file_range): the disk works while the pipeline does, the final fsync finds
 * little left, and dirty pages never pile up for whatever runs next. A hint only: a failure
 * shows at fsync. end is the offset written up to. */
#define WRITEBACK_STEP (32u << 20)
void start_writeback(int fd, uint64_t *from, uint64_t end);
/* Read the whole of a small file (at most max bytes) into a NUL-terminated buffer. */
int read_file_limited(const char *path, size_t max, char **out, size_t *len);
/* The same from an open file (read from where it is; fd stays open). */
int read_fd_limited(int fd, size_t max, char **out, size_t *len);

/* mkdir -p: every missing folder of path, new ones with mode (the caller's choice: 0700 for what
 * may be private, 0755 for what is meant to be shared). *created (may be NULL): the last folder is
 * new. 0, or -errno with *failed_len (may be NULL) the length of the prefix of path that could not
 * be made, for the caller's message. */
int mkdir_parents(const char *path, mode_t mode, int *created, size_t *failed_len);
/* The same, failing in the error model: "create folder <the prefix that could not be made>: reason". */
struct lib_error;
int mkdir_parents_or_fail(const char *path, mode_t mode, int *created, struct lib_error *err);

/* read_file_limited with the error said, what naming the file's role ("policy", "keyring"): a file
 * over max is VMPULL_E_LIMIT "<what> <path> is larger than <max> bytes", a missing one
 * VMPULL_E_NOT_FOUND, anything else VMPULL_E_IO. */
int read_file_or_fail(const char *path, size_t max, const char *what, char **out, size_t *len, struct lib_error *err);

/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);

#endif
