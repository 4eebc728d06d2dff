/* SPDX-License-Identifier: Apache-2.0 */
/* OCI content digests ("sha256:<64 hex>", "sha512:<128 hex>"): syntax, hashing a buffer, verifying a stream. */
#ifndef VMPULL_OCI_DIGEST_H
#define VMPULL_OCI_DIGEST_H

#include "pipeline/source.h"

#include <stddef.h>

/* "sha512:" + 128 hex + NUL */
#define OCI_DIGEST_MAX 136

/* 1 when d is sha256:<64 lowercase hex> or sha512:<128 lowercase hex>, else 0. */
int oci_digest_valid(const char *d);

/* Digest of buf with the algorithm of like (sha256 or sha512; like must be valid). */
int oci_digest_buffer(const char *like, const void *buf, size_t len, char out[OCI_DIGEST_MAX], lib_error *err);

/* Fails with VMPULL_E_DIGEST naming what, the expected and the actual digest, unless buf hashes to want. */
int oci_digest_verify(const char *want, const void *buf, size_t len, const char *what, lib_error *err);

/* Wraps inner (taking ownership): at end of stream the bytes must hash to want
 * (used for sha512 descriptors; the tee already checks sha256 ones). */
int oci_digest_source_new(struct byte_source *inner, const char *want, struct byte_source **out, lib_error *err);

/* prefix, the digest with '-' for its ':', suffix: "sha256-<hex>.sig" (the sigstore tag), "signatures/sha256-<hex>"
 * (a layout's lookaside folder). NULL when digest is not valid, or on OOM. */
char *oci_digest_dashed(const char *prefix, const char *digest, const char *suffix);

#endif
