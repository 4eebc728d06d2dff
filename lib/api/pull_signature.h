/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A detached OpenPGP signature over the image's bytes as fetched (fcos://: Fedora signs each
 * artifact): fetched with the plan, checked by GPGME as the bytes stream through the tee (no second
 * read: with --no-cache there is nothing to read again), its verdict taken before the cache entry is
 * filed and the output published. --insecure-skip-signature turns it off, with a warning.
 */
#ifndef VMPULL_PULL_SIGNATURE_H
#define VMPULL_PULL_SIGNATURE_H

#include "api/options.h"
#include "fetch/cache_session.h"
#include "fetch/pull_facts.h"
#include "fetch/resolved.h"
#include "pipeline/tee.h"
#include "trust/openpgp.h"

struct pull_signature {
  struct openpgp_keyring *keyring; /* NULL: nothing to check */
  struct openpgp_stream *stream;   /* the running check, once the bytes are opened */
  char *sig;                       /* the signature's bytes */
  size_t sig_len;
  char *shown; /* the signature's URL, for messages (redacted) */
  int decided; /* the verdict was taken, and it was good */
};
#define PULL_SIGNATURE_INIT                                                                                            \
  { .keyring = NULL }

/* After resolving, before a byte of the image moves: the signature rs names and the keys to check
 * it with. 0 with nothing to check (none expected, or --insecure-skip-signature), 1 ready, or an
 * error (the source names no signature, it cannot be fetched, no keys). */
int pull_signature_prepare(const struct pull_config *o, struct pull_cache *pc, const struct resolved *rs,
                           struct pull_signature *ps, lib_error *err);
/* Start the check; the tee hands it every byte (to->observe). */
int pull_signature_start(struct pull_signature *ps, struct tee_options *to, lib_error *err);
/* After the last byte: the verdict, and the signer into facts. Once it was good, a later call has
 * nothing left to decide. */
int pull_signature_verdict(struct pull_signature *ps, struct pull_facts *facts, lib_error *err);
/* The signed bytes, the cached blob, read through the check alone to their end and not decoded (*src
 * is taken), when the disk kept from them is to make the output: they must hash to digest (the one
 * the disk was kept for), then the verdict as pull_signature_verdict's. */
int pull_signature_check_blob(struct pull_signature *ps, struct byte_source **src, uint64_t expected_size,
                              const char *digest, struct progress_state *progress, struct pull_facts *facts,
                              lib_error *err);
void pull_signature_clear(struct pull_signature *ps);

#endif
