/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What one pull learns about how it got its bytes, gathered where it happens and read by the api
 * floor for the outcome (lib/api/outcome.c): the fetch decision says how the cache served the
 * bytes, a resumed partial its offset, the network source counts what it delivers, the plan's
 * opening names the mirror. The api floor owns the struct; the cache session borrows it
 * (pull_cache.facts), so the facts known so far survive a failure.
 */
#ifndef VMPULL_PULL_FACTS_H
#define VMPULL_PULL_FACTS_H

#include "base/error.h"
#include "pipeline/source.h"

#include <stdint.h>

struct pull_facts {
  vmpull_cache_use cache;     /* how the cache served the image's bytes */
  uint64_t bytes_transferred; /* image bytes received from the network this call (all attempts) */
  uint64_t resumed_from;      /* offset an interrupted download was resumed at; 0: none */
  char *mirror;               /* the registry mirror that served the bytes, or NULL (owned) */
  const char
      *signature_type; /* what verified who made the image: "openpgp", "simple-signing", "sigstore"; NULL: nothing */
  char *signature_key; /* the key that signed it (an OpenPGP fingerprint), or NULL (owned) */
};
/* The signature that verified the image (type a static string); -1 on OOM. */
int pull_facts_signed(struct pull_facts *f, const char *type, const char *key);

/* A new attempt (the retry after bad cached bytes): how the cache served it and where it resumed
 * are its own; the bytes transferred add up. */
void pull_facts_restart(struct pull_facts *f);
void pull_facts_clear(struct pull_facts *f);

/* Count every byte read from *src (taking it) into f->bytes_transferred (f NULL: *src stays). */
int pull_facts_count(struct pull_facts *f, struct byte_source **src, lib_error *err);

#endif
