/* SPDX-License-Identifier: Apache-2.0 */
/* Format detection (lib/pipeline/detect.c): magic bytes first, then the suffix rules. */
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
#include "pipeline/detect.h"

static const uint8_t xz_magic[] = {0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 0x00, 0x04};
static const uint8_t gz_magic[] = {0x1F, 0x8B, 0x08, 0x00};
static const uint8_t zstd_magic[] = {0x28, 0xB5, 0x2F, 0xFD, 0x04};
static const uint8_t bz2_magic[] = {'B', 'Z', 'h', '9', '1', 'A', 'Y'};
static const uint8_t zip_magic[] = {'P', 'K', 0x03, 0x04, 0x14, 0x00};
static const uint8_t lzip_magic[] = {'L', 'Z', 'I', 'P', 0x01, 0x0c};
static const uint8_t qcow2_head[] = {'Q', 'F', 'I', 0xfb, 0, 0, 0, 3};
static const uint8_t zeros[16] = {0};

static enum format detect_ok(const uint8_t *head, size_t len, const char *name) {
  enum format f = (enum format) - 1;
  lib_error err = {0};
  int r = detect_format(head, len, name, &f, &err);
  if (r != 0)
    fail_msg("%s: unexpected error: %s", name ? name : "(no name)", err.message);
  return f;
}

static void test_every_magic(void **state) {
  (void)state;
  /* Magic wins whatever the name says (or when there is none). */
  static const char *const names[] = {NULL, "image", "image.raw", "image.xz", "image.zip", "image.lzma"};
  for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
    const char *n = names[i];
    assert_int_equal(detect_ok(xz_magic, sizeof(xz_magic), n), FORMAT_XZ);
    assert_int_equal(detect_ok(gz_magic, sizeof(gz_magic), n), FORMAT_GZIP);
    assert_int_equal(detect_ok(zstd_magic, sizeof(zstd_magic), n), FORMAT_ZSTD);
    assert_int_equal(detect_ok(bz2_magic, sizeof(bz2_magic), n), FORMAT_BZIP2);
    assert_int_equal(detect_ok(zip_magic, sizeof(zip_magic), n), FORMAT_ZIP);
    assert_int_equal(detect_ok(lzip_magic, sizeof(lzip_magic), n), FORMAT_LZIP);
  }
}

static void test_magic_exact_length(void **state) {
  (void)state;
  /* A stream exactly as long as the magic is still recognised... */
  assert_int_equal(detect_ok(xz_magic, 6, NULL), FORMAT_XZ);
  assert_int_equal(detect_ok(gz_magic, 2, NULL), FORMAT_GZIP);
  assert_int_equal(detect_ok(bz2_magic, 3, NULL), FORMAT_BZIP2);
  /* ...one byte short of it is not (an uncompressed image, when the name allows). */
  assert_int_equal(detect_ok(xz_magic, 5, "image"), FORMAT_NONE);
  assert_int_equal(detect_ok(gz_magic, 1, "image"), FORMAT_NONE);
  assert_int_equal(detect_ok(zstd_magic, 3, "image"), FORMAT_NONE);
  /* Near misses. */
  static const uint8_t bz_not[] = {'B', 'Z', 'x'};
  static const uint8_t xz_not[] = {0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x01};
  assert_int_equal(detect_ok(bz_not, sizeof(bz_not), NULL), FORMAT_NONE);
  assert_int_equal(detect_ok(xz_not, sizeof(xz_not), NULL), FORMAT_NONE);
}

static void test_uncompressed(void **state) {
  (void)state;
  assert_int_equal(detect_ok(qcow2_head, sizeof(qcow2_head), "disk.qcow2"), FORMAT_NONE);
  assert_int_equal(detect_ok(zeros, sizeof(zeros), "disk.raw"), FORMAT_NONE);
  assert_int_equal(detect_ok(zeros, 1, NULL), FORMAT_NONE);
  /* Suffixes that merely contain a compression suffix are not one. */
  assert_int_equal(detect_ok(zeros, sizeof(zeros), "disk.xz.raw"), FORMAT_NONE);
  assert_int_equal(detect_ok(zeros, sizeof(zeros), "disk.gzip"), FORMAT_NONE);
  assert_int_equal(detect_ok(zeros, sizeof(zeros), "disk.tlz"), FORMAT_NONE);
  assert_int_equal(detect_ok(zeros, sizeof(zeros), "xz"), FORMAT_NONE);
}

static void test_suffix_rules(void **state) {
  (void)state;
  /* No magic: .zip means zip (the decoder judges the content), .lzma means LZMA_Alone. */
  static const uint8_t lzma_alone[] = {0x5D, 0x00, 0x00, 0x80, 0x00, 0xFF, 0xFF, 0xFF};
  assert_int_equal(detect_ok(lzma_alone, sizeof(lzma_alone), "disk.raw.lzma"), FORMAT_LZMA);
  assert_int_equal(detect_ok(lzma_alone, sizeof(lzma_alone), "DISK.RAW.LZMA"), FORMAT_LZMA);
  assert_int_equal(detect_ok(zeros, sizeof(zeros), "disk.zip"), FORMAT_ZIP);
  assert_int_equal(detect_ok(zeros, sizeof(zeros), "Disk.ZiP"), FORMAT_ZIP);
  static const uint8_t empty_zip[] = {'P', 'K', 0x05, 0x06, 0, 0, 0, 0};
  assert_int_equal(detect_ok(empty_zip, sizeof(empty_zip), "x.zip"), FORMAT_ZIP);
  /* Without the suffix, the same bytes are an uncompressed image. */
  assert_int_equal(detect_ok(lzma_alone, sizeof(lzma_alone), "disk.raw"), FORMAT_NONE);
  assert_int_equal(detect_ok(empty_zip, sizeof(empty_zip), "disk.raw"), FORMAT_NONE);
}

static void test_mislabelled(void **state) {
  (void)state;
  static const struct {
    const char *name;
    const char *format;
  } cases[] = {
      {"disk.raw.xz", "xz"},    {"disk.raw.XZ", "xz"},     {"disk.raw.gz", "gzip"}, {"disk.raw.Gz", "gzip"},
      {"disk.raw.zst", "zstd"}, {"disk.raw.bz2", "bzip2"}, {"disk.raw.lz", "lzip"}, {"disk.raw.LZ", "lzip"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    enum format f = FORMAT_NONE;
    lib_error err = {0};
    int r = detect_format(qcow2_head, sizeof(qcow2_head), cases[i].name, &f, &err);
    if (r != -VMPULL_E_CORRUPT)
      fail_msg("%s: returned %d (format %d), expected a corrupt error", cases[i].name, r, f);
    assert_int_equal(err.code, VMPULL_E_CORRUPT);
    /* The message names the file and what its name claims. */
    if (!strstr(err.message, cases[i].name) || !strstr(err.message, cases[i].format))
      fail_msg("%s: message lacks the name or the format: %s", cases[i].name, err.message);
  }
}

static void test_empty(void **state) {
  (void)state;
  static const char *const names[] = {"disk.raw", "disk.raw.xz", "disk.zip", "disk.lzma"};
  for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
    enum format f;
    lib_error err = {0};
    assert_int_equal(detect_format(zeros, 0, names[i], &f, &err), -VMPULL_E_CORRUPT);
    assert_non_null(strstr(err.message, names[i]));
    assert_non_null(strstr(err.message, "empty"));
  }
  enum format f;
  lib_error err = {0};
  assert_int_equal(detect_format(NULL, 0, NULL, &f, &err), -VMPULL_E_CORRUPT);
}

static void test_names_and_suffixes(void **state) {
  (void)state;
  assert_string_equal(format_name(FORMAT_NONE), "none");
  assert_string_equal(format_name(FORMAT_XZ), "xz");
  assert_string_equal(format_name(FORMAT_LZMA), "lzma");
  assert_string_equal(format_name(FORMAT_LZIP), "lzip");
  assert_string_equal(format_name(FORMAT_GZIP), "gzip");
  assert_string_equal(format_name(FORMAT_ZSTD), "zstd");
  assert_string_equal(format_name(FORMAT_BZIP2), "bzip2");
  assert_string_equal(format_name(FORMAT_ZIP), "zip");
  assert_null(format_suffix(FORMAT_NONE));
  assert_string_equal(format_suffix(FORMAT_XZ), ".xz");
  assert_string_equal(format_suffix(FORMAT_GZIP), ".gz");
  assert_string_equal(format_suffix(FORMAT_ZSTD), ".zst");
  assert_string_equal(format_suffix(FORMAT_BZIP2), ".bz2");
  assert_string_equal(format_suffix(FORMAT_ZIP), ".zip");
  assert_string_equal(format_suffix(FORMAT_LZMA), ".lzma");
  assert_string_equal(format_suffix(FORMAT_LZIP), ".lz");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_magic),        cmocka_unit_test(test_magic_exact_length),
      cmocka_unit_test(test_uncompressed),       cmocka_unit_test(test_suffix_rules),
      cmocka_unit_test(test_mislabelled),        cmocka_unit_test(test_empty),
      cmocka_unit_test(test_names_and_suffixes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
