/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON that carries secrets: an auth file (auth.json / config.json), a credential
 * helper's answer and a token endpoint's answer. None of it may reach an error message.
 */
#include "base/util.h"
#include "fuzz_common.h"
#include "oci/oci_challenge.h"
#include "oci/oci_creds.h"

#include <stdlib.h>
#include <string.h>

/* Secrets in the seeds use this marker: a message quoting it leaked a secret. */
#define SECRET_MARK "s3cr3t"

static void check_no_secret(const lib_error *err) {
  if (strstr(err->message, SECRET_MARK))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *json = (const char *)data;
  lib_error err;

  static const char *const lookups[][2] = {
      {"quay.io", "podman/machine-os"}, {"docker.io", "library/fedora"}, {"localhost:5000", "a/b"}};
  for (size_t i = 0; i < ARRAY_SIZE(lookups); i++) {
    struct oci_auth_lookup l = {0};
    int r = oci_auth_file_lookup(json, size, lookups[i][0], lookups[i][1], &l, &err);
    if (r < 0)
      check_no_secret(&err);
    else if (r == 1 && !l.creds.user && !l.helper)
      abort();
    oci_auth_lookup_clear(&l);
  }

  struct oci_creds c = {0};
  if (oci_helper_answer_parse(json, size, &c, &err) < 0)
    check_no_secret(&err);
  oci_creds_clear(&c);

  _cleanup_free_ char *token = NULL;
  if (oci_token_parse(json, size, &token, &err) < 0)
    check_no_secret(&err);
  return 0;
}
