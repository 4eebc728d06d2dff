/* SPDX-License-Identifier: Apache-2.0 */
/* Sigstore signatures made with a public key (cosign's "simple signing" payloads, as containers/image
 * checks them for a sigstoreSigned requirement with keyPath/keyPaths/keyData): a signature is the
 * key's signature of the payload's bytes with SHA-256 (ECDSA: ASN.1 DER; RSA: PKCS #1 v1.5;
 * Ed25519: over the bytes themselves). Pure checks over bytes the caller hands in; the payload's
 * JSON (digest and identity) is the policy evaluator's to read. Keyless (Fulcio, Rekor) is not here. */
#ifndef VMPULL_TRUST_SIGSTORE_H
#define VMPULL_TRUST_SIGSTORE_H

#include "base/error.h"
#include "base/util.h"

#include <stddef.h>

/* One PEM key file or keyData, at most. */
#define SIGSTORE_KEY_FILE_MAX (64u << 10)
/* Keys in one set (a policy requirement's keyPaths). */
#define SIGSTORE_KEYS_MAX 256
/* A signature as the annotation carries it (base64); RSA-16384 needs under 3 KiB. */
#define SIGSTORE_SIG_B64_MAX (16u << 10)
/* Room for a key id: "SHA256:" and 64 hex digits. */
#define SIGSTORE_KEY_ID_MAX 80

/* A set of public keys: PEM "PUBLIC KEY" (SubjectPublicKeyInfo) or "RSA PUBLIC KEY" (PKCS #1), the
 * first PEM block of each file or data, as containers/image reads them; EC on P-256, P-384 or P-521,
 * RSA of 2048 bits or more, Ed25519. Each key's id is "SHA256:" and the lowercase hex of the SHA-256
 * of its DER SubjectPublicKeyInfo (what `openssl pkey -pubin -outform DER | sha256sum` prints). */
struct sigstore_keys;

int sigstore_keys_new(struct sigstore_keys **out, lib_error *err);
/* Add the key in the PEM file at path; an error names the file. */
int sigstore_keys_add_file(struct sigstore_keys *k, const char *path, lib_error *err);
/* Add the key in pem[0, len); what names it in an error ("keyData of ...", a file name). */
int sigstore_keys_add_data(struct sigstore_keys *k, const void *pem, size_t len, const char *what, lib_error *err);
/* How many keys the set holds. */
size_t sigstore_keys_count(const struct sigstore_keys *k);
/* The id of key i (i < sigstore_keys_count). */
const char *sigstore_keys_id(const struct sigstore_keys *k, size_t i);
void sigstore_keys_free(struct sigstore_keys *k);
DEFINE_CLEANUP_FUNC(struct sigstore_keys *, sigstore_keys_free)
#define _cleanup_sigstore_keys_ _cleanup_(sigstore_keys_freep)

/* 0 and, in key_id, the id of the first key of k that verifies sig_b64 (base64 with padding, as in
 * the dev.cosignproject.cosign/signature annotation; line breaks ignored, as Go's decoder does) as a
 * signature of payload[0, len); else -VMPULL_E_SIGNATURE with the reason (no keys, bad base64,
 * made by none of the keys). Does not parse the payload. */
int sigstore_verify_payload(const struct sigstore_keys *k, const void *payload, size_t len, const char *sig_b64,
                            char key_id[SIGSTORE_KEY_ID_MAX], lib_error *err);

/* Strict standard base64 (RFC 4648 section 4, padded; CR and LF skipped): 0 and the bytes in *out
 * (malloc'd) and *out_len, or -1 when s is not base64. */
int sigstore_base64_decode(const char *s, unsigned char **out, size_t *out_len);

#endif
