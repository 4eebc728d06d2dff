/* SPDX-License-Identifier: Apache-2.0 */
/* The one strict JSON parse (lib/base/json_util.c) and its member getters. */
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

#include "base/json_util.h"

static void expect_parse(const char *in, size_t len, const struct json_parse_limits *lim, enum json_parse_status want,
                         const char *why) {
  json_object *o = NULL;
  const char *got_why = NULL;
  assert_int_equal(json_parse_strict(in, len, lim, &o, &got_why), want);
  if (want == JSON_PARSE_OK) {
    assert_non_null(o);
    json_object_put(o);
  } else {
    assert_null(o);
    if (why)
      assert_string_equal(got_why, why);
  }
}

static void test_parse(void **state) {
  (void)state;
  expect_parse("{\"a\":1}", strlen("{\"a\":1}"), NULL, JSON_PARSE_OK, NULL);
  expect_parse(" \n{\"a\":[1,2]}\r\n\t ", strlen(" \n{\"a\":[1,2]}\r\n\t "), NULL, JSON_PARSE_OK, NULL);
  expect_parse("{\"a\":1} x", strlen("{\"a\":1} x"), NULL, JSON_PARSE_INVALID, "data after the document");
  expect_parse("{\"a\":1}{}", strlen("{\"a\":1}{}"), NULL, JSON_PARSE_INVALID, "data after the document");
  expect_parse("{\"a\":1", strlen("{\"a\":1"), NULL, JSON_PARSE_INVALID, "unexpected end of document");
  expect_parse("", strlen(""), NULL, JSON_PARSE_INVALID, "unexpected end of document");
  expect_parse("{\"a\":1,}", strlen("{\"a\":1,}"), NULL, JSON_PARSE_INVALID, NULL);
  expect_parse("{\"a\":\"b\0\"}", 10, NULL, JSON_PARSE_INVALID, "contains a NUL byte");
  struct json_parse_limits small = {.max_len = 8};
  expect_parse("{\"a\":1}", strlen("{\"a\":1}"), &small, JSON_PARSE_OK, NULL);
  expect_parse("{\"abc\":1}", strlen("{\"abc\":1}"), &small, JSON_PARSE_TOO_LARGE, NULL);
  struct json_parse_limits shallow = {.max_depth = 3};
  expect_parse("[[1]]", strlen("[[1]]"), &shallow, JSON_PARSE_OK, NULL);
  expect_parse("[[[1]]]", strlen("[[[1]]]"), &shallow, JSON_PARSE_INVALID, NULL);
  struct json_parse_limits secret = {.flags = JSON_PARSE_SECRET};
  expect_parse("{\"auth\":\"c2VjcmV0\"}", strlen("{\"auth\":\"c2VjcmV0\"}"), &secret, JSON_PARSE_OK, NULL);
  expect_parse("{\"auth\":\"c2VjcmV0\"", strlen("{\"auth\":\"c2VjcmV0\""), &secret, JSON_PARSE_INVALID, NULL);
}

static void test_members(void **state) {
  (void)state;
  json_object *o = NULL;
  const char *why;
  const char *doc = "{\"s\":\"x\",\"n\":5,\"neg\":-1,\"o\":{}}";
  assert_int_equal(json_parse_strict(doc, strlen(doc), NULL, &o, &why), JSON_PARSE_OK);
  assert_string_equal(json_member_string(o, "s"), "x");
  assert_null(json_member_string(o, "n"));
  assert_null(json_member_string(o, "missing"));
  assert_null(json_member_string(json_member(o, "s"), "s"));
  assert_null(json_member(NULL, "s"));
  assert_int_equal(json_member_u64(o, "n"), 5);
  assert_true(json_member_u64(o, "neg") == UINT64_MAX);
  assert_true(json_member_u64(o, "s") == UINT64_MAX);
  char *dup = json_member_strdup(o, "s");
  assert_string_equal(dup, "x");
  free(dup);
  assert_non_null(json_member(o, "o"));
  json_object_put(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_members),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
