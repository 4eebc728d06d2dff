/* SPDX-License-Identifier: Apache-2.0 */
#include "store/disk_copy.h"

#include "base/evp_util.h"
#include "base/util.h"
#include "pipeline/disk_map.h"
#include "pipeline/sink.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <openssl/evp.h>
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

int disk_clone(int in_fd, int out_fd) {
  return ioctl(out_fd, FICLONE, in_fd) == 0 ? 0 : -errno;
}

int disk_copy(int in_fd, int out_fd, uint64_t size, int *cloned) {
  *cloned = 0;
  struct stat st;
  if (fstat(in_fd, &st) < 0)
    return -errno;
  if ((uint64_t)st.st_size == size && disk_clone(in_fd, out_fd) == 0) {
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

/* ---- copying a kept disk while proving it against its map ---- */

/* 0, 1 when the file ends first, or -errno. */
static int read_full(int fd, uint8_t *buf, size_t len, uint64_t off) {
  while (len > 0) {
    ssize_t n = pread(fd, buf, len, (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0)
      return 1;
    buf += n;
    len -= (size_t)n;
    off += (uint64_t)n;
  }
  return 0;
}

/* Write the non-zero blocks of buf at off: zero blocks stay holes, as the sink left them. */
static int write_data(int fd, const uint8_t *buf, size_t len, uint64_t off) {
  size_t run = 0;
  int in_run = 0;
  for (size_t i = 0; i < len; i += SINK_BLOCK) {
    int data = !disk_map_is_zero(buf + i, MIN((size_t)SINK_BLOCK, len - i));
    if (data && !in_run) {
      in_run = 1;
      run = i;
    } else if (!data && in_run) {
      int r = pwrite_all(fd, buf + run, i - run, off + run);
      if (r < 0)
        return r;
      in_run = 0;
    }
  }
  return in_run ? pwrite_all(fd, buf + run, len - run, off + run) : 0;
}

/* A chunk is read, hashed and written a piece at a time, each while it is still in the CPU's cache
 * (the machine's memory bandwidth, not the hash, was what a 1 MiB buffer cost). */
#define PIECE (256u << 10)

int disk_copy_checked(int in_fd, int out_fd, const struct disk_map *map, disk_copy_poll_fn poll, void *poll_data,
                      uint64_t *bad) {
  *bad = UINT64_MAX;
  _cleanup_evp_md_ EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  _cleanup_evp_md_ctx_ EVP_MD_CTX *md = EVP_MD_CTX_new();
  _cleanup_free_ uint8_t *buf = aligned_alloc(SINK_BLOCK, PIECE);
  if (!sha256 || !md || !buf)
    return -ENOMEM;
  (void)posix_fadvise(in_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  /* SEEK_DATA's last answer: no data from where it was asked up to here (UINT64_MAX: none at all). */
  uint64_t data_at = 0;
  int can_seek = 1, asked = 0;
  uint64_t writeback_from = 0;
  for (uint64_t i = 0; i < map->count; i++) {
    uint64_t off = i * DISK_MAP_CHUNK;
    uint64_t len = MIN((uint64_t)DISK_MAP_CHUNK, map->size - off);
    if (poll) {
      int r = poll(poll_data, off);
      if (r < 0)
        return r;
    }
    int zero = map->zero[i];
    if (zero) {
      /* A hole needs no read; data where the map says zero (a filesystem that fills holes,
       * or bytes written there) must read as zeros. */
      if (can_seek && (!asked || data_at < off)) {
        asked = 1;
        off_t d = lseek(in_fd, (off_t)off, SEEK_DATA);
        if (d >= 0)
          data_at = (uint64_t)d;
        else if (errno == ENXIO)
          data_at = UINT64_MAX;
        else if (errno == EINVAL || errno == EOPNOTSUPP)
          can_seek = 0;
        else
          return -errno;
      }
      if (can_seek && data_at >= off + len)
        continue;
    } else if (EVP_DigestInit_ex(md, sha256, NULL) != 1) {
      return -EIO;
    }
    for (uint64_t done = 0; done < len;) {
      size_t n = (size_t)MIN((uint64_t)PIECE, len - done);
      int r = read_full(in_fd, buf, n, off + done);
      if (r < 0)
        return r;
      if (r == 1 || (zero && !disk_map_is_zero(buf, n))) {
        *bad = off;
        return 1;
      }
      if (!zero && EVP_DigestUpdate(md, buf, n) != 1)
        return -EIO;
      /* Written before the chunk's digest is known: a chunk that fails fails the whole copy. */
      if (!zero && out_fd >= 0) {
        r = write_data(out_fd, buf, n, off + done);
        if (r < 0)
          return r;
      }
      done += n;
    }
    if (zero)
      continue;
    uint8_t got[EVP_MAX_MD_SIZE];
    unsigned got_len = 0;
    if (EVP_DigestFinal_ex(md, got, &got_len) != 1 || got_len != DISK_MAP_SHA256)
      return -EIO;
    if (memcmp(got, map->sha256 + i * DISK_MAP_SHA256, DISK_MAP_SHA256) != 0) {
      *bad = off;
      return 1;
    }
    if (out_fd >= 0)
      start_writeback(out_fd, &writeback_from, off + len);
  }
  return 0;
}
