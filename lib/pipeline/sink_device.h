/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sink's device mode (-o DEV, issue 18): a disk written onto a block device in place, as
 * coreos-installer and bmaptool write one. Nothing there can be atomic, so the device is made as
 * safe as it gets: opened O_EXCL (a mounted or claimed device fails), refused when it is not empty
 * (a non-zero byte in its first or last MiB) unless replace, refused before the first write when
 * the disk is not raw (qcow2, VHDX, ...: it would not boot), its holes zeroed with BLKZEROOUT
 * (adjacent holes in one call; none with assume_zeroed), and its first MiB kept in memory (zeroed
 * on the device) until every check passed, so that a failed pull never leaves a device that looks
 * bootable. At the end: fsync, BLKFLSBUF, BLKRRPART.
 */
#ifndef VMPULL_SINK_DEVICE_H
#define VMPULL_SINK_DEVICE_H

#include "base/error.h"

#include <stddef.h>
#include <stdint.h>

#define DEVICE_HEAD (1u << 20) /* kept back until the end; also what the emptiness check reads at each end */

struct sink_device {
  uint64_t size;      /* BLKGETSIZE64 */
  unsigned sector;    /* BLKSSZGET: BLKZEROOUT takes whole logical sectors */
  uint8_t *head;      /* the disk's first DEVICE_HEAD bytes (zeros where it has holes) */
  uint64_t zero_from; /* holes not zeroed yet: [zero_from, zero_to) */
  uint64_t zero_to;
  int assume_zeroed;
  int started;    /* the disk passed the raw check and the device's first MiB was zeroed */
  int *touched;   /* (borrowed, may be NULL) set once the device changed: it holds a partial image */
  int reread_err; /* errno of a BLKRRPART that failed for another reason than "no partitions here" */
};

/* Open the block device at path (links followed: the caller saw a block device there) for
 * writing, exclusively; check it is one and, unless replace, that it is empty. *fd and d filled. */
int device_open(const char *path, int replace, int assume_zeroed, int *touched, int *fd, struct sink_device *d,
                lib_error *err);
void device_clear(struct sink_device *d);
/* The disk's size when it is known before it is written: it must fit. */
int device_check_size(const struct sink_device *d, const char *path, uint64_t disk_size, lib_error *err);
/* The name of a disk format that is not raw by its first bytes ("qcow2", "vhdx", ...), or NULL. */
const char *disk_format_not_raw(const uint8_t *head, size_t len);
/* Before the first write: the disk's first bytes must be a raw disk's; then the device's first
 * MiB is zeroed. */
int device_start(struct sink_device *d, int fd, const char *path, const uint8_t *head, size_t len, lib_error *err);
/* Data at off (the first MiB is kept back in d->head). */
int device_data(struct sink_device *d, int fd, const char *path, const uint8_t *buf, size_t len, uint64_t off,
                lib_error *err);
/* A hole at off: zeroed on the device (batched with the holes next to it). */
int device_hole(struct sink_device *d, int fd, const char *path, uint64_t off, uint64_t len, lib_error *err);
/* Everything checked: the last holes zeroed, the first MiB written (size: the disk's), fsync,
 * BLKFLSBUF, BLKRRPART. */
int device_finish(struct sink_device *d, int fd, const char *path, uint64_t size, lib_error *err);

#endif
