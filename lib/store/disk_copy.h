/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Copy a decoded disk quickly: a reflink (FICLONE) shares the blocks where the
 * filesystem can (btrfs, XFS); elsewhere only the data extents are copied
 * (SEEK_DATA/SEEK_HOLE + copy_file_range), so holes stay holes. A kept disk is
 * copied out of the cache by disk_copy_checked, which proves it against its map
 * (lib/pipeline/disk_map.h) in the same read.
 */
#ifndef VMPULL_DISK_COPY_H
#define VMPULL_DISK_COPY_H

#include <stdint.h>

struct disk_map;

/* Copy the first size bytes of in_fd to out_fd (empty, same offsets; its size
 * is not set here). *cloned tells whether a reflink did it. 0 or -errno. */
int disk_copy(int in_fd, int out_fd, uint64_t size, int *cloned);
typedef int (*disk_copy_poll_fn)(void *data, uint64_t done);
struct evp_md_ctx_st;

/* How disk_copy_with copies. */
struct disk_copy_how {
  disk_copy_poll_fn poll; /* or NULL: called with the bytes done before each extent (and every 64 MiB of one) */
  void *poll_data;
  /* Or NULL: every byte below size is hashed into it in order, the data extents from the buffer
   * they are read into and written from (their zero blocks stay holes), holes as zeros without
   * reading them; after a clone the clone is read (out_fd must be readable then). */
  struct evp_md_ctx_st *hash;
  int scan_zeros; /* read the data extents and write only their non-zero blocks (as with a hash) */
  int no_clone;   /* never FICLONE (out_fd cannot be read back, and there is a hash to compute) */
};
/* disk_copy with progress, cancellation (poll's negative return stops it with that) and a hash. */
int disk_copy_with(int in_fd, int out_fd, uint64_t size, const struct disk_copy_how *how, int *cloned);
/* Make out_fd a reflink of all of in_fd (FICLONE). 0 or -errno (EOPNOTSUPP, EXDEV, EINVAL: not here). */
int disk_clone(int in_fd, int out_fd);

/* (disk_copy_poll_fn: called before each chunk with the bytes done so far; a negative return stops
 * the copy with it) */
/* Check in_fd against map, copying it to out_fd (empty) on the way unless out_fd < 0: each data
 * chunk is read once, hashed from the buffer it was read into and written from it (its zero
 * blocks stay holes); a zero chunk is skipped where SEEK_DATA finds a hole, and anything there
 * must read as zeros. Only out_fd's size is left to set. Returns 0 when all of it matched, 1 when
 * not (*bad: offset of the first chunk that differs; in_fd shorter than the map counts), or
 * -errno (or what poll returned). */
int disk_copy_checked(int in_fd, int out_fd, const struct disk_map *map, disk_copy_poll_fn poll, void *poll_data,
                      uint64_t *bad);

#endif
