/* SPDX-License-Identifier: Apache-2.0 */
#include "base/error.h"

#include "base/compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const code_names[] = {
    [VMPULL_OK] = "ok",
    [VMPULL_E_USAGE] = "usage",
    [VMPULL_E_NOT_FOUND] = "not_found",
    [VMPULL_E_IO] = "io",
    [VMPULL_E_UNSUPPORTED] = "unsupported_format",
    [VMPULL_E_CORRUPT] = "corrupt",
    [VMPULL_E_DIGEST] = "digest_mismatch",
    [VMPULL_E_LIMIT] = "limit",
    [VMPULL_E_NETWORK] = "network",
    [VMPULL_E_HTTP] = "http",
    [VMPULL_E_TLS] = "tls",
    [VMPULL_E_AUTH] = "auth",
    [VMPULL_E_MANIFEST] = "manifest",
    [VMPULL_E_NO_MATCH] = "no_match",
    [VMPULL_E_CANCELLED] = "cancelled",
    [VMPULL_E_EXISTS] = "exists",
    [VMPULL_E_CONFIG] = "config",
    [VMPULL_E_SIGNATURE] = "signature",
};

VMPULL_PUBLIC const char *vmpull_code_name(int code) {
  if (code < 0 || (size_t)code >= sizeof(code_names) / sizeof(code_names[0]) || !code_names[code])
    return "unknown";
  return code_names[code];
}

/* Length of the valid UTF-8 character at s (n bytes there), 0 when none starts there
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_char(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  if (c < 0x80)
    return 1;
  size_t len;
  unsigned lo = 0x80, hi = 0xbf; /* the range of the second byte */
  if (c >= 0xc2 && c <= 0xdf)
    len = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    lo = c == 0xe0 ? 0xa0 : 0x80;
    hi = c == 0xed ? 0x9f : 0xbf;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    lo = c == 0xf0 ? 0x90 : 0x80;
    hi = c == 0xf4 ? 0x8f : 0xbf;
  } else
    return 0;
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  return len;
}

/* One step of the cleaning: how many source bytes (a character kept as it is, or one byte to
 * escape, *escape set). */
static size_t clean_unit(const unsigned char *s, size_t n, int *escape) {
  size_t len = utf8_char(s, n);
  *escape = len == 0 || s[0] < 0x20 || s[0] == 0x7f || (len == 2 && s[0] == 0xc2 && s[1] < 0xa0);
  return *escape ? 1 : len;
}

size_t text_clean(char *dst, size_t size, const char *src, size_t len) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)src;
  size_t need = 0, at = 0;
  int full = 0;
  for (size_t i = 0; i < len;) {
    int escape;
    size_t n = clean_unit(s + i, len - i, &escape);
    size_t out = escape ? 4 : n;
    if (!full && at + out < size) {
      if (escape) {
        dst[at++] = '\\';
        dst[at++] = 'x';
        dst[at++] = hex[s[i] >> 4];
        dst[at++] = hex[s[i] & 15];
      } else {
        memcpy(dst + at, s + i, n);
        at += n;
      }
    } else {
      full = 1;
    }
    need += out;
    i += n;
  }
  dst[at] = '\0';
  return need;
}

VMPULL_PUBLIC size_t vmpull_text_clean(char *dst, size_t size, const char *src, size_t len) {
  char none;
  return dst && size ? text_clean(dst, size, src, len) : text_clean(&none, 1, src, len);
}

int text_needs_clean(const char *s) {
  size_t len = strlen(s);
  for (size_t i = 0; i < len;) {
    int escape;
    i += clean_unit((const unsigned char *)s + i, len - i, &escape);
    if (escape)
      return 1;
  }
  return 0;
}

char *text_clean_dup(const char *s) {
  size_t len = strlen(s);
  char one;
  size_t need = text_clean(&one, 1, s, len);
  char *out = malloc(need + 1);
  if (out)
    text_clean(out, need + 1, s, len);
  return out;
}

int text_clean_in_place(char **s) {
  if (!*s || !text_needs_clean(*s))
    return 0;
  char *clean = text_clean_dup(*s);
  if (!clean)
    return -1;
  free(*s);
  *s = clean;
  return 0;
}

/* The message buffer less its NUL, and what stands for a cut-out middle. */
#define MESSAGE_CAP (VMPULL_ERROR_MAX - 1)
#define CUT_MARK "..."

/* Clean raw into out; when too long, keep its start and its end (where the reason is). */
static void cut_and_clean(char *out, const char *raw, size_t len) {
  char one;
  size_t total = text_clean(&one, 1, raw, len);
  if (total <= MESSAGE_CAP) {
    text_clean(out, MESSAGE_CAP + 1, raw, len);
    return;
  }
  size_t mark = strlen(CUT_MARK), head_cap = (MESSAGE_CAP - mark) / 2, tail_cap = MESSAGE_CAP - mark - head_cap;
  text_clean(out, head_cap + 1, raw, len);
  size_t head = strlen(out);
  memcpy(out + head, CUT_MARK, mark);
  /* The tail starts at the first step boundary from which the rest fits. */
  const unsigned char *s = (const unsigned char *)raw;
  size_t from = 0, cleaned = 0;
  while (from < len && total - cleaned > tail_cap) {
    int escape;
    size_t n = clean_unit(s + from, len - from, &escape);
    cleaned += escape ? 4 : n;
    from += n;
  }
  text_clean(out + head + mark, tail_cap + 1, raw + from, len - from);
}

/* before, fmt formatted, after: stored cleaned (and cut) as err's message. */
VMPULL_PRINTF(3, 0)
static void store_message(lib_error *err, const char *before, const char *fmt, va_list ap, const char *after) {
  va_list again;
  va_copy(again, ap);
  char *text = NULL;
  if (vasprintf(&text, fmt, ap) < 0)
    text = NULL;
  if (text && (before || after)) {
    char *joined = NULL;
    if (asprintf(&joined, "%s%s%s", before ? before : "", text, after ? after : "") < 0)
      joined = NULL;
    free(text);
    text = joined;
  }
  if (text) {
    cut_and_clean(err->message, text, strlen(text));
    free(text);
  } else {
    /* Out of memory: the start of it, cut at the end, is better than nothing. */
    char buf[VMPULL_ERROR_MAX];
    size_t n = before ? (size_t)snprintf(buf, sizeof(buf), "%s", before) : 0;
    if (n < sizeof(buf))
      vsnprintf(buf + n, sizeof(buf) - n, fmt, again);
    n = strlen(buf);
    if (after)
      snprintf(buf + n, sizeof(buf) - n, "%s", after);
    cut_and_clean(err->message, buf, strlen(buf));
  }
  va_end(again);
}

int error_set(lib_error *err, int code, const char *fmt, ...) {
  if (!err)
    return -code;
  va_list ap;
  va_start(ap, fmt);
  store_message(err, NULL, fmt, ap, NULL);
  va_end(ap);
  err->code = code;
  err->sys_errno = err->http_status = err->curl_code = 0;
  return -code;
}

int error_set_errno(lib_error *err, int code, int errnum, const char *fmt, ...) {
  if (!err)
    return -code;
  char buf[256], reason[300];
  /* GNU strerror_r: strerror may use a shared buffer, and pulls run in parallel threads. */
  snprintf(reason, sizeof(reason), ": %s", strerror_r(errnum, buf, sizeof(buf)));
  va_list ap;
  va_start(ap, fmt);
  store_message(err, NULL, fmt, ap, reason);
  va_end(ap);
  err->code = code;
  err->http_status = err->curl_code = 0;
  err->sys_errno = errnum;
  return -code;
}

int error_wrap(lib_error *err, const char *fmt, ...) {
  if (!err)
    return -VMPULL_E_IO;
  /* The old message is read before the new one is written over it (it may even be an argument). */
  char old[VMPULL_ERROR_MAX + 2];
  snprintf(old, sizeof(old), ": %s", err->message);
  va_list ap;
  va_start(ap, fmt);
  store_message(err, NULL, fmt, ap, old);
  va_end(ap);
  if (err->code == VMPULL_OK)
    err->code = VMPULL_E_IO;
  return -err->code;
}

int error_append(lib_error *err, const char *fmt, ...) {
  if (!err)
    return -VMPULL_E_IO;
  char old[VMPULL_ERROR_MAX];
  snprintf(old, sizeof(old), "%s", err->message);
  va_list ap;
  va_start(ap, fmt);
  store_message(err, old, fmt, ap, NULL);
  va_end(ap);
  if (err->code == VMPULL_OK)
    err->code = VMPULL_E_IO;
  return -err->code;
}

void warning_vsend(vmpull_warning_fn fn, void *data, const char *fmt, va_list ap) {
  if (!fn)
    return;
  lib_error line;
  store_message(&line, NULL, fmt, ap, NULL);
  fn(line.message, data);
}

void warning_send(vmpull_warning_fn fn, void *data, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  warning_vsend(fn, data, fmt, ap);
  va_end(ap);
}

void log_vsend(vmpull_log_fn fn, void *data, int level, const char *fmt, va_list ap) {
  if (!fn)
    return;
  lib_error line;
  store_message(&line, NULL, fmt, ap, NULL);
  fn(level, line.message, data);
}

void log_send(vmpull_log_fn fn, void *data, int level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vsend(fn, data, level, fmt, ap);
  va_end(ap);
}

void error_clear(lib_error *err) {
  if (err) {
    err->code = VMPULL_OK;
    err->message[0] = '\0';
    err->sys_errno = err->http_status = err->curl_code = 0;
  }
}

void error_note_errno(lib_error *err, int errnum) {
  if (err)
    err->sys_errno = errnum;
}

void error_note_http(lib_error *err, int status) {
  if (err)
    err->http_status = status;
}

void error_note_curl(lib_error *err, int curl_code) {
  if (err)
    err->curl_code = curl_code;
}

void error_export(const lib_error *in, vmpull_error *out) {
  if (!out)
    return;
  out->code = in->code;
  memcpy(out->message, in->message, sizeof(out->message));
}

int error_oom(lib_error *err) {
  return error_set(err, VMPULL_E_IO, "out of memory");
}
