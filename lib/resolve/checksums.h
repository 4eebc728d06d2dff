/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --checksums: look the image's file name up in a SHA256SUMS-style list
 * (GNU "<hex>  <name>", "<hex> *<name>", "<hex> <name>", and the BSD form
 * "SHA256 (<name>) = <hex>" of Fedora's CHECKSUM files, clearsigned or not).
 */
#ifndef VMPULL_CHECKSUMS_H
#define VMPULL_CHECKSUMS_H

#include "base/error.h"

#include <stddef.h>

/* Find name's SHA-256 in text (len bytes, need not be NUL-terminated). An
 * exact name match wins over one on the entry's last path component.
 * 0 and *digest = "sha256:<lowercase hex>" (caller frees), or
 * -VMPULL_E_NOT_FOUND when no SHA-256 entry names it. */
int checksums_parse(const char *text, size_t len, const char *name, char **digest, lib_error *err);

struct pull_cache;
struct resolve_settings;

/* Read s->checksums (a path, file:// or an http(s) URL fetched with s->http,
 * with retries and through the pull's cache pc, which may be NULL; with
 * --offline the cached copy) and look name up in it. A signed list (clearsigned,
 * or with s->trust.checksums_signature beside it) must verify with s->trust's
 * keys, and name is looked up only in what the signature covers; an unsigned
 * list is taken only when no --keyring asks for a signature. The signer goes
 * into pc->facts. Errors name the checksum source. */
int checksums_lookup(const struct resolve_settings *s, struct pull_cache *pc, const char *name, char **digest,
                     lib_error *err);

#endif
