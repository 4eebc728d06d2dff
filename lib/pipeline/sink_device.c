/* SPDX-License-Identifier: Apache-2.0 */
#include "pipeline/sink_device.h"

#include "base/util.h"
#include "pipeline/disk_map.h"

static int starts(const uint8_t *p, size_t len, const char *magic, size_t at) {
  size_t n = strlen(magic);
  return len >= at + n && memcmp(p + at, magic, n) == 0;
}

const char *disk_format_not_raw(const uint8_t *p, size_t len) {
  /* The magic numbers qemu-img's probes go by (block/qcow2.c, vhdx.c, vmdk.c, vpc.c, vdi.c, qed.c,
   * parallels.c); a raw disk has none of them at its start. */
  if (starts(p, len, "QFI\xfb", 0))
    return len >= 8 && p[7] == 1 ? "qcow" : "qcow2";
  if (starts(p, len, "vhdxfile", 0))
    return "vhdx";
  if (starts(p, len, "KDMV", 0) || starts(p, len, "COWD", 0) || starts(p, len, "# Disk DescriptorFile", 0))
    return "vmdk";
  if (starts(p, len, "conectix", 0))
    return "vhd (dynamic)";
  if (starts(p, len, "\x7f\x10\xda\xbe", 0x40))
    return "vdi";
  if (starts(p, len, "QED\0", 0))
    return "qed";
  if (starts(p, len, "WithoutFreeSpace", 0) || starts(p, len, "WithouFreSpacExt", 0))
    return "parallels";
  return NULL;
}

void device_clear(struct sink_device *d) {
  free(d->head);
  *d = (struct sink_device){0};
}

int device_check_size(const struct sink_device *d, const char *path, uint64_t disk_size, lib_error *err) {
  if (disk_size == UINT64_MAX || disk_size <= d->size)
    return 0;
  return error_set(err, VMPULL_E_LIMIT, "the disk is %llu bytes, larger than device %s (%llu bytes)",
                   (unsigned long long)disk_size, path, (unsigned long long)d->size);
}

/* The ioctls below (BLKGETSIZE64, BLKZEROOUT, BLKFLSBUF, BLKRRPART) and O_EXCL's claim on a block
 * device are Linux's; elsewhere a device output is refused (device_open) and nothing else is
 * reached. */
#if defined(__linux__)
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>

/* 0: all zero, 1: not, or -errno. */
static int region_has_data(int fd, uint64_t off, uint64_t len, uint8_t *buf) {
  while (len > 0) {
    ssize_t n = pread(fd, buf, (size_t)MIN(len, (uint64_t)DEVICE_HEAD), (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0)
      return 0;
    if (!disk_map_is_zero(buf, (size_t)n))
      return 1;
    off += (uint64_t)n;
    len -= (uint64_t)n;
  }
  return 0;
}

int device_open(const char *path, int replace, int assume_zeroed, int *touched, int *fd, struct sink_device *d,
                lib_error *err) {
  *d = (struct sink_device){.assume_zeroed = assume_zeroed, .touched = touched};
  /* O_EXCL on a block device claims it: a mounted filesystem, a partition in use, LVM or another
   * O_EXCL writer make it fail with EBUSY. Read too: the emptiness check. (O_NONBLOCK: should a
   * FIFO have taken the name since the caller's stat, the open does not wait for a reader.) */
  *fd = open(path, O_RDWR | O_EXCL | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (*fd < 0 && errno == EBUSY)
    return error_set_errno(err, VMPULL_E_IO, errno,
                           "device %s is in use (mounted, or held by another program); nothing was written to it",
                           path);
  if (*fd < 0)
    return error_set_errno(err, errno == ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, errno, "open device %s", path);
  struct stat st;
  if (fstat(*fd, &st) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "device %s", path);
  if (!S_ISBLK(st.st_mode))
    return error_set(err, VMPULL_E_IO, "output %s is no longer a block device", path);
  int flags = fcntl(*fd, F_GETFL);
  if (flags < 0 || fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "device %s", path);
  int sector = 0;
  if (ioctl(*fd, BLKGETSIZE64, &d->size) < 0 || ioctl(*fd, BLKSSZGET, &sector) < 0 || sector <= 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "size of device %s", path);
  d->sector = (unsigned)sector;
  d->head = calloc(1, DEVICE_HEAD);
  if (!d->head)
    return error_oom(err);
  if (replace)
    return 0;
  /* What a partition table, a boot sector, a filesystem's superblock or a GPT's backup leaves:
   * such a device holds something; only --replace writes over it. (d->head is a free buffer now.) */
  uint64_t tail = d->size > DEVICE_HEAD ? d->size - DEVICE_HEAD : 0;
  int r = region_has_data(*fd, 0, MIN(d->size, (uint64_t)DEVICE_HEAD), d->head);
  if (r == 0)
    r = region_has_data(*fd, tail, d->size - tail, d->head);
  memset(d->head, 0, DEVICE_HEAD);
  if (r < 0)
    return error_set_errno(err, VMPULL_E_IO, -r, "read device %s", path);
  if (r > 0)
    return error_set(err, VMPULL_E_EXISTS,
                     "device %s is not empty (data in its first or last MiB); use --replace to write over it", path);
  return 0;
}

/* BLKZEROOUT [off, off + len): the kernel writes zeroes, or discards where that reads back as
 * zeros, or writes a zero buffer itself; never from here. The bytes after the last whole sector
 * (a disk's size need not be a multiple of one) are the only zeros written from user space. */
static int zero_range(struct sink_device *d, int fd, const char *path, uint64_t off, uint64_t len, lib_error *err) {
  uint64_t whole = len - len % d->sector;
  if (off % d->sector)
    whole = 0;
  if (whole) {
    uint64_t range[2] = {off, whole};
    if (ioctl(fd, BLKZEROOUT, range) < 0)
      return error_set_errno(err, VMPULL_E_IO, errno, "zero bytes %llu-%llu of device %s", (unsigned long long)off,
                             (unsigned long long)(off + whole - 1), path);
  }
  static const uint8_t zeros[4096];
  for (uint64_t at = off + whole; at < off + len;) {
    size_t n = (size_t)MIN((uint64_t)sizeof(zeros), off + len - at);
    int r = pwrite_all(fd, zeros, n, at);
    if (r < 0)
      return error_set_errno(err, VMPULL_E_IO, -r, "write device %s", path);
    at += n;
  }
  return 0;
}

static int flush_holes(struct sink_device *d, int fd, const char *path, lib_error *err) {
  if (d->zero_to <= d->zero_from)
    return 0;
  int r = zero_range(d, fd, path, d->zero_from, d->zero_to - d->zero_from, err);
  d->zero_from = d->zero_to = 0;
  return r;
}

int device_start(struct sink_device *d, int fd, const char *path, const uint8_t *head, size_t len, lib_error *err) {
  const char *format = disk_format_not_raw(head, len);
  if (format)
    return error_set(err, VMPULL_E_UNSUPPORTED,
                     "output %s is a block device, which takes a raw disk, and this disk is %s (nothing was "
                     "written to the device): pull it to a file and make it raw with "
                     "qemu-img convert -O raw FILE FILE.raw, then pull that to the device",
                     path, format);
  if (d->touched)
    *d->touched = 1;
  d->started = 1;
  /* Whatever booted from this device before cannot any more, until the disk is all there. */
  return zero_range(d, fd, path, 0, MIN(d->size, (uint64_t)DEVICE_HEAD), err);
}

int device_data(struct sink_device *d, int fd, const char *path, const uint8_t *buf, size_t len, uint64_t off,
                lib_error *err) {
  if (off < DEVICE_HEAD) {
    size_t n = (size_t)MIN((uint64_t)len, DEVICE_HEAD - off);
    memcpy(d->head + off, buf, n);
    buf += n;
    len -= n;
    off += n;
  }
  if (!len)
    return 0;
  int r = pwrite_all(fd, buf, len, off);
  return r < 0 ? error_set_errno(err, VMPULL_E_IO, -r, "write device %s", path) : 0;
}

int device_hole(struct sink_device *d, int fd, const char *path, uint64_t off, uint64_t len, lib_error *err) {
  /* (the first MiB was zeroed by device_start, and d->head has zeros there) */
  if (off < DEVICE_HEAD) {
    uint64_t n = MIN(len, DEVICE_HEAD - off);
    off += n;
    len -= n;
  }
  if (!len || d->assume_zeroed)
    return 0;
  if (off == d->zero_to && d->zero_to > d->zero_from) {
    d->zero_to += len;
    return 0;
  }
  int r = flush_holes(d, fd, path, err);
  d->zero_from = off;
  d->zero_to = off + len;
  return r;
}

int device_finish(struct sink_device *d, int fd, const char *path, uint64_t size, lib_error *err) {
  int r = flush_holes(d, fd, path, err);
  if (r < 0)
    return r;
  if (fsync(fd) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "fsync device %s", path);
  /* The rest is on the device: only now may it look like a disk. */
  uint64_t head = MIN(size, (uint64_t)DEVICE_HEAD);
  if (head && (r = pwrite_all(fd, d->head, (size_t)head, 0)) < 0)
    return error_set_errno(err, VMPULL_E_IO, -r, "write device %s", path);
  if (fsync(fd) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "fsync device %s", path);
  /* Drop the device's cached pages (a reader sees what is on it), then have the kernel read the
   * new partition table. Neither is the disk: the first needs CAP_SYS_ADMIN, the second fails
   * on a partition and on a device without partition scanning (EINVAL), as it should. */
  (void)ioctl(fd, BLKFLSBUF, 0);
  for (int attempt = 0;; attempt++) {
    if (ioctl(fd, BLKRRPART, 0) == 0)
      break;
    /* udev may still be probing the old partitions after the flush: a moment later they are free */
    if (errno == EBUSY && attempt < 20) {
      struct timespec pause = {.tv_nsec = 100 * 1000 * 1000};
      nanosleep(&pause, NULL);
      continue;
    }
    if (errno != EINVAL && errno != ENOTTY)
      d->reread_err = errno;
    break;
  }
  return 0;
}
#else
int device_open(const char *path, int replace, int assume_zeroed, int *touched, int *fd, struct sink_device *d,
                lib_error *err) {
  (void)replace;
  *fd = -1;
  *d = (struct sink_device){.assume_zeroed = assume_zeroed, .touched = touched};
  return error_set(err, VMPULL_E_UNSUPPORTED, "output %s is a block device: vmpull writes onto devices on Linux only",
                   path);
}

int device_start(struct sink_device *d, int fd, const char *path, const uint8_t *head, size_t len, lib_error *err) {
  (void)d, (void)fd, (void)head, (void)len;
  return error_set(err, VMPULL_E_UNSUPPORTED, "device %s", path);
}

int device_data(struct sink_device *d, int fd, const char *path, const uint8_t *buf, size_t len, uint64_t off,
                lib_error *err) {
  (void)d, (void)fd, (void)buf, (void)len, (void)off;
  return error_set(err, VMPULL_E_UNSUPPORTED, "device %s", path);
}

int device_hole(struct sink_device *d, int fd, const char *path, uint64_t off, uint64_t len, lib_error *err) {
  (void)d, (void)fd, (void)off, (void)len;
  return error_set(err, VMPULL_E_UNSUPPORTED, "device %s", path);
}

int device_finish(struct sink_device *d, int fd, const char *path, uint64_t size, lib_error *err) {
  (void)d, (void)fd, (void)size;
  return error_set(err, VMPULL_E_UNSUPPORTED, "device %s", path);
}
#endif
