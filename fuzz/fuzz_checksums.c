/* SPDX-License-Identifier: Apache-2.0 */
/* SHA256SUMS parsing: the input is the image file name, a NUL, and the checksum file. */
#include "base/util.h"
#include "fuzz_common.h"
#include "oci/oci_digest.h"
#include "resolve/checksums.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  if (!nul)
    return 0;
  _cleanup_free_ char *name = fuzz_strndup(data, (size_t)(nul - data));
  const char *text = (const char *)nul + 1;
  size_t len = size - (size_t)(nul - data) - 1;
  /* Not NUL-terminated on purpose: the parser takes a length. */
  _cleanup_free_ char *copy = malloc(len ? len : 1);
  if (!copy)
    abort();
  memcpy(copy, text, len);

  lib_error err;
  _cleanup_free_ char *digest = NULL;
  if (checksums_parse(copy, len, name, &digest, &err) == 0) {
    if (!digest || strncmp(digest, "sha256:", 7) != 0 || !oci_digest_valid(digest))
      abort();
  } else if (err.code <= VMPULL_OK || !err.message[0]) {
    abort();
  }
  return 0;
}
