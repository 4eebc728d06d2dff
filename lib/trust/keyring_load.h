/* SPDX-License-Identifier: Apache-2.0 */
/* Which OpenPGP keys a pull trusts for fcos:// and checksum lists: --keyring FILE, else the keys
 * shipped in the package's keys folder (every *.asc and *.gpg there, Fedora's release keys). */
#ifndef VMPULL_KEYRING_LOAD_H
#define VMPULL_KEYRING_LOAD_H

#include "base/error.h"
#include "trust/openpgp.h"

struct trust_settings {
  const char *keyring;             /* --keyring FILE: replaces the shipped keys; NULL: them */
  const char *keys_dir;            /* the shipped keys (<datadir>/vmpull/keys) */
  const char *checksums_signature; /* detached signature of the --checksums list (path, file:// or URL), or NULL */
  int insecure_skip_signature;     /* fcos:// and checksum lists: no signature is checked */
};

/* A keyring of t->keyring, else of every key file in t->keys_dir. An error when none can be read. */
int keyring_load(const struct trust_settings *t, struct openpgp_keyring **out, lib_error *err);

#endif
