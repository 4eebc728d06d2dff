/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A recording source: passes its inner source's bytes on and writes each read, from the very
 * buffer the reader gave (no copy of its own), into a file as it goes: the cache entry a download
 * fills (lib/fetch/cache_session.c), the spool a saved blob is hashed into (lib/oci/oci_layout_write.c).
 * Stack it under the tee: the tee then hashes the same buffer, so one pass stays one pass.
 */
#ifndef VMPULL_RECORD_SOURCE_H
#define VMPULL_RECORD_SOURCE_H

#include "pipeline/source.h"

struct record_options {
  int fd;          /* bytes are written with pwrite, from offset on */
  uint64_t offset; /* where the next byte goes in fd */
  /* NULL: a failed write fails the read. Else the copy is optional: the source stops writing,
   * calls this once (errno value; it may close fd) and goes on. */
  void (*failed)(void *data, int errnum);
  void *failed_data;
};

/* Wraps inner (taking ownership, also on failure). */
int record_source_new(struct byte_source *inner, const struct record_options *o, struct byte_source **out,
                      lib_error *err);

#endif
