/* SPDX-License-Identifier: Apache-2.0 */
#include "disk_copy.h"

#include "util.h"

#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

/* copy_file_range can fail where read/write works (across filesystems on old
 * kernels, some FUSE and network filesystems). */
static int copy_range_plain(int in_fd, int out_fd, uint64_t off, uint64_t len) {
  uint8_t buf[1 << 16];
  while (len > 0) {
    ssize_t n = pread(in_fd, buf, MIN(len, sizeof(buf)), (off_t)off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (n == 0)
      return -EIO; /* the file shrank under us */
    int r = pwrite_all(out_fd, buf, (size_t)n, off);
    if (r < 0)
      return r;
    off += (uint64_t)n;
    len -= (uint64_t)n;
  }
  return 0;
}

static int copy_range(int in_fd, int out_fd, uint64_t off, uint64_t len, int *plain) {
  while (len > 0 && !*plain) {
    loff_t in_off = (loff_t)off, out_off = (loff_t)off;
    ssize_t n = copy_file_range(in_fd, &in_off, out_fd, &out_off, MIN(len, (uint64_t)1 << 30), 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) {
        *plain = 1;
        break;
      }
      return -errno;
    }
    if (n == 0)
      return -EIO;
    off += (uint64_t)n;
    len -= (uint64_t)n;
  }
  return len ? copy_range_plain(in_fd, out_fd, off, len) : 0;
}

int disk_copy(int in_fd, int out_fd, uint64_t size, int *cloned) {
  *cloned = 0;
  struct stat st;
  if (fstat(in_fd, &st) < 0)
    return -errno;
  if ((uint64_t)st.st_size == size && ioctl(out_fd, FICLONE, in_fd) == 0) {
    *cloned = 1;
    return 0;
  }
  int plain = 0;
  uint64_t off = 0;
  while (off < size) {
    off_t data = lseek(in_fd, (off_t)off, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO)
        break;                                    /* only a hole remains */
      if (errno == EINVAL || errno == EOPNOTSUPP) /* no SEEK_DATA here: copy it all */
        return copy_range(in_fd, out_fd, off, size - off, &plain);
      return -errno;
    }
    if ((uint64_t)data >= size)
      break;
    off_t hole = lseek(in_fd, data, SEEK_HOLE);
    if (hole < 0)
      return -errno;
    uint64_t end = MIN((uint64_t)hole, size);
    int r = copy_range(in_fd, out_fd, (uint64_t)data, end - (uint64_t)data, &plain);
    if (r < 0)
      return r;
    off = end;
  }
  return 0;
}
