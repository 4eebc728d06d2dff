/* SPDX-License-Identifier: Apache-2.0 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MIN_SZ(a, b) ((a) < (b) ? (a) : (b))

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
};

VMPULL_PUBLIC const char *vmpull_code_name(int code) {
  if (code < 0 || (size_t)code >= sizeof(code_names) / sizeof(code_names[0]) || !code_names[code])
    return "unknown";
  return code_names[code];
}

/* Messages are one line: a newline or control character from a server would let it forge output. */
static void sanitize_line(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      *s = ' ';
}

__attribute__((format(printf, 3, 0))) static int error_vset(vmpull_error *err, int code, const char *fmt, va_list ap) {
  if (!err)
    return -code;
  err->code = code;
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  sanitize_line(err->message);
  return -code;
}

int error_set(vmpull_error *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = error_vset(err, code, fmt, ap);
  va_end(ap);
  return r;
}

int error_set_errno(vmpull_error *err, int code, int errnum, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  error_vset(err, code, fmt, ap);
  va_end(ap);
  if (err) {
    size_t len = strlen(err->message);
    char buf[256];
    /* GNU strerror_r: strerror may use a shared buffer, and pulls run in parallel threads. */
    snprintf(err->message + len, sizeof(err->message) - len, ": %s", strerror_r(errnum, buf, sizeof(buf)));
  }
  return -code;
}

int error_wrap(vmpull_error *err, const char *fmt, ...) {
  if (!err)
    return -VMPULL_E_IO;
  char prefix[VMPULL_ERROR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof(prefix), fmt, ap);
  va_end(ap);
  sanitize_line(prefix);
  /* Shift the old message right and put the prefix in front; truncation keeps the start. */
  size_t plen = strlen(prefix), olen = strlen(err->message), cap = sizeof(err->message) - 1;
  if (plen + 2 > cap)
    plen = cap - 2;
  size_t keep = MIN_SZ(olen, cap - plen - 2);
  memmove(err->message + plen + 2, err->message, keep);
  memcpy(err->message, prefix, plen);
  err->message[plen] = ':';
  err->message[plen + 1] = ' ';
  err->message[plen + 2 + keep] = '\0';
  if (err->code == VMPULL_OK)
    err->code = VMPULL_E_IO;
  return -err->code;
}

void error_clear(vmpull_error *err) {
  if (err) {
    err->code = VMPULL_OK;
    err->message[0] = '\0';
  }
}

int error_oom(vmpull_error *err) {
  return error_set(err, VMPULL_E_IO, "out of memory");
}
