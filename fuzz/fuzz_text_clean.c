/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one cleaning of outside text (lib/base/error.c) and the error model around it: any bytes, as a
 * message argument, a wrapped context and a warning. Whatever comes out is valid UTF-8 with no C0,
 * DEL or C1 control, cleaning it again changes nothing, and a message too long for its buffer
 * keeps its end.
 */
#include "base/error.h"
#include "base/util.h"
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

/* Valid UTF-8 (RFC 3629) without controls: checked here independently of the code under test. */
static void check_clean(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < len;) {
    unsigned c = p[i];
    if (c < 0x20 || c == 0x7f)
      abort();
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    if (c < 0xc2 || c > 0xf4 || i + n > len)
      abort();
    uint32_t cp = c & (0x7f >> n);
    for (size_t k = 1; k < n; k++) {
      if ((p[i + k] & 0xc0) != 0x80)
        abort();
      cp = cp << 6 | (p[i + k] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff) ||
        (cp >= 0x80 && cp <= 0x9f))
      abort();
    i += n;
  }
}

static void on_warning(const char *message, void *userdata) {
  (void)userdata;
  check_clean(message, strlen(message));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *src = (const char *)data;
  char one;
  size_t need = text_clean(&one, 1, src, size);
  _cleanup_free_ char *out = malloc(need + 1);
  if (!out || text_clean(out, need + 1, src, size) != need || strlen(out) != need)
    abort();
  check_clean(out, need);
  _cleanup_free_ char *again = malloc(need + 1);
  if (!again || text_clean(again, need + 1, out, need) != need || memcmp(again, out, need) != 0)
    abort();
  /* A buffer cut short holds a prefix of whole units. */
  size_t cut = size ? data[0] % (need + 1) + 1 : 1;
  _cleanup_free_ char *part = malloc(cut);
  if (!part)
    abort();
  text_clean(part, cut, src, size);
  if (strncmp(part, out, strlen(part)) != 0)
    abort();
  check_clean(part, strlen(part));

  _cleanup_free_ char *text = fuzz_strndup(data, size);
  if (!text)
    abort();
  lib_error err;
  error_set(&err, VMPULL_E_HTTP, "%s: the reason", text);
  size_t len = strlen(err.message);
  check_clean(err.message, len);
  if (len >= VMPULL_ERROR_MAX || len < strlen(": the reason") ||
      strcmp(err.message + len - strlen(": the reason"), ": the reason") != 0)
    abort();
  error_wrap(&err, "context %s", text);
  check_clean(err.message, strlen(err.message));
  if (strncmp(err.message, "context ", 8) != 0)
    abort();
  warning_send(on_warning, NULL, "%s", text);
  return 0;
}
