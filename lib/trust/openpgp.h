/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one GPGME wrapper: OpenPGP signatures checked against a keyring of our own, a temporary GnuPG
 * home (mode 0700, no-autostart, removed on free) holding exactly the keys imported into it. Pure
 * checks over the bytes they are handed; the caller wraps each error with what was verified.
 *
 * A signature is good when GPGME's status is GPG_ERR_NO_ERROR and the signer's primary key is one of
 * the keyring's: a key imported without trust reads summary == 0, so the summary is not the verdict
 * (as containers/image decides). Every failure is -VMPULL_E_SIGNATURE with the reason (no signature,
 * bad signature, unknown key, expired or revoked key...), except a keyring that cannot be set up.
 *
 * GPGME's side effects stay inside: gpgme_check_version() (run once) sets SIGPIPE to ignored, and the
 * caller's disposition is put back; every operation runs with SIGPIPE blocked on its thread and a
 * SIGPIPE it raised is consumed before unblocking, as libcurl does.
 */
#ifndef VMPULL_OPENPGP_H
#define VMPULL_OPENPGP_H

#include "base/error.h"
#include "base/util.h"

#include <stddef.h>

/* 40 (v4) or 64 (v5) hex digits, uppercase, and a NUL. */
#define OPENPGP_FPR_MAX 65

struct openpgp_keyring;
int openpgp_keyring_new(struct openpgp_keyring **out, lib_error *err);
/* Armored or binary public keys; the error names the file. */
int openpgp_keyring_add_file(struct openpgp_keyring *k, const char *path, lib_error *err);
/* what: how the error names the data ("keyData of policy.json", ...). */
int openpgp_keyring_add_data(struct openpgp_keyring *k, const void *data, size_t len, const char *what, lib_error *err);
/* How many primary keys were imported. */
size_t openpgp_keyring_count(const struct openpgp_keyring *k);
void openpgp_keyring_free(struct openpgp_keyring *k);
DEFINE_CLEANUP_FUNC(struct openpgp_keyring *, openpgp_keyring_free)

/* Each returns 0 and the signer's primary-key fingerprint in fpr when a signature is good. A
 * detached signature file may hold several signatures: one good one is enough. A message that
 * carries its own text (opaque, clearsigned) must have every signature good, so that no text signed
 * by someone else rides along in plain. */
int openpgp_verify_detached(struct openpgp_keyring *k, const void *sig, size_t sig_len, const void *data, size_t len,
                            char fpr[OPENPGP_FPR_MAX], lib_error *err);
/* Simple signing: gpg --sign output; *plain (malloc'd, NUL-terminated past *plain_len) = the payload. */
int openpgp_verify_opaque(struct openpgp_keyring *k, const void *msg, size_t len, char **plain, size_t *plain_len,
                          char fpr[OPENPGP_FPR_MAX], lib_error *err);
/* A clearsigned text: *plain = only what GPGME returns as signed (lines outside the signed part,
 * before or after it, are not in it). */
int openpgp_verify_clearsigned(struct openpgp_keyring *k, const void *msg, size_t len, char **plain, size_t *plain_len,
                               char fpr[OPENPGP_FPR_MAX], lib_error *err);

/* Detached verification of data fed as it arrives: GPGME reads it on a thread of its own, through a
 * ring, so a pull's one pass over the bytes is the verification's too. The keyring must outlive the
 * stream. */
struct openpgp_stream;
int openpgp_stream_start(struct openpgp_keyring *k, const void *sig, size_t sig_len, struct openpgp_stream **out,
                         lib_error *err);
int openpgp_stream_feed(struct openpgp_stream *s, const void *data, size_t len, lib_error *err);
/* After the last byte: the verdict, as openpgp_verify_detached. */
int openpgp_stream_finish(struct openpgp_stream *s, char fpr[OPENPGP_FPR_MAX], lib_error *err);
/* Abandons a running verification cleanly (the thread sees the end of the data and is joined). */
void openpgp_stream_free(struct openpgp_stream *s);
DEFINE_CLEANUP_FUNC(struct openpgp_stream *, openpgp_stream_free)

#endif
