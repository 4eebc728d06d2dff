/* SPDX-License-Identifier: Apache-2.0 */
#include "trust/keyring_load.h"

#include "base/dir_list.h"
#include "base/util.h"

static int key_file_name(const char *name) {
  return name[0] != '.' && (ends_with_ci(name, ".asc") || ends_with_ci(name, ".gpg"));
}

static int add_dir(struct openpgp_keyring *k, const char *dir, lib_error *err) {
  char **names = NULL;
  int n = dir_list(dir, &names);
  if (n < 0)
    return error_set_errno(err, VMPULL_E_SIGNATURE, errno, "no OpenPGP keys: read %s (--keyring FILE names keys)", dir);
  int r = 0;
  for (int i = 0; i < n; i++) {
    if (r == 0 && key_file_name(names[i])) {
      _cleanup_free_ char *path = xasprintf("%s/%s", dir, names[i]);
      r = path ? openpgp_keyring_add_file(k, path, err) : error_oom(err);
    }
  }
  dir_list_free(names, n);
  if (r < 0)
    return r;
  if (!openpgp_keyring_count(k))
    return error_set(err, VMPULL_E_SIGNATURE, "no OpenPGP keys in %s (--keyring FILE names keys)", dir);
  return 0;
}

int keyring_load(const struct trust_settings *t, struct openpgp_keyring **out, lib_error *err) {
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = NULL;
  int r = openpgp_keyring_new(&k, err);
  if (r < 0)
    return r;
  if (t->keyring && *t->keyring)
    r = openpgp_keyring_add_file(k, t->keyring, err);
  else
    r = add_dir(k, t->keys_dir ? t->keys_dir : "", err);
  if (r < 0)
    return r;
  *out = TAKE_PTR(k);
  return 0;
}
