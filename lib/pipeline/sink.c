/* SPDX-License-Identifier: Apache-2.0 */
#include "pipeline/sink.h"

#include "base/error.h"
#include "base/platform.h"
#include "base/progress.h"
#include "base/ring.h"
#include "base/thread.h"
#include "base/util.h"
#include "pipeline/bmap.h"
#include "pipeline/disk_map.h"
#include "pipeline/sink_device.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>

#define SINK_BUFFERS 8 /* 2 MiB in flight: the writer rides out a slow write() */

struct sink_writer {
  pthread_t thread;
  struct ring ring; /* in whole buffers; closed: write (or drop) what is queued and end */
  uint8_t *bufs[SINK_BUFFERS];
  size_t lens[SINK_BUFFERS];
  int discard; /* the pull failed: drop what is queued (under the ring's lock) */
  int failed;  /* a write failed: err says how; later buffers are dropped (under the ring's lock) */
  lib_error err;
};

static void writer_start(struct sink *s);

static int sink_buffers_init(struct sink *s, lib_error *err) {
  /* Without it (out of memory) only keeping the disk fails later (sink_take_map). */
  if (s->o.chunk_map)
    s->map = disk_map_builder_new();
  int r = sink_bmap_open(s, err);
  if (r < 0)
    return r;
  writer_start(s);
  if (s->w)
    return 0;
  s->buf = malloc(SINK_BUFFER_SIZE);
  return s->buf ? 0 : error_oom(err);
}

/* The caller's fd (vmpull_pull_to_fd): a dup of it, so that closing the sink leaves it open. */
static int sink_open_fd(struct sink *s, lib_error *err) {
  s->borrowed = 1;
  s->fd = plat_dup_cloexec(s->o.fd, 3);
  if (s->fd < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "output %s", s->path);
  struct stat st;
  int flags = plat_fd_flags(s->fd);
  if (fstat(s->fd, &st) < 0 || flags < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "output %s", s->path);
  if ((flags & O_ACCMODE) == O_RDONLY)
    return error_set(err, VMPULL_E_USAGE, "output %s is not open for writing", s->path);
  s->stream = !S_ISREG(st.st_mode);
  /* pwrite on an O_APPEND file appends: the holes and the offsets would be lost. */
  if (!s->stream && (flags & O_APPEND))
    return error_set(err, VMPULL_E_USAGE, "output %s is open with O_APPEND; a disk is written at its offsets", s->path);
  s->readable = !s->stream && (flags & O_ACCMODE) == O_RDWR;
  if (!s->readable)
    s->o.chunk_map = 0;
  /* Blocks left from earlier content would show through the holes. */
  if (!s->stream && plat_ftruncate(s->fd, 0) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "truncate output %s", s->path);
  if (!s->stream)
    (void)plat_set_sparse(s->fd);
  return sink_buffers_init(s, err);
}

/* A block device, written in place (sink_device.h): no temporary, nothing kept or cloned. */
static int sink_open_device(struct sink *s, lib_error *err) {
  s->dev = calloc(1, sizeof(*s->dev));
  if (!s->dev)
    return error_oom(err);
  s->o.chunk_map = 0;
  int r = device_open(s->path, s->o.replace, s->o.assume_zeroed, s->o.device_touched, &s->fd, s->dev, err);
  if (r == 0 && s->o.disk_size)
    r = device_check_size(s->dev, s->path, s->o.disk_size, err);
  return r < 0 ? r : sink_buffers_init(s, err);
}

int sink_open(struct sink *s, const char *path, const struct sink_options *o, lib_error *err) {
  *s = (struct sink)SINK_INIT;
  s->o = *o;
  if (!s->o.mode)
    s->o.mode = 0644;
  s->path = strdup(path);
  if (o->to_fd)
    return s->path ? sink_open_fd(s, err) : error_oom(err);
  if (o->device)
    return s->path ? sink_open_device(s, err) : error_oom(err);
  s->readable = 1;
  int r = s->path ? sink_tmp_create(s, path, err) : error_oom(err);
  return r < 0 ? r : sink_buffers_init(s, err);
}

/* One run of whole blocks at off (the disk's last one may be short), all data or all zeros: to the
 * file (a hole is skipped), onto the device (a hole is zeroed there), and into the kept disk's map
 * and the bmap, which hash only data. A pipe was written whole by the caller. */
static int write_run(struct sink *s, const uint8_t *p, size_t n, uint64_t off, int zero, lib_error *err) {
  if (s->map)
    disk_map_add(s->map, p, n, zero);
  if (s->bmap)
    bmap_add(s->bmap, p, n, zero);
  if (s->stream)
    return 0;
  if (s->dev) {
    if (!zero)
      s->data_bytes += n;
    return zero ? device_hole(s->dev, s->fd, s->path, off, n, err)
                : device_data(s->dev, s->fd, s->path, p, n, off, err);
  }
  if (zero)
    return 0;
  int r = pwrite_all(s->fd, p, n, off);
  if (r < 0)
    return error_set_errno(err, VMPULL_E_IO, -r, "write %s", s->path);
  s->data_bytes += n;
  return 0;
}

/* Write whole blocks at file offset off (block aligned), in runs of data and of zeros. */
static int write_blocks(struct sink *s, const uint8_t *buf, size_t len, uint64_t off, lib_error *err) {
  if (s->stream) {
    /* A pipe has no holes: every byte goes, in order (offsets only grow here). */
    int r = write_all(s->fd, buf, len);
    if (r < 0)
      return error_set_errno(err, VMPULL_E_IO, -r, "write %s", s->path);
    s->data_bytes += len;
    if (!s->bmap) /* only a bmap wants to know where the zeros are */
      return 0;
  }
  /* The disk's first bytes decide whether it may go onto the device at all. */
  if (s->dev && !s->dev->started && len) {
    int r = device_start(s->dev, s->fd, s->path, buf, len, err);
    if (r < 0)
      return r;
  }
  int zero = len ? block_is_zero(buf) : 0;
  for (size_t i = 0; i < len;) {
    size_t j = i + SINK_BLOCK;
    int next = zero;
    while (j < len && (next = block_is_zero(buf + j)) == zero)
      j += SINK_BLOCK;
    int r = write_run(s, buf + i, j - i, off + i, zero, err);
    if (r < 0)
      return r;
    i = j;
    zero = next;
  }
  return 0;
}

/* The writer's half: whole aligned blocks to the file, zero blocks as holes, an unaligned
 * tail kept for the next chunk. Runs on the writer thread when there is one. */
static int write_chunk(struct sink *s, const uint8_t *buf, size_t len, lib_error *err) {
  /* Decoders hand over chunks of any length; a partial block waits in pending so
   * that hole detection always sees whole, aligned blocks (at most one 4 KiB copy). */
  uint64_t block_off = s->offset - s->pending_len;
  s->offset += len;
  if (s->pending_len) {
    size_t n = MIN(len, (size_t)SINK_BLOCK - s->pending_len);
    memcpy(s->pending + s->pending_len, buf, n);
    s->pending_len += n;
    buf += n;
    len -= n;
    if (s->pending_len < SINK_BLOCK)
      return 0;
    int r = write_blocks(s, s->pending, SINK_BLOCK, block_off, err);
    if (r < 0)
      return r;
    block_off += SINK_BLOCK;
    s->pending_len = 0;
  }
  size_t whole = len - len % SINK_BLOCK;
  int r = write_blocks(s, buf, whole, block_off, err);
  if (r < 0)
    return r;
  memcpy(s->pending, buf + whole, len - whole);
  s->pending_len = len - whole;
  /* Without it the fsync at commit was 0.4-0.7 s of idle wall time for a 2 GiB image (bench/). */
  if (!s->stream)
    start_writeback(s->fd, &s->writeback_from, s->offset - s->pending_len);
  return 0;
}

static void *writer_main(void *arg) {
  struct sink *s = arg;
  struct sink_writer *w = s->w;
  size_t i;
  while (ring_peek(&w->ring, 1, &i) > 0) {
    ring_lock(&w->ring);
    int drop = w->failed || w->discard;
    ring_unlock(&w->ring);
    lib_error e = {0};
    int r = drop ? 0 : write_chunk(s, w->bufs[i], w->lens[i], &e);
    ring_lock(&w->ring);
    if (r < 0 && !w->failed) {
      w->failed = 1;
      w->err = e;
    }
    ring_release_locked(&w->ring, 1);
    ring_unlock(&w->ring);
  }
  return NULL;
}

static void writer_free(struct sink_writer *w) {
  for (unsigned i = 0; i < SINK_BUFFERS; i++)
    free(w->bufs[i]);
  ring_destroy(&w->ring);
  free(w);
}

/* A writer thread when asked for and worth it; else the caller's thread writes (no error:
 * the sink works either way). */
static void writer_start(struct sink *s) {
  if (!s->o.writer_thread || plat_cpu_count() < 2)
    return;
  struct sink_writer *w = calloc(1, sizeof(*w));
  if (!w)
    return;
  if (ring_init(&w->ring, SINK_BUFFERS) != 0) {
    free(w);
    return;
  }
  int ok = 1;
  for (unsigned i = 0; i < SINK_BUFFERS && ok; i++)
    ok = (w->bufs[i] = malloc(SINK_BUFFER_SIZE)) != NULL;
  s->w = w;
  if (!ok || worker_thread_start(&w->thread, writer_main, s) != 0) {
    s->w = NULL;
    writer_free(w);
  }
}

/* Wait until everything queued is written (or dropped, with discard) and end the thread. */
static int writer_stop(struct sink *s, int discard, lib_error *err) {
  struct sink_writer *w = s->w;
  if (!w)
    return 0;
  ring_lock(&w->ring);
  w->discard |= discard;
  ring_unlock(&w->ring);
  ring_close(&w->ring);
  pthread_join(w->thread, NULL);
  int r = 0;
  if (w->failed && err) {
    *err = w->err;
    r = -w->err.code;
  }
  s->w = NULL;
  writer_free(w);
  return r;
}

uint8_t *sink_buffer(struct sink *s) {
  struct sink_writer *w = s->w;
  if (!w)
    return s->buf;
  size_t i;
  (void)ring_reserve(&w->ring, 1, &i); /* never abandoned: the writer reads until the ring is closed */
  return w->bufs[i];
}

/* The producer's half: progress, cancellation and the size limit, counted as bytes arrive. */
static int sink_accept(struct sink *s, size_t len, lib_error *err) {
  if (s->o.progress) {
    /* Decoders may turn one read into gigabytes of zeros: cancellation must not wait for the next read. */
    s->o.progress->ev.written = s->accepted;
    int r = progress_report(s->o.progress, 0, err);
    if (r < 0)
      return r;
  }
  if (s->o.max_size != UINT64_MAX && (s->accepted > s->o.max_size || len > s->o.max_size - s->accepted))
    return error_set(err, VMPULL_E_LIMIT, "output exceeds the size limit of %llu bytes (--max-size)",
                     (unsigned long long)s->o.max_size);
  /* Stopped before the bytes that would not fit are queued; a size the container declared stops
   * the pull as soon as it is known. */
  if (s->dev && s->declared != UINT64_MAX && device_check_size(s->dev, s->path, s->declared, err) < 0)
    return -err->code;
  if (s->dev && (s->accepted > s->dev->size || len > s->dev->size - s->accepted))
    return error_set(err, VMPULL_E_LIMIT, "the disk is larger than device %s (%llu bytes)", s->path,
                     (unsigned long long)s->dev->size);
  s->accepted += len;
  return 0;
}

int sink_submit(struct sink *s, size_t len, lib_error *err) {
  if (len == 0)
    return 0;
  int r = sink_accept(s, len, err);
  if (r < 0)
    return r;
  struct sink_writer *w = s->w;
  if (!w)
    return write_chunk(s, s->buf, len, err);
  ring_lock(&w->ring);
  int failed = w->failed;
  if (failed)
    *err = w->err;
  ring_unlock(&w->ring);
  if (failed)
    return -err->code;
  /* sink_buffer() handed out this one; it cannot have moved, only we add to the queue. */
  size_t i;
  (void)ring_reserve(&w->ring, 1, &i);
  w->lens[i] = len;
  ring_commit(&w->ring, 1);
  return 0;
}

int sink_write(struct sink *s, const uint8_t *buf, size_t len, lib_error *err) {
  if (!s->w) {
    /* No copy: the caller's buffer goes to the file as it is. */
    if (len == 0)
      return 0;
    int r = sink_accept(s, len, err);
    return r < 0 ? r : write_chunk(s, buf, len, err);
  }
  while (len > 0) {
    size_t n = MIN(len, (size_t)SINK_BUFFER_SIZE);
    memcpy(sink_buffer(s), buf, n);
    int r = sink_submit(s, n, err);
    if (r < 0)
      return r;
    buf += n;
    len -= n;
  }
  return 0;
}

void sink_declare_size(struct sink *s, uint64_t size) {
  s->declared = size;
}

/* Everything queued written, the declared size checked, the unaligned tail written. */
static int finish_writes(struct sink *s, lib_error *err) {
  int r = writer_stop(s, 0, err);
  if (r < 0)
    return r;
  if (s->declared != UINT64_MAX && s->declared != s->offset)
    return error_set(err, VMPULL_E_CORRUPT, "decompressed %llu bytes but the image declares %llu",
                     (unsigned long long)s->offset, (unsigned long long)s->declared);
  if (!s->pending_len)
    return 0;
  uint64_t off = s->offset - s->pending_len;
  size_t n = s->pending_len;
  int zero = disk_map_is_zero(s->pending, n);
  if (s->stream) {
    r = write_all(s->fd, s->pending, n);
    if (r < 0)
      return error_set_errno(err, VMPULL_E_IO, -r, "write %s", s->path);
    s->data_bytes += n;
  }
  /* (a disk shorter than a block: its first bytes are only here) */
  if (s->dev && !s->dev->started && (r = device_start(s->dev, s->fd, s->path, s->pending, n, err)) < 0)
    return r;
  r = write_run(s, s->pending, n, off, zero, err);
  s->pending_len = 0;
  return r;
}

static int commit_disk(struct sink *s, uint64_t *allocated, lib_error *err);

int sink_commit(struct sink *s, uint64_t *allocated, lib_error *err) {
  int r = finish_writes(s, err);
  if (r == 0)
    r = sink_bmap_fill(s, err);
  if (r == 0)
    r = commit_disk(s, allocated, err);
  return r < 0 ? r : sink_bmap_publish(s, err);
}

static int commit_disk(struct sink *s, uint64_t *allocated, lib_error *err) {
  if (s->dev) {
    int r = device_finish(s->dev, s->fd, s->path, s->offset, err);
    if (r < 0)
      return r;
    /* The whole disk is there now: whatever fails after this (the bmap) leaves no partial image. */
    if (s->dev->touched)
      *s->dev->touched = 0;
    s->committed = 1;
    if (allocated)
      *allocated = s->offset; /* what the disk takes of the device */
    return 0;
  }
  if (s->stream) {
    s->committed = 1;
    if (allocated)
      *allocated = 0;
    return 0;
  }
  if (plat_ftruncate(s->fd, s->offset) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "set size of %s", s->path);
  if (plat_fsync(s->fd) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "fsync %s", s->path);
  if (s->borrowed) {
    /* The caller's file: nothing to link or rename. */
    s->committed = 1;
    struct stat st;
    if (allocated)
      *allocated = fstat(s->fd, &st) == 0 ? plat_allocated_bytes(s->fd, &st) : 0;
    return 0;
  }
  return sink_publish(s, allocated, err);
}

int sink_take_map(struct sink *s, struct disk_map *out) {
  *out = (struct disk_map){0};
  if (!s->map)
    return s->o.chunk_map ? -ENOMEM : -ENOENT;
  if (!s->committed)
    return -EINVAL;
  int r = disk_map_builder_finish(s->map, out);
  if (r == 0 && out->size != s->offset) {
    disk_map_clear(out);
    r = -EIO;
  }
  disk_map_builder_free(s->map);
  s->map = NULL;
  return r;
}

int sink_takes_every_byte(const struct sink *s) {
  return s->stream || s->dev || s->bmap;
}

void sink_close(struct sink *s) {
  writer_stop(s, 1, NULL);
  disk_map_builder_free(s->map);
  sink_bmap_close(s);
  if (s->dev) {
    device_clear(s->dev);
    free(s->dev);
  }
  free(s->buf);
  if (s->tmp_name && s->dirfd >= 0)
    plat_unlinkat(s->dirfd, s->tmp_name, 0);
  closep(&s->fd);
  closep(&s->dirfd);
  free(s->tmp_name);
  free(s->base);
  free(s->path);
  *s = (struct sink)SINK_INIT;
}
