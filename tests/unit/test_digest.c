/* SPDX-License-Identifier: Apache-2.0 */
/* The one digest syntax and lowercase hex (lib/base/digest.c). */
/* clang-format off */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
/* clang-format on */

#include "base/digest.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_digest_syntax(void **state) {
  (void)state;
  assert_string_equal(digest_hex("sha256:" HEX64), HEX64);
  assert_string_equal(digest_hex("sha512:" HEX64 HEX64), HEX64 HEX64);
  assert_null(digest_hex("sha512:" HEX64));
  assert_null(digest_hex("sha256:" HEX64 "0"));
  assert_null(digest_hex("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
  assert_null(digest_hex("md5:" HEX64));
  assert_null(digest_hex(NULL));
  assert_null(digest_hex(""));
  assert_string_equal(digest_sha256_hex("sha256:" HEX64), HEX64);
  assert_null(digest_sha256_hex("sha512:" HEX64 HEX64));
}

static void test_hex(void **state) {
  (void)state;
  const unsigned char bytes[] = {0x00, 0x9f, 0xa0, 0xff};
  char out[9];
  hex_lower_format(bytes, sizeof(bytes), out);
  assert_string_equal(out, "009fa0ff");
  assert_true(hex_lower_is(out, 8));
  assert_false(hex_lower_is(out, 7));
  assert_false(hex_lower_is("009FA0FF", 8));
  assert_false(hex_lower_is(NULL, 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_digest_syntax),
      cmocka_unit_test(test_hex),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
