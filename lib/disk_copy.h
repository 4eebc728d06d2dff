/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Copy a decoded disk quickly: a reflink (FICLONE) shares the blocks where the
 * filesystem can (btrfs, XFS); elsewhere only the data extents are copied
 * (SEEK_DATA/SEEK_HOLE + copy_file_range), so holes stay holes.
 */
#ifndef VMPULL_DISK_COPY_H
#define VMPULL_DISK_COPY_H

#include <stdint.h>

/* Copy the first size bytes of in_fd to out_fd (empty, same offsets; its size
 * is not set here). *cloned tells whether a reflink did it. 0 or -errno. */
int disk_copy(int in_fd, int out_fd, uint64_t size, int *cloned);

#endif
