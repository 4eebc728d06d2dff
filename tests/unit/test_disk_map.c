/* SPDX-License-Identifier: Apache-2.0 */
/* A kept disk's map and record (lib/pipeline/disk_map.c, lib/store/cache_disk.c) and the check that proves a
 * kept disk against them while copying it (lib/store/disk_copy.c): the text forms parse strictly and
 * only as written, and every kind of change to the disk is caught at the chunk where it is. */
/* cmocka.h needs these headers before it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "base/platform.h"
#include "base/util.h"
#include "pipeline/disk_map.h"
#include "store/cache.h"
#include "store/disk_copy.h"
#include "test_files.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#define MIB (1u << 20)
#define DIGEST "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define OTHER "sha256:2222222222222222222222222222222222222222222222222222222222222222"

/* 0-1 MiB data, 1-3 MiB zero, 3 MiB-3 MiB+5000 data (then zeros), 4 MiB + 100 zero bytes. */
static uint8_t *make_disk(size_t *len) {
  *len = 4 * MIB + 100;
  uint8_t *d = calloc(1, *len);
  assert_non_null(d);
  uint32_t x = 7;
  for (size_t i = 0; i < MIB; i++)
    d[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 24);
  for (size_t i = 3 * MIB; i < 3 * MIB + 5000; i++)
    d[i] = (uint8_t)(i | 1);
  return d;
}

static void map_of(const uint8_t *p, size_t len, struct disk_map *m) {
  struct disk_map_builder *b = disk_map_builder_new();
  assert_non_null(b);
  /* Block by block, each said to be zero or data, as the sink's hole scan does. */
  for (size_t off = 0; off < len; off += 4096) {
    size_t n = MIN((size_t)4096, len - off);
    disk_map_add(b, p + off, n, disk_map_is_zero(p + off, n));
  }
  assert_int_equal(disk_map_builder_finish(b, m), 0);
  disk_map_builder_free(b);
}

static void test_map_text(void **state) {
  (void)state;
  size_t len;
  uint8_t *disk = make_disk(&len);
  struct disk_map m;
  map_of(disk, len, &m);
  assert_int_equal(m.count, 5);
  static const uint8_t zeros[] = {0, 1, 1, 0, 1};
  assert_memory_equal(m.zero, zeros, 5);
  char *text = disk_map_format(&m);
  assert_non_null(text);
  assert_int_equal(strlen(text), 2 * 64 + 3);
  assert_int_equal(text[64], 'z');
  struct disk_map back;
  assert_int_equal(disk_map_parse(text, strlen(text), len, &back), 0);
  assert_int_equal(back.count, 5);
  assert_memory_equal(back.zero, m.zero, 5);
  assert_memory_equal(back.sha256, m.sha256, 5 * DISK_MAP_SHA256);
  disk_map_clear(&back);
  /* exactly one entry per chunk of that size, in the one spelling */
  assert_int_equal(disk_map_parse(text, strlen(text), len + MIB, &back), -EINVAL);
  assert_int_equal(disk_map_parse(text, strlen(text), len - 200, &back), -EINVAL);
  assert_int_equal(disk_map_parse(text, strlen(text) - 1, len, &back), -EINVAL);
  char *longer = xasprintf("%sz", text);
  assert_int_equal(disk_map_parse(longer, strlen(longer), len, &back), -EINVAL);
  free(longer);
  text[3] = 'A';
  assert_int_equal(disk_map_parse(text, strlen(text), len, &back), -EINVAL);
  text[3] = 'g';
  assert_int_equal(disk_map_parse(text, strlen(text), len, &back), -EINVAL);
  assert_null(back.zero);
  /* an empty disk has an empty map */
  assert_int_equal(disk_map_parse("", 0, 0, &back), 0);
  assert_int_equal(back.count, 0);
  disk_map_clear(&back);
  assert_int_equal(disk_map_parse("z", 1, 0, &back), -EINVAL);
  /* a huge size with a tiny text is refused before anything is allocated for it */
  assert_int_equal(disk_map_parse("z", 1, UINT64_MAX / 2, &back), -EINVAL);
  free(text);
  disk_map_clear(&m);
  free(disk);
}

static char *record_with(const char *good, const char *from, const char *to) {
  const char *at = strstr(good, from);
  assert_non_null(at);
  return xasprintf("%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
}

static void test_record(void **state) {
  (void)state;
  size_t len;
  uint8_t *disk = make_disk(&len);
  struct cache_disk d = {.format = "gzip", .image_name = "disk.raw", .fetched = 1234, .size = len};
  map_of(disk, len, &d.map);
  char *text = cache_disk_record_format(DIGEST, &d);
  assert_non_null(text);
  struct cache_disk got = {.size = UINT64_MAX};
  assert_int_equal(cache_disk_record_parse(text, strlen(text), DIGEST, len, &got), 0);
  assert_string_equal(got.format, "gzip");
  assert_string_equal(got.image_name, "disk.raw");
  assert_int_equal(got.fetched, 1234);
  assert_int_equal(got.size, len);
  assert_memory_equal(got.map.zero, d.map.zero, 5);
  assert_memory_equal(got.map.sha256, d.map.sha256, 5 * DISK_MAP_SHA256);
  cache_disk_clear(&got);
  /* tied to the digest and the disk's size */
  assert_int_equal(cache_disk_record_parse(text, strlen(text), OTHER, len, &got), -EBADMSG);
  assert_int_equal(cache_disk_record_parse(text, strlen(text), DIGEST, len + 1, &got), -EBADMSG);
  /* trailing white space is fine, anything else after the object is not */
  char *spaced = xasprintf("%s\n", text);
  assert_int_equal(cache_disk_record_parse(spaced, strlen(spaced), DIGEST, len, &got), 0);
  cache_disk_clear(&got);
  free(spaced);
  static const char *const bad[][2] = {
      {"\"chunk_size\":1048576", "\"chunk_size\":4096"},
      {"\"chunk_size\":1048576", "\"chunk_size\":1048576.0"},
      {"\"chunk_size\":1048576", "\"chunk_size\":\"1048576\""},
      {"\"chunk_size\":1048576", "\"chunk_sizes\":1048576"},
      {"\"format\":\"gzip\"", "\"format\":\"GZIP\""},
      {"\"format\":\"gzip\"", "\"format\":{\"a\":1}"},
      {"\"format\":\"gzip\"", "\"format\":null"},
      {"\"image_name\":\"disk.raw\"", "\"image_name\":\"../disk.raw\""},
      {"\"image_name\":\"disk.raw\"", "\"image_name\":\"a\\u001bb\""},
      {"\"fetched\":1234", "\"fetched\":-1"},
      {"\"fetched\":1234", "\"fetched\":1234,\"extra\":true"},
      {"\"chunks\":\"", "\"chunks\":\"z"},
      {"{", "["},
      {"}", "},{}"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    char *t = record_with(text, bad[i][0], bad[i][1]);
    if (cache_disk_record_parse(t, strlen(t), DIGEST, len, &got) != -EBADMSG)
      fail_msg("accepted: %s", t);
    assert_null(got.format);
    free(t);
  }
  /* every required member */
  static const char *const required[] = {"\"digest\":", "\"size\":", "\"chunk_size\":", "\"format\":", "\"chunks\":"};
  for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
    char *t = record_with(text, required[i], "\"x\":");
    assert_int_equal(cache_disk_record_parse(t, strlen(t), DIGEST, len, &got), -EBADMSG);
    free(t);
  }
  /* a NUL inside, and a record larger than one for this size can be */
  assert_int_equal(cache_disk_record_parse(text, strlen(text) + 1, DIGEST, len, &got), -EBADMSG);
  size_t huge = (size_t)cache_disk_record_max(len) + 1;
  char *big = malloc(huge + 1);
  assert_non_null(big);
  memset(big, ' ', huge);
  memcpy(big, text, strlen(text));
  big[huge] = '\0';
  assert_int_equal(cache_disk_record_parse(big, huge, DIGEST, len, &got), -EBADMSG);
  free(big);
  free(text);
  disk_map_clear(&d.map);
  free(disk);
}

struct files {
  char dir[64];
  int in, out;
};

static void write_disk(struct files *f, const uint8_t *disk, size_t len) {
  snprintf(f->dir, sizeof(f->dir), "/tmp/vmpull-unit-map-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  char path[128];
  snprintf(path, sizeof(path), "%s/kept", f->dir);
  f->in = plat_openat(AT_FDCWD, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  snprintf(path, sizeof(path), "%s/out", f->dir);
  f->out = plat_openat(AT_FDCWD, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  assert_true(f->in >= 0 && f->out >= 0);
  /* sparse, as the sink and the cache leave it: only blocks with data written */
  for (size_t off = 0; off < len; off += 4096) {
    size_t n = MIN((size_t)4096, len - off);
    if (!disk_map_is_zero(disk + off, n))
      assert_int_equal(pwrite_all(f->in, disk + off, n, off), 0);
  }
  assert_int_equal(plat_ftruncate(f->in, len), 0);
}

static void files_done(struct files *f) {
  close(f->in);
  close(f->out);
  assert_int_equal(test_rm_rf(f->dir), 0);
}

static void expect_bad(const uint8_t *disk, size_t len, const struct disk_map *m, uint64_t at, const void *bytes,
                       size_t n, uint64_t want_bad) {
  struct files f;
  write_disk(&f, disk, len);
  if (bytes)
    assert_int_equal(pwrite_all(f.in, bytes, n, at), 0);
  else
    assert_int_equal(plat_ftruncate(f.in, at), 0);
  uint64_t bad = 0;
  assert_int_equal(disk_copy_checked(f.in, f.out, m, NULL, NULL, &bad), 1);
  assert_int_equal(bad, want_bad);
  assert_int_equal(disk_copy_checked(f.in, -1, m, NULL, NULL, &bad), 1);
  assert_int_equal(bad, want_bad);
  files_done(&f);
}

static int stop_at_2mib(void *data, uint64_t done) {
  (void)data;
  return done >= 2 * MIB ? -ECANCELED : 0;
}

static void test_checked_copy(void **state) {
  (void)state;
  size_t len;
  uint8_t *disk = make_disk(&len);
  struct disk_map m;
  map_of(disk, len, &m);
  /* the good disk is copied, holes stay holes */
  struct files f;
  write_disk(&f, disk, len);
  uint64_t bad = 0;
  assert_int_equal(disk_copy_checked(f.in, f.out, &m, NULL, NULL, &bad), 0);
  assert_int_equal(plat_ftruncate(f.out, len), 0);
  uint8_t *copy = malloc(len);
  assert_non_null(copy);
  assert_int_equal(plat_pread(f.out, copy, len, 0), (ssize_t)len);
  assert_memory_equal(copy, disk, len);
  free(copy);
  struct stat st;
  assert_int_equal(fstat(f.out, &st), 0);
#ifndef _WIN32
  assert_true(plat_allocated_bytes(f.out, &st) <= MIB + 2 * 4096 + 64 * 1024);
#else
  /* wine makes no holes (FSCTL_SET_ZERO_DATA, allocated ranges): the copy is whole there. */
  print_message("holes not checked on Windows (a real Windows machine: README, Windows)\n");
#endif
  assert_int_equal(disk_copy_checked(f.in, -1, &m, stop_at_2mib, NULL, &bad), -ECANCELED);
  files_done(&f);
  /* changed bytes in a data chunk, a data chunk made zero, data zeroed at the end of a data run,
   * data in a zero chunk (a hole), in the short last chunk, a disk cut short */
  expect_bad(disk, len, &m, 4096, "x", 1, 0);
  static uint8_t zeros[MIB];
  expect_bad(disk, len, &m, 0, zeros, MIB, 0);
  expect_bad(disk, len, &m, 3 * MIB + 4000, zeros, 1000, 3 * MIB);
  expect_bad(disk, len, &m, 2 * MIB + 17, "\1", 1, 2 * MIB);
  expect_bad(disk, len, &m, 4 * MIB + 99, "\1", 1, 4 * MIB);
  expect_bad(disk, len, &m, 3 * MIB + 100, NULL, 0, 3 * MIB);
  disk_map_clear(&m);
  free(disk);
}

static void test_zeros_written_in_a_zero_chunk_are_fine(void **state) {
  (void)state;
  size_t len;
  uint8_t *disk = make_disk(&len);
  struct disk_map m;
  map_of(disk, len, &m);
  struct files f;
  write_disk(&f, disk, len);
  static uint8_t zeros[MIB];
  assert_int_equal(pwrite_all(f.in, zeros, MIB, MIB), 0); /* allocated, all zero */
  uint64_t bad = 0;
  assert_int_equal(disk_copy_checked(f.in, -1, &m, NULL, NULL, &bad), 0);
  files_done(&f);
  disk_map_clear(&m);
  free(disk);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_map_text),
      cmocka_unit_test(test_record),
      cmocka_unit_test(test_checked_copy),
      cmocka_unit_test(test_zeros_written_in_a_zero_chunk_are_fine),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
