/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tee: sits right after the byte source and sees every byte as fetched, once.
 * It hashes them (SHA-256), counts them, checks the expected size, reports
 * progress and polls for cancellation, so verification costs no second pass. A copy of the
 * bytes (a cache entry, a spool) is written below it, by a recording source
 * (pipeline/record_source.h), from the same buffer.
 */
#ifndef VMPULL_TEE_H
#define VMPULL_TEE_H

#include "pipeline/source.h"

struct progress_state;

struct tee_options {
  uint64_t expected_size;          /* UINT64_MAX: not checked */
  struct progress_state *progress; /* may be NULL */
  /* Handed every byte too, in order, as it is hashed (a signature checked as the bytes stream, from
   * the floor above); NULL: none. */
  int (*observe)(void *data, const uint8_t *buf, size_t len, lib_error *err);
  void *observe_data;
};

/* Wraps inner (taking ownership). */
int tee_new(struct byte_source *inner, const struct tee_options *o, struct byte_source **out, lib_error *err);
/* After end of stream: "sha256:<hex>" of everything read (including bytes fed with tee_feed). */
int tee_digest(struct byte_source *tee, char out[80], lib_error *err);
uint64_t tee_bytes(struct byte_source *tee);
/* Hash bytes that were fetched earlier (a resumed partial download) without passing them on. */
int tee_prime(struct byte_source *tee, const uint8_t *buf, size_t len, lib_error *err);

#endif
