/* SPDX-License-Identifier: Apache-2.0 */
/* WWW-Authenticate parsing: a registry's 401 header, as the server wrote it. */
#include "base/util.h"
#include "fuzz_common.h"
#include "oci/oci_challenge.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  _cleanup_free_ char *header = fuzz_strndup(data, size);
  lib_error err;
  struct oci_challenge c;
  if (oci_challenge_parse(header, &c, &err) == 0) {
    if (c.scheme == OCI_AUTH_NONE || (c.scheme == OCI_AUTH_BEARER && !c.realm))
      abort();
  } else if (err.code != VMPULL_E_AUTH) {
    abort();
  }
  oci_challenge_clear(&c);
  return 0;
}
