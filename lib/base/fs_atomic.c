/* SPDX-License-Identifier: Apache-2.0 */
#include "base/fs_atomic.h"

#include "base/platform.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void random_name(char *out, size_t n) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  uint8_t rnd[64];
  n = MIN(n, sizeof(rnd));
  if (plat_random_bytes(rnd, n) < 0) {
    uint64_t t = now_ns() ^ ((uint64_t)getpid() << 32);
    for (size_t i = 0; i < n; i++)
      rnd[i] = (uint8_t)(t >> (8 * (i % 8)));
  }
  for (size_t i = 0; i < n; i++)
    out[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
  out[n] = '\0';
}

char *tmp_name_new(const char *prefix) {
  char rnd[17];
  random_name(rnd, 16);
  return xasprintf("%s%s", prefix, rnd);
}

int tmpfile_link(int fd, int dirfd, const char *name) {
  return plat_tmpfile_link(fd, dirfd, name);
}

int file_write_atomic(int dirfd, const char *name, const void *buf, size_t len, const char *tmp_prefix, int durable) {
  _cleanup_free_ char *tmp = tmp_name_new(tmp_prefix);
  if (!tmp)
    return -ENOMEM;
  _cleanup_close_ int fd = plat_openat(dirfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return -errno;
  int r = pwrite_all(fd, buf, len, 0);
  if (r == 0 && durable && plat_fsync(fd) < 0)
    r = -errno;
  if (r == 0 && plat_renameat(dirfd, tmp, dirfd, name) < 0)
    r = -errno;
  if (r < 0)
    plat_unlinkat(dirfd, tmp, 0);
  return r;
}
