/* SPDX-License-Identifier: Apache-2.0 */
/* The recording source (lib/pipeline/record_source.c): the bytes read pass on unchanged and land in
 * the recording file from the offset given; a failed write is the read's error, or with a callback
 * one call and the bytes still pass. */
/* cmocka.h needs these headers before it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "base/error.h"
#include "base/util.h"
#include "pipeline/record_source.h"
#include "test_files.h"

#include <fcntl.h>
#include <unistd.h>

#define LEN 200000

static uint8_t data[LEN];

static struct byte_source *data_source(void) {
  for (size_t i = 0; i < LEN; i++)
    data[i] = (uint8_t)(i * 7 + i / 251);
  int fd = test_anon_file("data");
  assert_true(fd >= 0);
  assert_int_equal(pwrite_all(fd, data, LEN, 0), 0);
  struct byte_source *s = NULL;
  lib_error err = {0};
  assert_int_equal(source_file_from_fd(fd, "data", LEN, &s, &err), 0);
  return s;
}

/* Read everything through s in odd-sized pieces; returns the error code of the first failure or 0. */
static int read_all(struct byte_source *s, uint8_t *out, size_t *total) {
  *total = 0;
  for (;;) {
    size_t got = 0;
    lib_error err = {0};
    int r = source_read(s, out + *total, MIN((size_t)4099, LEN - *total + 1), &got, &err);
    if (r < 0)
      return err.code;
    if (!got)
      return 0;
    *total += got;
  }
}

static void test_records_from_offset(void **state) {
  (void)state;
  int fd = test_anon_file("entry");
  assert_true(fd >= 0);
  assert_int_equal(pwrite_all(fd, "head:", 5, 0), 0); /* what an interrupted download left */
  struct byte_source *s = NULL;
  lib_error err = {0};
  struct record_options o = {.fd = fd, .offset = 5};
  assert_int_equal(record_source_new(data_source(), &o, &s, &err), 0);
  assert_int_equal(s->size, LEN);
  static uint8_t got[LEN + 1];
  size_t total = 0;
  assert_int_equal(read_all(s, got, &total), 0);
  assert_int_equal(total, LEN);
  assert_memory_equal(got, data, LEN);
  source_free(s);
  static uint8_t entry[LEN + 5];
  assert_int_equal(plat_pread(fd, entry, sizeof(entry), 0), LEN + 5);
  assert_memory_equal(entry, "head:", 5);
  assert_memory_equal(entry + 5, data, LEN);
  close(fd);
}

struct failure {
  int calls;
  int errnum;
};

static void failed(void *data_, int errnum) {
  struct failure *f = data_;
  f->calls++;
  f->errnum = errnum;
}

static void test_failed_write_costs_the_copy_not_the_read(void **state) {
  (void)state;
  int fd = open(TEST_DEV_NULL, O_RDONLY | O_CLOEXEC); /* pwrite: EBADF */
  assert_true(fd >= 0);
  struct failure f = {0};
  struct record_options o = {.fd = fd, .failed = failed, .failed_data = &f};
  struct byte_source *s = NULL;
  lib_error err = {0};
  assert_int_equal(record_source_new(data_source(), &o, &s, &err), 0);
  static uint8_t got[LEN + 1];
  size_t total = 0;
  assert_int_equal(read_all(s, got, &total), 0);
  assert_int_equal(total, LEN);
  assert_memory_equal(got, data, LEN);
  assert_int_equal(f.calls, 1);
  assert_int_equal(f.errnum, EBADF);
  source_free(s);
  close(fd);
}

static void test_failed_write_without_callback_fails_the_read(void **state) {
  (void)state;
  int fd = open(TEST_DEV_NULL, O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  struct record_options o = {.fd = fd};
  struct byte_source *s = NULL;
  lib_error err = {0};
  assert_int_equal(record_source_new(data_source(), &o, &s, &err), 0);
  static uint8_t got[LEN + 1];
  size_t total = 0;
  assert_int_equal(read_all(s, got, &total), VMPULL_E_IO);
  source_free(s);
  close(fd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_records_from_offset),
      cmocka_unit_test(test_failed_write_costs_the_copy_not_the_read),
      cmocka_unit_test(test_failed_write_without_callback_fails_the_read),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
