/* SPDX-License-Identifier: Apache-2.0 */
/* --checksums list parsing (lib/resolve/checksums.c): every line form, armour, and the lookup rules. */
/* cmocka.h needs these headers before it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "base/util.h"
#include "resolve/checksums.h"

#define A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define C "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void expect_found(const char *text, const char *name, const char *want) {
  lib_error err = {0};
  _cleanup_free_ char *digest = NULL;
  /* A copy without a terminating NUL: the parser must stay within len. */
  size_t len = strlen(text);
  _cleanup_free_ char *copy = malloc(len ? len : 1);
  assert_non_null(copy);
  memcpy(copy, text, len);
  int r = checksums_parse(copy, len, name, &digest, &err);
  if (r != 0)
    fail_msg("'%s' not found: %s", name, err.message);
  assert_string_equal(digest, want);
}

static void expect_missing(const char *text, const char *name, const char *needle) {
  lib_error err = {0};
  _cleanup_free_ char *digest = NULL;
  int r = checksums_parse(text, strlen(text), name, &digest, &err);
  assert_int_equal(r, -VMPULL_E_NOT_FOUND);
  assert_int_equal(err.code, VMPULL_E_NOT_FOUND);
  assert_null(digest);
  if (!strstr(err.message, needle))
    fail_msg("message '%s' lacks '%s'", err.message, needle);
}

static void test_gnu_forms(void **state) {
  (void)state;
  expect_found(A "  other.raw\n" C "  disk.raw.xz\n", "disk.raw.xz", "sha256:" C);
  expect_found(A " *other.raw\n" C " *disk.raw.xz\n", "disk.raw.xz", "sha256:" C);
  expect_found(C " disk.raw.xz\n" A " other.raw\n", "disk.raw.xz", "sha256:" C);
  /* No final newline, CRLF, upper-case hex. */
  expect_found(A "  other\r\n0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF  disk.raw.xz",
               "disk.raw.xz", "sha256:" C);
  /* Names with spaces and a leading ./ */
  expect_found(C "  my disk.raw.xz\n", "my disk.raw.xz", "sha256:" C);
  expect_found(C " *./disk.raw.xz\n", "disk.raw.xz", "sha256:" C);
  /* coreutils escapes a name holding a backslash or newline and marks the line with "\". */
  expect_found("\\" C "  odd\\\\name\n", "odd\\name", "sha256:" C);
}

static void test_bsd_forms(void **state) {
  (void)state;
  expect_found("SHA256 (other.qcow2) = " A "\nSHA256 (Fedora-Cloud.qcow2) = " C "\n", "Fedora-Cloud.qcow2",
               "sha256:" C);
  /* Fedora's CHECKSUM: clearsigned, comments, armour headers and signature skipped. */
  expect_found("-----BEGIN PGP SIGNED MESSAGE-----\n"
               "Hash: SHA256\n"
               "\n"
               "# Fedora-Cloud.qcow2: 563085312 bytes\n"
               "SHA256 (Fedora-Cloud.qcow2) = " C "\n"
               "-----BEGIN PGP SIGNATURE-----\n"
               "\n"
               "SHA256 (Fedora-Cloud.qcow2) = " A "\n"
               "-----END PGP SIGNATURE-----\n",
               "Fedora-Cloud.qcow2", "sha256:" C);
  /* Dash-escaped lines of clearsigned text. */
  expect_found("- SHA256 (x.img) = " C "\n", "x.img", "sha256:" C);
  /* A name holding ") = " itself. */
  expect_found("SHA256 (a) = b.img) = " C "\n", "a) = b.img", "sha256:" C);
}

static void test_exact_name_wins(void **state) {
  (void)state;
  expect_found(A "  images/disk.img\n" C "  disk.img\n", "disk.img", "sha256:" C);
  expect_found(C "  images/disk.img\n", "disk.img", "sha256:" C);
  expect_missing(A "  x86/disk.img\n" B "  arm/disk.img\n", "disk.img", "several");
  /* A longer name that merely ends with ours is another file. */
  expect_missing(C "  mydisk.img\n", "disk.img", "disk.img");
}

static void test_missing(void **state) {
  (void)state;
  expect_missing("", "disk.img", "no entry for 'disk.img'");
  expect_missing(C "  other.img\n# disk.img\n", "disk.img", "no entry");
  /* SHA-512 and MD5 entries are not SHA-256 ones. */
  expect_missing("SHA512 (disk.img) = " A A "\n" A A "  disk.img\n0123456789abcdef0123456789abcdef  disk.img\n",
                 "disk.img", "no SHA-256 entry");
  /* Malformed hex. */
  expect_missing("SHA256 (disk.img) = " A "zz\n", "disk.img", "no entry");
  /* The entry only inside the signature block. */
  expect_missing("-----BEGIN PGP SIGNATURE-----\n" C "  disk.img\n-----END PGP SIGNATURE-----\n", "disk.img",
                 "no entry");
}

static void test_no_name(void **state) {
  (void)state;
  lib_error err = {0};
  char *digest = NULL;
  assert_int_equal(checksums_parse(C "  x\n", 5, NULL, &digest, &err), -VMPULL_E_USAGE);
  assert_int_equal(checksums_parse(C "  x\n", 5, "", &digest, &err), -VMPULL_E_USAGE);
  assert_null(digest);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gnu_forms), cmocka_unit_test(test_bsd_forms), cmocka_unit_test(test_exact_name_wins),
      cmocka_unit_test(test_missing),   cmocka_unit_test(test_no_name),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
