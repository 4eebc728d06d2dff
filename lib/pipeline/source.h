/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A byte source: the one interface between where bytes come from and what is
 * done with them. Sources are pulled: the consumer passes its own buffer down
 * and each layer reads straight into it, so stacking layers (tee, tar unwrap,
 * peek) costs no copy. A new kind of source only implements this.
 */
#ifndef VMPULL_SOURCE_H
#define VMPULL_SOURCE_H

#include "base/error.h"
#include "base/util.h"

#include <stddef.h>
#include <stdint.h>

struct byte_source;

struct byte_source_ops {
  /* Read up to cap (> 0) bytes into buf. *got == 0 means end of stream.
   * A read may return fewer bytes than asked before the end. */
  int (*read)(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err);
  void (*free)(struct byte_source *s);
};

struct byte_source {
  const struct byte_source_ops *ops;
  char *name;    /* what errors name: a path, a redacted URL, "blob sha256:..." */
  uint64_t size; /* bytes this source will yield, or UINT64_MAX when unknown */
};

static inline int source_read(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  return s->ops->read(s, buf, cap, got, err);
}

/* Read until cap bytes or end of stream; *got < cap only at the end. */
int source_read_full(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err);

/* Frees s (NULL is fine); for _cleanup_. */
void source_free(struct byte_source *s);
static inline void source_freep(struct byte_source **s) {
  source_free(*s);
}
#define _cleanup_source_ _cleanup_(source_freep)

/* Local file. Fails on a directory, a missing or unreadable file, with the path in the message. */
int source_file_open(const char *path, struct byte_source **out, lib_error *err);
/* The same, for a path that may be a FIFO, a pipe or a device that goes quiet: waiting for a
 * writer or for bytes ends with VMPULL_E_CANCELLED within 0.1 s once *cancel is set (may be NULL). */
int source_file_open_cancellable(const char *path, volatile sig_atomic_t *cancel, struct byte_source **out,
                                 lib_error *err);
/* An open regular file (taking ownership of fd, also on failure); name is what errors say. */
int source_file_from_fd(int fd, const char *name, uint64_t size, struct byte_source **out, lib_error *err);

/*
 * Peek: lets detection look at the first bytes and then hands them on
 * to the decoder as if nothing had been read.
 */
struct byte_source *source_peek_new(struct byte_source *inner);
/* Make at least want bytes (fewer at end of stream) visible; returns them. */
int source_peek(struct byte_source *peek, size_t want, const uint8_t **data, size_t *len, lib_error *err);

#endif
