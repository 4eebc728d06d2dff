/* SPDX-License-Identifier: Apache-2.0 */
/* The syntax of content digests ("sha256:<64 lowercase hex>", "sha512:<128 lowercase hex>") and
 * lowercase hex, in one place: every check of a digest a file, a server or an argument gave, and
 * every digest vmpull writes, goes through these. (Hashing itself: oci/oci_digest.c, the tee.) */
#ifndef VMPULL_DIGEST_H
#define VMPULL_DIGEST_H

#include <stddef.h>

/* 1 when s is exactly n lowercase hex digits, else 0. */
int hex_lower_is(const char *s, size_t n);
/* bytes[0, n) as 2n lowercase hex digits and a NUL in out. */
void hex_lower_format(const unsigned char *bytes, size_t n, char *out);

/* The hex part of d when d is sha256:<64 lowercase hex> or sha512:<128 lowercase hex>, else NULL. */
const char *digest_hex(const char *d);
/* The same, sha256 only (what the cache and the tee compute). */
const char *digest_sha256_hex(const char *d);

#endif
