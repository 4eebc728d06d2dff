/* SPDX-License-Identifier: Apache-2.0 */
/* The error model (lib/base/error.c): the one cleaning of outside text, and long messages cut in the middle. */
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

#include "base/error.h"
#include "base/hooks.h"
#include "base/util.h"

#include <errno.h>

static void assert_cleaned(const char *in, const char *want) {
  char out[256];
  size_t need = text_clean(out, sizeof(out), in, strlen(in));
  assert_string_equal(out, want);
  assert_int_equal(need, strlen(want));
  /* Clean text stays as it is. */
  char again[256];
  text_clean(again, sizeof(again), out, strlen(out));
  assert_string_equal(again, want);
  assert_int_equal(text_needs_clean(in), strcmp(in, want) != 0);
}

static void test_clean_c0_and_del(void **state) {
  (void)state;
  assert_cleaned("plain text: 1/2 (ok) \\ backslash", "plain text: 1/2 (ok) \\ backslash");
  assert_cleaned("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m");
  assert_cleaned("two\nlines\r\n", "two\\x0alines\\x0d\\x0a");
  assert_cleaned("\x01\x09\x1f", "\\x01\\x09\\x1f");
  assert_cleaned("del\x7f", "del\\x7f");
  /* A NUL inside counted text is one more control byte. */
  char out[32];
  text_clean(out, sizeof(out), "a\0b", 3);
  assert_string_equal(out, "a\\x00b");
}

static void test_clean_c1_as_utf8(void **state) {
  (void)state;
  /* U+009B is CSI: a terminal takes it for ESC [. One escape per byte. */
  assert_cleaned("\xc2\x9b"
                 "31m",
                 "\\xc2\\x9b31m");
  assert_cleaned("\xc2\x80\xc2\x9f", "\\xc2\\x80\\xc2\\x9f");
  /* U+00A0 and above are text. */
  assert_cleaned("\xc2\xa0\xc2\xbf", "\xc2\xa0\xc2\xbf");
}

static void test_clean_invalid_utf8(void **state) {
  (void)state;
  assert_cleaned("\xff\xfe", "\\xff\\xfe");
  assert_cleaned("a\x80z", "a\\x80z");                        /* stray continuation byte */
  assert_cleaned("\xc0\xaf", "\\xc0\\xaf");                   /* overlong '/' */
  assert_cleaned("\xc1\xbf", "\\xc1\\xbf");                   /* overlong, 2 bytes */
  assert_cleaned("\xe0\x80\xaf", "\\xe0\\x80\\xaf");          /* overlong, 3 bytes */
  assert_cleaned("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf"); /* overlong, 4 bytes */
  assert_cleaned("\xed\xa0\x80", "\\xed\\xa0\\x80");          /* a UTF-16 surrogate */
  assert_cleaned("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* above U+10FFFF */
  assert_cleaned("\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80");
  assert_cleaned("\xe2\x82", "\\xe2\\x82"); /* truncated at the end */
  assert_cleaned("\xe2\x82"
                 "A",
                 "\\xe2\\x82A"); /* truncated by an ASCII byte */
  assert_cleaned("\xf0\x9f\x98", "\\xf0\\x9f\\x98");
  assert_cleaned("\xf0\x9f\x98\x0a", "\\xf0\\x9f\\x98\\x0a");
}

static void test_clean_keeps_valid_text(void **state) {
  (void)state;
  static const char *const kept[] = {
      "caf\xc3\xa9",              /* é */
      "\xe2\x82\xac 5",           /* € */
      "\xf0\x9f\x98\x80",         /* U+1F600 */
      "\xef\xbf\xbf",             /* U+FFFF */
      "\xf4\x8f\xbf\xbf",         /* U+10FFFF, the last one */
      "\xe0\xa0\x80\xed\x9f\xbf", /* U+0800 and U+D7FF, either side of the edges */
      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
  };
  for (size_t i = 0; i < ARRAY_SIZE(kept); i++)
    assert_cleaned(kept[i], kept[i]);
}

static void test_clean_never_cuts_a_unit(void **state) {
  (void)state;
  char out[8];
  /* Like snprintf: the whole length comes back, what fits is written, an escape is never split. */
  assert_int_equal(text_clean(out, 3, "\x1b", 1), 4);
  assert_string_equal(out, "");
  assert_int_equal(text_clean(out, 5, "a\x1b", 2), 5);
  assert_string_equal(out, "a");
  assert_int_equal(text_clean(out, 6, "a\x1b", 2), 5);
  assert_string_equal(out, "a\\x1b");
  assert_int_equal(text_clean(out, 3, "a\xe2\x82\xac", 4), 4);
  assert_string_equal(out, "a");
  char *dup = text_clean_dup("x\ny");
  assert_string_equal(dup, "x\\x0ay");
  free(dup);
  char *s = strdup("\x1b]0;title\x07");
  assert_int_equal(text_clean_in_place(&s), 0);
  assert_string_equal(s, "\\x1b]0;title\\x07");
  free(s);
}

/* Every "\" of a message starts a whole escape (the cut never splits one). */
static void assert_whole_escapes(const char *m) {
  for (const char *p = strchr(m, '\\'); p; p = strchr(p + 1, '\\'))
    assert_true(p[1] == 'x' && strchr("0123456789abcdef", p[2]) && strchr("0123456789abcdef", p[3]));
}

static void test_messages_are_cleaned(void **state) {
  (void)state;
  lib_error err;
  /* What a registry's error JSON said, formatted into a message. */
  assert_int_equal(error_set(&err, VMPULL_E_HTTP, "registry says: %s", "denied\n\x1b[2Jvmpull: fake line"),
                   -VMPULL_E_HTTP);
  assert_int_equal(err.code, VMPULL_E_HTTP);
  assert_string_equal(err.message, "registry says: denied\\x0a\\x1b[2Jvmpull: fake line");
  assert_int_equal(error_wrap(&err, "pull %s", "docker://h/\xc2\x9bx"), -VMPULL_E_HTTP);
  assert_string_equal(err.message, "pull docker://h/\\xc2\\x9bx: registry says: denied\\x0a\\x1b[2Jvmpull: fake line");
  /* What the registry's error JSON said, appended to a status line. */
  error_set(&err, VMPULL_E_NOT_FOUND, "HTTP 404");
  assert_int_equal(error_append(&err, ": %s", "gone\x1b[31m\n\xff"), -VMPULL_E_NOT_FOUND);
  assert_string_equal(err.message, "HTTP 404: gone\\x1b[31m\\x0a\\xff");
  error_set_errno(&err, VMPULL_E_IO, ENOENT, "open %s", "a\tb");
  assert_string_equal(err.message, "open a\\x09b: No such file or directory");
}

static void test_long_message_loses_its_middle(void **state) {
  (void)state;
  lib_error err;
  _cleanup_free_ char *middle = malloc(5000);
  memset(middle, 'm', 4999);
  middle[4999] = '\0';
  error_set(&err, VMPULL_E_CORRUPT, "START %s the reason", middle);
  assert_int_equal(strlen(err.message), VMPULL_ERROR_MAX - 1);
  assert_true(starts_with(err.message, "START mmm"));
  assert_true(strlen(err.message) > 20 &&
              strcmp(err.message + strlen(err.message) - strlen("mmm the reason"), "mmm the reason") == 0);
  assert_non_null(strstr(err.message, "m...m"));

  /* Wrapping a full message keeps the new context in front and the reason at the end. */
  error_wrap(&err, "pull %s", "source");
  assert_true(starts_with(err.message, "pull source: START mmm"));
  assert_true(strcmp(err.message + strlen(err.message) - strlen(" the reason"), " the reason") == 0);
  assert_int_equal(strlen(err.message), VMPULL_ERROR_MAX - 1);

  /* strerror is the reason: it survives a long path. */
  error_set_errno(&err, VMPULL_E_IO, ENOSPC, "write %s", middle);
  assert_true(strcmp(err.message + strlen(err.message) - strlen(": No space left on device"),
                     ": No space left on device") == 0);

  /* The cut falls between escapes and characters, never inside one. */
  for (size_t shift = 0; shift < 4; shift++) {
    _cleanup_free_ char *hostile = malloc(3000);
    memset(hostile, 'a', shift);
    for (size_t i = shift; i < 2999; i++)
      hostile[i] = i % 2 ? '\x1b' : '\xc3';
    hostile[2999] = '\0';
    error_set(&err, VMPULL_E_HTTP, "%s", hostile);
    assert_true(strlen(err.message) <= VMPULL_ERROR_MAX - 1);
    assert_non_null(strstr(err.message, "..."));
    assert_whole_escapes(err.message);
    assert_int_equal(text_needs_clean(err.message), 0);
  }
}

static void on_warning(const char *message, void *userdata) {
  snprintf(userdata, 256, "%s", message);
}

static void test_warnings_are_cleaned(void **state) {
  (void)state;
  char got[256] = "";
  warning_send(on_warning, got, "mirror %s: %s", "m\x1b", "down\n");
  assert_string_equal(got, "mirror m\\x1b: down\\x0a");
  warning_send(NULL, NULL, "nobody listens");
}

struct log_seen {
  int level;
  char line[256];
};

static void on_log(int level, const char *message, void *userdata) {
  struct log_seen *seen = userdata;
  seen->level = level;
  snprintf(seen->line, sizeof(seen->line), "%s", message);
}

/* Log lines are cleaned like warnings and keep their level. Without a callback (or without hooks)
 * nothing is even formatted: the argument below would crash vsnprintf if it were. */
static void test_log_lines(void **state) {
  (void)state;
  struct log_seen seen = {.level = -1};
  struct call_hooks h = {.log = on_log, .log_data = &seen};
  hooks_log(&h, VMPULL_LOG_INFO, "fetch %s: %s", "u\x1b", "cached\n");
  assert_int_equal(seen.level, VMPULL_LOG_INFO);
  assert_string_equal(seen.line, "fetch u\\x1b: cached\\x0a");
  assert_true(hooks_logging(&h));

  const char *never_read = (const char *)(uintptr_t)1;
  struct call_hooks none = {0};
  assert_false(hooks_logging(&none));
  hooks_log(&none, VMPULL_LOG_DEBUG, "%s", never_read);
  hooks_log(NULL, VMPULL_LOG_DEBUG, "%s", never_read);
  log_send(NULL, NULL, VMPULL_LOG_DEBUG, "%s", never_read);
}

/* errno, HTTP status and curl code stay apart from the message: a wrap keeps them (same cause), a
 * new error forgets them, and the public error gets code and message only. */
static void test_details_apart_from_message(void **state) {
  (void)state;
  lib_error e = {0};
  assert_int_equal(error_set_errno(&e, VMPULL_E_IO, ENOSPC, "write %s", "disk.raw"), -VMPULL_E_IO);
  assert_int_equal(e.sys_errno, ENOSPC);
  error_note_http(&e, 503);
  error_note_curl(&e, 28);
  error_wrap(&e, "pull %s", "x");
  assert_int_equal(e.sys_errno, ENOSPC);
  assert_int_equal(e.http_status, 503);
  assert_int_equal(e.curl_code, 28);
  assert_non_null(strstr(e.message, "pull x: write disk.raw: "));
  vmpull_error pub;
  memset(&pub, 0x55, sizeof(pub));
  error_export(&e, &pub);
  assert_int_equal(pub.code, VMPULL_E_IO);
  assert_string_equal(pub.message, e.message);
  error_export(&e, NULL);
  error_set(&e, VMPULL_E_HTTP, "other");
  assert_int_equal(e.sys_errno, 0);
  assert_int_equal(e.http_status, 0);
  assert_int_equal(e.curl_code, 0);
  error_note_errno(&e, EIO);
  error_clear(&e);
  assert_int_equal(e.code, VMPULL_OK);
  assert_int_equal(e.sys_errno, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_clean_c0_and_del),
      cmocka_unit_test(test_clean_c1_as_utf8),
      cmocka_unit_test(test_clean_invalid_utf8),
      cmocka_unit_test(test_clean_keeps_valid_text),
      cmocka_unit_test(test_clean_never_cuts_a_unit),
      cmocka_unit_test(test_messages_are_cleaned),
      cmocka_unit_test(test_long_message_loses_its_middle),
      cmocka_unit_test(test_warnings_are_cleaned),
      cmocka_unit_test(test_details_apart_from_message),
      cmocka_unit_test(test_log_lines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
