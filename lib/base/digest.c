/* SPDX-License-Identifier: Apache-2.0 */
#include "base/digest.h"

#include "base/util.h"

#include <string.h>

static const char hex_digits[] = "0123456789abcdef";

int hex_lower_is(const char *s, size_t n) {
  return s && strlen(s) == n && strspn(s, hex_digits) == n;
}

void hex_lower_format(const unsigned char *bytes, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex_digits[bytes[i] >> 4];
    out[2 * i + 1] = hex_digits[bytes[i] & 15];
  }
  out[2 * n] = '\0';
}

const char *digest_hex(const char *d) {
  if (!d)
    return NULL;
  size_t want = starts_with(d, "sha256:") ? 64 : starts_with(d, "sha512:") ? 128 : 0;
  return want && hex_lower_is(d + 7, want) ? d + 7 : NULL;
}

const char *digest_sha256_hex(const char *d) {
  return d && starts_with(d, "sha256:") ? digest_hex(d) : NULL;
}
