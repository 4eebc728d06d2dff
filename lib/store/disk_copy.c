/* SPDX-License-Identifier: Apache-2.0 */
#include "store/disk_copy.h"

#include "base/evp_util.h"
#include "base/platform.h"
#include "base/util.h"
#include "pipeline/disk_map.h"
#include "pipeline/sink.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>

/* copy_file_range can fail where read/write works (across filesystems on old
 * kernels, some FUSE and network filesystems). */
static int copy_range_plain(int in_fd, int out_fd, uint64_t off, uint64_t len) {
  uint8_t buf[1 << 16];
  while (len > 0) {
    ssize_t n = plat_pread(in_fd, buf, MIN(len, sizeof(buf)), off);
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
    uint64_t in_off = off, out_off = off;
    ssize_t n = plat_copy_range(in_fd, &in_off, out_fd, &out_off, MIN(len, (uint64_t)1 << 30));
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
  return plat_clone(in_fd, out_fd);
}

/* What copy_file_range moves between two polls: a cancel or a progress line is never further away. */
#define COPY_STEP ((uint64_t)64 << 20)

static int poll_at(const struct disk_copy_how *how, uint64_t done) {
  return how && how->poll ? how->poll(how->poll_data, done) : 0;
}

static int hash_update(EVP_MD_CTX *md, const void *buf, size_t len) {
  return EVP_DigestUpdate(md, buf, len) == 1 ? 0 : -EIO;
}

/* SHA-256 has no shortcut for zeros: a hole is hashed as the zeros it reads as, from a buffer that
 * is never filled from the file. */
static int hash_zeros(EVP_MD_CTX *md, uint64_t len) {
  static const uint8_t zeros[1 << 16];
  while (len > 0) {
    size_t n = (size_t)MIN(len, (uint64_t)sizeof(zeros));
    if (hash_update(md, zeros, n) < 0)
      return -EIO;
    len -= n;
  }
  return 0;
}

static int read_full(int fd, uint8_t *buf, size_t len, uint64_t off);
static int write_data(int fd, const uint8_t *buf, size_t len, uint64_t off);

/* A chunk is read, hashed and written a piece at a time, each while it is still in the CPU's cache
 * (the machine's memory bandwidth, not the hash, was what a 1 MiB buffer cost). */
#define PIECE (256u << 10)

/* One data extent [off, end): copied in the kernel, or (hashing) read once into buf, hashed and
 * written from there (out_fd < 0: only hashed). */
static int copy_extent(int in_fd, int out_fd, uint64_t off, uint64_t end, const struct disk_copy_how *how, uint8_t *buf,
                       int *plain) {
  while (off < end) {
    int r = poll_at(how, off);
    if (r < 0)
      return r;
    if (!how->hash && !how->scan_zeros) {
      uint64_t n = MIN(end - off, COPY_STEP);
      r = copy_range(in_fd, out_fd, off, n, plain);
      if (r < 0)
        return r;
      off += n;
      continue;
    }
    for (uint64_t stop = MIN(end, off + COPY_STEP); off < stop;) {
      size_t n = (size_t)MIN((uint64_t)PIECE, stop - off);
      r = read_full(in_fd, buf, n, off);
      if (r != 0)
        return r < 0 ? r : -EIO; /* the file shrank under us */
      if (how->hash && hash_update(how->hash, buf, n) < 0)
        return -EIO;
      if (out_fd >= 0 && (r = write_data(out_fd, buf, n, off)) < 0)
        return r;
      off += n;
    }
  }
  return 0;
}

/* in_fd's data extents below size to out_fd (or only hashed, out_fd < 0), holes skipped (and
 * hashed as zeros). */
static int copy_extents(int in_fd, int out_fd, uint64_t size, const struct disk_copy_how *how) {
  _cleanup_free_ uint8_t *buf = NULL;
  if ((how->hash || how->scan_zeros) && !(buf = aligned_alloc(SINK_BLOCK, PIECE)))
    return -ENOMEM;
  plat_fadvise_sequential(in_fd);
  int plain = 0, can_seek = 1;
  uint64_t off = 0;
  while (off < size) {
    uint64_t data = off, end = size;
    if (can_seek) {
      int64_t d = plat_seek_data(in_fd, off);
      if (d < 0 && errno == ENXIO) {
        data = size; /* only a hole remains */
      } else if (d < 0 && (errno == EINVAL || errno == EOPNOTSUPP)) {
        can_seek = 0; /* no SEEK_DATA here: all of it is data */
      } else if (d < 0) {
        return -errno;
      } else {
        data = MIN((uint64_t)d, size);
        int64_t h = data < size ? plat_seek_hole(in_fd, data) : (int64_t)size;
        if (h < 0)
          return -errno;
        end = MIN((uint64_t)h, size);
      }
    }
    if (how->hash && data > off && hash_zeros(how->hash, data - off) < 0)
      return -EIO;
    if (data >= size)
      break;
    int r = copy_extent(in_fd, out_fd, data, end, how, buf, &plain);
    if (r < 0)
      return r;
    off = end;
  }
  return poll_at(how, size);
}

int disk_copy_with(int in_fd, int out_fd, uint64_t size, const struct disk_copy_how *how, int *cloned) {
  *cloned = 0;
  struct stat st;
  if (fstat(in_fd, &st) < 0)
    return -errno;
  if (!how->no_clone && (uint64_t)st.st_size == size) {
    if (disk_clone(in_fd, out_fd) == 0) {
      *cloned = 1;
      /* What is hashed is the clone, the file handed out. */
      return how->hash ? copy_extents(out_fd, -1, size, how) : poll_at(how, size);
    }
    if (plat_ftruncate(out_fd, 0) < 0) /* a clone that failed half way may have left blocks */
      return -errno;
  }
  return copy_extents(in_fd, out_fd, size, how);
}

int disk_copy(int in_fd, int out_fd, uint64_t size, int *cloned) {
  struct disk_copy_how how = {0};
  return disk_copy_with(in_fd, out_fd, size, &how, cloned);
}

/* ---- copying a kept disk while proving it against its map ---- */

/* 0, 1 when the file ends first, or -errno. */
static int read_full(int fd, uint8_t *buf, size_t len, uint64_t off) {
  while (len > 0) {
    ssize_t n = plat_pread(fd, buf, len, off);
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

int disk_copy_checked(int in_fd, int out_fd, const struct disk_map *map, disk_copy_poll_fn poll, void *poll_data,
                      uint64_t *bad) {
  *bad = UINT64_MAX;
  _cleanup_evp_md_ EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  _cleanup_evp_md_ctx_ EVP_MD_CTX *md = EVP_MD_CTX_new();
  _cleanup_free_ uint8_t *buf = aligned_alloc(SINK_BLOCK, PIECE);
  if (!sha256 || !md || !buf)
    return -ENOMEM;
  plat_fadvise_sequential(in_fd);
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
        int64_t d = plat_seek_data(in_fd, off);
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
