/* SPDX-License-Identifier: Apache-2.0 */
/* The bmap builder (lib/pipeline/bmap.c) and the raw check of the device mode
 * (lib/pipeline/sink_device.c): ranges join across the sink's runs and buffers, a hole ends one,
 * the disk's short tail belongs to the last block, each range's checksum is over the bytes given,
 * and BmapFileChecksum is bmaptool's (the file's sha256 with zeros in its place). bmaptool itself
 * reads what this writes in tests/cli/test_bmap.py. */
/* cmocka.h needs these headers before it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "base/digest.h"
#include "pipeline/bmap.h"
#include "pipeline/sink_device.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

static void sha256_hex(const uint8_t *p, size_t len, char out[65]) {
  uint8_t d[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  assert_int_equal(EVP_Digest(p, len, d, &n, EVP_sha256(), NULL), 1);
  hex_lower_format(d, n, out);
}

static void assert_has(const char *text, const char *want) {
  if (!strstr(text, want))
    fail_msg("missing \"%s\" in:\n%s", want, text);
}

static void assert_file_checksum(char *text, size_t len) {
  const char *tag = "<BmapFileChecksum> ";
  char *field = strstr(text, tag);
  assert_non_null(field);
  field += strlen(tag);
  char stored[65];
  memcpy(stored, field, 64);
  stored[64] = '\0';
  memset(field, '0', 64);
  char computed[65];
  sha256_hex((const uint8_t *)text, len, computed);
  assert_string_equal(computed, stored);
}

static void test_ranges_and_checksums(void **state) {
  (void)state;
  /* blocks 0-1 data (given as two runs), 2 a hole, 3 data, then a 100-byte data tail (block 4),
   * 5-6 holes, 7 data, 8 a hole ending short */
  size_t len = 8 * BMAP_BLOCK + 100 + 50;
  uint8_t *disk = calloc(1, len);
  assert_non_null(disk);
  for (size_t i = 0; i < 2 * BMAP_BLOCK; i++)
    disk[i] = (uint8_t)(i * 7 + 1);
  memset(disk + 3 * BMAP_BLOCK, 0xAB, BMAP_BLOCK + 100);
  memset(disk + 7 * BMAP_BLOCK + 100, 0xCD, 10);
  struct bmap_builder *b = bmap_builder_new();
  assert_non_null(b);
  bmap_add(b, disk, BMAP_BLOCK, 0);
  bmap_add(b, disk + BMAP_BLOCK, BMAP_BLOCK, 0);
  bmap_add(b, disk + 2 * BMAP_BLOCK, BMAP_BLOCK, 1);
  bmap_add(b, disk + 3 * BMAP_BLOCK, BMAP_BLOCK + 100, 0);
  bmap_add(b, disk + 4 * BMAP_BLOCK + 100, 3 * BMAP_BLOCK - 100, 1);
  bmap_add(b, disk + 7 * BMAP_BLOCK, BMAP_BLOCK, 0);
  bmap_add(b, disk + 8 * BMAP_BLOCK, 150, 1);
  size_t text_len = 0;
  char *text = bmap_builder_finish(b, &text_len);
  assert_non_null(text);
  assert_int_equal(strlen(text), text_len);
  char line[200], hex[65];
  snprintf(line, sizeof(line), "<ImageSize> %zu </ImageSize>", len);
  assert_has(text, line);
  assert_has(text, "<BlockSize> 4096 </BlockSize>");
  assert_has(text, "<BlocksCount> 9 </BlocksCount>");
  assert_has(text, "<MappedBlocksCount> 5 </MappedBlocksCount>");
  assert_has(text, "<ChecksumType> sha256 </ChecksumType>");
  assert_has(text, "<bmap version=\"2.0\">");
  sha256_hex(disk, 2 * BMAP_BLOCK, hex);
  snprintf(line, sizeof(line), "<Range chksum=\"%s\"> 0-1 </Range>", hex);
  assert_has(text, line);
  /* block 4 was partly zeros after its 100 bytes: the hole run that follows it starts mid-block,
   * so the range is blocks 3-4 over exactly the data bytes given */
  sha256_hex(disk + 3 * BMAP_BLOCK, BMAP_BLOCK + 100, hex);
  snprintf(line, sizeof(line), "<Range chksum=\"%s\"> 3-4 </Range>", hex);
  assert_has(text, line);
  sha256_hex(disk + 7 * BMAP_BLOCK, BMAP_BLOCK, hex);
  snprintf(line, sizeof(line), "<Range chksum=\"%s\"> 7 </Range>", hex);
  assert_has(text, line);
  /* XML comments may not hold two dashes: only their own delimiters do */
  size_t dashes = 0, delimiters = 0;
  for (const char *p = text; (p = strstr(p, "--")); p += 2)
    dashes++;
  for (const char *p = text; (p = strstr(p, "<!--")); p += 4)
    delimiters++;
  for (const char *p = text; (p = strstr(p, "-->")); p += 3)
    delimiters++;
  assert_true(delimiters > 0);
  assert_int_equal(dashes, delimiters);
  assert_file_checksum(text, text_len);
  free(text);
  bmap_builder_free(b);
  free(disk);
}

static void test_an_empty_or_all_zero_disk(void **state) {
  (void)state;
  static const uint8_t zeros[3 * BMAP_BLOCK];
  struct bmap_builder *b = bmap_builder_new();
  bmap_add(b, zeros, sizeof(zeros), 1);
  size_t len = 0;
  char *text = bmap_builder_finish(b, &len);
  assert_non_null(text);
  assert_has(text, "<BlocksCount> 3 </BlocksCount>");
  assert_has(text, "<MappedBlocksCount> 0 </MappedBlocksCount>");
  assert_null(strstr(text, "<Range"));
  assert_file_checksum(text, len);
  free(text);
  bmap_builder_free(b);
}

static void test_other_disk_formats_by_magic(void **state) {
  (void)state;
  uint8_t head[512] = {0};
  assert_null(disk_format_not_raw(head, sizeof(head)));
  head[510] = 0x55, head[511] = 0xAA; /* an MBR is a raw disk's */
  assert_null(disk_format_not_raw(head, sizeof(head)));
  static const struct {
    const char *magic;
    size_t len, at;
    const char *name;
  } cases[] = {
      {"QFI\xfb\0\0\0\x03", 8, 0, "qcow2"},
      {"QFI\xfb\0\0\0\x01", 8, 0, "qcow"},
      {"vhdxfile", 8, 0, "vhdx"},
      {"KDMV", 4, 0, "vmdk"},
      {"# Disk DescriptorFile", 21, 0, "vmdk"},
      {"conectix", 8, 0, "vhd (dynamic)"},
      {"\x7f\x10\xda\xbe", 4, 0x40, "vdi"},
      {"QED\0", 4, 0, "qed"},
      {"WithoutFreeSpace", 16, 0, "parallels"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint8_t h[512] = {0};
    memcpy(h + cases[i].at, cases[i].magic, cases[i].len);
    const char *got = disk_format_not_raw(h, sizeof(h));
    assert_non_null(got);
    assert_string_equal(got, cases[i].name);
    /* too short to hold the magic: not taken for it */
    assert_null(disk_format_not_raw(h, cases[i].at + 2));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ranges_and_checksums),
      cmocka_unit_test(test_an_empty_or_all_zero_disk),
      cmocka_unit_test(test_other_disk_formats_by_magic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
