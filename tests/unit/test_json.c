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

/* want: the duplicate key json_duplicate_key must name, or NULL for none. The document must also be
 * one json_parse_strict accepts (the checker's precondition). */
static void expect_duplicate(const char *doc, const char *want) {
  json_object *o = NULL;
  const char *why;
  assert_int_equal(json_parse_strict(doc, strlen(doc), NULL, &o, &why), JSON_PARSE_OK);
  json_object_put(o);
  char *key = NULL;
  assert_int_equal(json_duplicate_key(doc, strlen(doc), &key), want ? 1 : 0);
  if (want)
    assert_string_equal(key, want);
  else
    assert_null(key);
  free(key);
}

static void test_duplicate_keys(void **state) {
  (void)state;
  expect_duplicate("{}", NULL);
  expect_duplicate("[1, \"a\", {\"a\": 1, \"b\": 2}]", NULL);
  expect_duplicate("{\"a\": 1, \"a\": 2}", "a");
  expect_duplicate("{\"a\": {\"b\": 1}, \"c\": {\"b\": 2}}", NULL); /* one per object */
  expect_duplicate("{\"a\": [{\"x\": 1}, {\"y\": [{\"z\": 1, \"z\": 1}]}]}", "z");
  expect_duplicate("[{\"k\": 1}, {\"k\": 2, \"j\": 3, \"k\": 4}]", "k");
  /* the same key spelled with an escape */
  expect_duplicate("{\"type\": 1, \"typ\\u0065\": 2}", "type");
  /* strings that look like structure, as keys and as values */
  expect_duplicate("{\"a\\\"}{,\": \"{\\\"a\\\": 1, \\\"a\\\": 2}\", \"b\": \"a\"}", NULL);
  expect_duplicate("{\"x\": \"a\", \"y\": [\"x\", \"x\"], \"z\": {\"x\": \"}\", \"x\\\\\": 1}}", NULL);
  expect_duplicate("{\"a\\\\\": 1, \"b\": {}, \"a\\\\\": 2}", "a\\");
  /* keys json-c would collapse: they differ only after an escaped NUL */
  expect_duplicate("{\"a\\u0000b\": 1, \"a\\u0000c\": 2}", "a");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_members),
      cmocka_unit_test(test_duplicate_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
