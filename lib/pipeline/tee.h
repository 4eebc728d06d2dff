/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tee: sits right after the byte source and sees every byte as fetched, once.
 * It hashes them (SHA-256), counts them, checks the expected size, reports
 * progress, polls for cancellation and (when a cache is attached) copies them
 * to a cache file, so verification and caching cost no second pass.
 */
#ifndef VMPULL_TEE_H
#define VMPULL_TEE_H

#include "pipeline/source.h"

struct progress_state;

struct tee_options {
  uint64_t expected_size;          /* UINT64_MAX: not checked */
  struct progress_state *progress; /* may be NULL */
  int cache_fd;                    /* -1: none; bytes are appended with pwrite */
  uint64_t cache_offset;           /* where the next byte goes in cache_fd */
  /* NULL: a failed write to cache_fd fails the read. Else the copy is optional: the tee
   * stops writing, calls this once (errno value) and goes on. */
  void (*cache_failed)(void *data, int errnum);
  void *cache_failed_data;
};

/* Wraps inner (taking ownership). */
int tee_new(struct byte_source *inner, const struct tee_options *o, struct byte_source **out, vmpull_error *err);
/* After end of stream: "sha256:<hex>" of everything read (including bytes fed with tee_feed). */
int tee_digest(struct byte_source *tee, char out[80], vmpull_error *err);
uint64_t tee_bytes(struct byte_source *tee);
/* Hash bytes that were fetched earlier (a resumed partial download) without passing them on. */
int tee_prime(struct byte_source *tee, const uint8_t *buf, size_t len, vmpull_error *err);

#endif
