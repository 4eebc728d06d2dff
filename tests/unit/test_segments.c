/* SPDX-License-Identifier: Apache-2.0 */
/* The pure parts of segmented downloads: the pieces a file is cut into (lib/net/http_segments.c),
 * what a record's extents say is there, and the strict reading of a partial's "segments" member
 * (lib/store/cache.c) that a resume trusts. */
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

#include "net/http_segments.h"
#include "store/cache.h"

#define MiB (1ull << 20)

static void test_piece_size(void **state) {
  (void)state;
  assert_int_equal(http_segments_piece_size(1), 4 * MiB);
  assert_int_equal(http_segments_piece_size(100 * MiB), 4 * MiB);
  assert_int_equal(http_segments_piece_size(245 * MiB), 8 * MiB);
  assert_int_equal(http_segments_piece_size(64ull << 30), 16 * MiB);
  /* small files never split: two pieces at least */
  assert_false(http_segments_worth(8 * MiB - 1));
  assert_true(http_segments_worth(8 * MiB));
  assert_false(http_segments_worth(UINT64_MAX));
}

static void test_prefix_and_marks(void **state) {
  (void)state;
  const struct seg_extent e[] = {{8, 12}, {0, 4}, {4, 6}, {20, 30}};
  assert_int_equal(seg_prefix_of(e, 4, 0), 6);
  assert_int_equal(seg_prefix_of(e, 4, 6), 6);
  assert_int_equal(seg_prefix_of(e, 4, 9), 12);
  assert_int_equal(seg_prefix_of(NULL, 0, 5), 5);
  /* a piece counts only its bytes from its start */
  assert_int_equal(seg_piece_mark(e, 4, 8, 16), 12);
  assert_int_equal(seg_piece_mark(e, 4, 16, 24), 16);
  assert_int_equal(seg_piece_mark(e, 4, 20, 24), 24);
  assert_int_equal(seg_piece_mark(e, 4, 0, 4), 4);
}

static void test_extents_parse(void **state) {
  (void)state;
  struct cache_extent *e = NULL;
  size_t n = 0;
  const char *good = "[[0,4194304],[8388608,9000000],[12582912,16777216]]";
  assert_int_equal(cache_extents_parse(good, strlen(good), 16777216, &e, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(e[1].start, 8388608);
  assert_int_equal(e[1].end, 9000000);
  free(e);
  assert_int_equal(cache_extents_parse("[]", 2, 10, &e, &n), 0);
  assert_int_equal(n, 0);
  free(e);
  static const char *const bad[] = {
      "{}",            /* not a list */
      "[[0]]",         /* not a pair */
      "[[0,1,2]]",     /* nor this */
      "[[4,4]]",       /* empty */
      "[[5,4]]",       /* backwards */
      "[[0,11]]",      /* past the end */
      "[[-1,4]]",      /* negative */
      "[[0,4],[4,8]]", /* not apart: the writer merges */
      "[[4,8],[0,2]]", /* not ascending */
      "[[0,\"4\"]]",   /* a string */
      "[[0,4.5]]",     /* a fraction */
      "[[0,4]",        /* not JSON */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    e = (struct cache_extent *)1;
    assert_int_equal(cache_extents_parse(bad[i], strlen(bad[i]), 10, &e, &n), -EBADMSG);
    assert_null(e);
    assert_int_equal(n, 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_piece_size),
      cmocka_unit_test(test_prefix_and_marks),
      cmocka_unit_test(test_extents_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
