/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sparse, atomic file sink (after zstd's fileio_asyncio.c and systemd's
 * pull-raw.c): aligned all-zero blocks become holes, the size is set once at
 * the end, and the file only appears under its final name after fsync, with
 * every check passed. Data goes into an unnamed O_TMPFILE that is linked into
 * place, so even kill -9 leaves nothing; where O_TMPFILE is missing, an
 * O_EXCL temporary file that is renamed, and whose leftovers the next run
 * removes.
 */
#ifndef VMPULL_SINK_H
#define VMPULL_SINK_H

#include "base/error.h"
#include "pipeline/zero_block.h"

#include <stdint.h>
#include <sys/types.h>

#define SINK_BLOCK ZERO_BLOCK
#define SINK_BUFFER_SIZE (256u << 10) /* what sink_buffer() hands out */

struct progress_state;

struct sink_options {
  int replace;                     /* replace an existing final file */
  mode_t mode;                     /* 0: 0644 */
  uint64_t max_size;               /* UINT64_MAX: unlimited */
  int force_named_tmp;             /* tests: use the O_EXCL fallback even where O_TMPFILE works */
  struct progress_state *progress; /* may be NULL: written bytes are reported, cancel polled per chunk */
  int writer_thread;               /* write on a thread of the sink's own (when there are 2+ CPUs) */
  /* The file's folder is already open as folder_fd (a layout's blobs/sha256, reached without
   * following links): used instead of opening path's folder by name; path then names the file in
   * messages only. */
  int in_folder;
  int folder_fd;
  int chunk_map; /* build a disk_map of what is written (a disk to keep) */
  /* Write into the caller's fd (borrowed; vmpull_pull_to_fd) instead of a new file: path names it
   * in messages only, nothing is created, linked or renamed. A regular file is truncated and
   * written sparsely from offset 0; anything else (a pipe) gets every byte in order. */
  int to_fd;
  int fd;
  /* path is a block device (the caller found one there by stat): the disk is written onto it in
   * place (lib/pipeline/sink_device.h); nothing is created, linked or renamed. */
  int device;
  int assume_zeroed;   /* device: it reads as zeros already, its holes are not zeroed */
  int *device_touched; /* device: set (borrowed flag) once the device changed; it holds a partial image then */
  uint64_t disk_size;  /* device: the disk's size when known before writing, else UINT64_MAX (or 0) */
  /* Also write the disk's bmap (lib/pipeline/bmap.h) to bmap_path: opened with the output, its
   * bytes written when the disk's are all there, published right after the disk (bmap_replace as
   * replace is for the output). */
  const char *bmap_path;
  int bmap_replace;
};

struct sink_writer; /* the writer thread's queue (sink.c) */
struct disk_map;
struct disk_map_builder;
struct sink_device;
struct bmap_builder;

struct sink {
  int dirfd;
  int fd;
  char *path;                  /* final path, as given (for messages) */
  char *base;                  /* final name within dirfd */
  char *tmp_name;              /* named temporary (fallback), or NULL with O_TMPFILE */
  uint64_t offset;             /* bytes the writer has taken in, holes and pending included */
  uint8_t pending[SINK_BLOCK]; /* an unaligned tail waiting to become a whole block */
  size_t pending_len;
  uint64_t declared;       /* size the format declares, UINT64_MAX if none */
  uint64_t data_bytes;     /* bytes actually written (not holes) */
  uint64_t writeback_from; /* writeback was started for everything before this offset */
  struct sink_options o;
  int committed;
  uint64_t accepted;            /* bytes handed to the sink (offset trails it while the writer works) */
  struct sink_writer *w;        /* NULL: writes happen on the caller's thread */
  uint8_t *buf;                 /* without a writer: the one buffer sink_buffer() hands out */
  struct disk_map_builder *map; /* with o.chunk_map: fed by the writer, in order */
  int borrowed;                 /* o.to_fd: fd is a dup of the caller's */
  int stream;                   /* o.to_fd and not a regular file: in order, zeros written */
  int readable;                 /* fd can be read back (a kept disk is cloned into it, or kept from it) */
  struct sink_device *dev;      /* o.device: the block device's state */
  struct bmap_builder *bmap;    /* o.bmap_path: fed by the writer, in order */
  struct sink *bmap_out;        /* o.bmap_path: the bmap's own file, published after the disk */
};

#define SINK_INIT                                                                                                      \
  { .dirfd = -1, .fd = -1, .declared = UINT64_MAX }

int sink_open(struct sink *s, const char *path, const struct sink_options *o, lib_error *err);
/* Decoders write without a copy: decode into sink_buffer() (SINK_BUFFER_SIZE bytes), then
 * hand the first len bytes over with sink_submit(); the next sink_buffer() may be another one.
 * With a writer thread the hole scan and the write() of one buffer overlap decoding the next
 * (after zstd's fileio_asyncio.c): they were a tenth of a zstd pull's decoding thread. */
uint8_t *sink_buffer(struct sink *s);
int sink_submit(struct sink *s, size_t len, lib_error *err);
/* Any buffer (copied when a writer thread is running). */
int sink_write(struct sink *s, const uint8_t *buf, size_t len, lib_error *err);
/* A decoder tells the sink the uncompressed size its container declares; commit checks it. */
void sink_declare_size(struct sink *s, uint64_t size);
/* ftruncate to size, fsync, link into place; fills allocated bytes. */
int sink_commit(struct sink *s, uint64_t *allocated, lib_error *err);
/* After a commit with o.chunk_map: the map of the file as written (lib/pipeline/disk_map.h). 0, or
 * -errno when it could not be built (the file itself is fine). */
int sink_take_map(struct sink *s, struct disk_map *out);
/* The bmap beside the output (sink_bmap.c; sink.c's own): its file opened with the output, the
 * map's text written into it once the disk's bytes are all in, published after the disk, freed. */
int sink_bmap_open(struct sink *s, lib_error *err);
int sink_bmap_fill(struct sink *s, lib_error *err);
int sink_bmap_publish(struct sink *s, lib_error *err);
void sink_bmap_close(struct sink *s);
/* The output's own file (sink_publish.c; sink.c's own): sink_tmp_create makes its temporary beside
 * path (s->path, base and dirfd set; an existing file there refused without replace), sink_publish
 * puts the written, fsynced file under its name and fills allocated. */
int sink_tmp_create(struct sink *s, const char *path, lib_error *err);
int sink_publish(struct sink *s, uint64_t *allocated, lib_error *err);
/* Every byte must go through sink_write/sink_submit (no clone or copy into fd behind the sink's
 * back): a pipe, a block device, or a bmap being built. */
int sink_takes_every_byte(const struct sink *s);
/* Drop everything that was written (also after a successful commit: only frees). */
void sink_close(struct sink *s);

#endif
