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

#include "vmpull.h"

#include <stdint.h>
#include <sys/types.h>

#define SINK_BLOCK 4096u

struct progress_state;

struct sink_options {
  int replace;                     /* replace an existing final file */
  mode_t mode;                     /* 0: 0644 */
  uint64_t max_size;               /* UINT64_MAX: unlimited */
  int force_named_tmp;             /* tests: use the O_EXCL fallback even where O_TMPFILE works */
  struct progress_state *progress; /* may be NULL: written bytes are reported, cancel polled per chunk */
};

struct sink {
  int dirfd;
  int fd;
  char *path;                  /* final path, as given (for messages) */
  char *base;                  /* final name within dirfd */
  char *tmp_name;              /* named temporary (fallback), or NULL with O_TMPFILE */
  uint64_t offset;             /* bytes accepted so far, including holes and pending */
  uint8_t pending[SINK_BLOCK]; /* an unaligned tail waiting to become a whole block */
  size_t pending_len;
  uint64_t declared;       /* size the format declares, UINT64_MAX if none */
  uint64_t data_bytes;     /* bytes actually written (not holes) */
  uint64_t writeback_from; /* writeback was started for everything before this offset */
  struct sink_options o;
  int committed;
};

#define SINK_INIT                                                                                                      \
  { .dirfd = -1, .fd = -1, .declared = UINT64_MAX }

int sink_open(struct sink *s, const char *path, const struct sink_options *o, vmpull_error *err);
int sink_write(struct sink *s, const uint8_t *buf, size_t len, vmpull_error *err);
/* A decoder tells the sink the uncompressed size its container declares; commit checks it. */
void sink_declare_size(struct sink *s, uint64_t size);
/* ftruncate to size, fsync, link into place; fills allocated bytes. */
int sink_commit(struct sink *s, uint64_t *allocated, vmpull_error *err);
/* Drop everything that was written (also after a successful commit: only frees). */
void sink_close(struct sink *s);

/* Exposed for unit tests: is this SINK_BLOCK-sized block all zero? */
int sink_block_is_zero(const uint8_t *p);

#endif
