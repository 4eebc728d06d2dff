/* SPDX-License-Identifier: Apache-2.0 */
/* One error model (after crun's libcrun/error.c): fill err, return -code. */
#ifndef VMPULL_ERROR_H
#define VMPULL_ERROR_H

#include "base/compat.h"
#include "vmpull.h"

#include <stdarg.h>
#include <stddef.h>

/* Every message goes through text_clean as a whole, after formatting: a call site cannot forget
 * to clean what a server, a file or an argument put into it. A message longer than the buffer
 * loses its middle ("start...end"), so both the outer context and the reason at the end stay. */

/* The library's error inside: the public vmpull_error's code and message first (same layout, so
 * err->code and err->message read the same), then the facts kept apart from the message, as crun
 * keeps errno apart from its text. A public entry point runs on a lib_error of its own and hands
 * the caller what its header promises (error_export, and the outcome's accessors). */
typedef struct lib_error {
  int code;                       /* a vmpull_code */
  char message[VMPULL_ERROR_MAX]; /* one line, cleaned */
  int sys_errno;                  /* errno behind the failure; 0: none */
  int http_status;                /* HTTP status that failed the request; 0: none */
  int curl_code;                  /* CURLcode of the failed transfer; 0: none */
} lib_error;

/* Set err to code and a formatted message. Returns -code, for `return error_set(...)`. */
int error_set(lib_error *err, int code, const char *fmt, ...) VMPULL_PRINTF(3, 4);
/* Like error_set, appending ": strerror(errnum)". */
int error_set_errno(lib_error *err, int code, int errnum, const char *fmt, ...) VMPULL_PRINTF(4, 5);
/* Prefix the existing message with context ("ctx: old message"). Returns -err->code. */
int error_wrap(lib_error *err, const char *fmt, ...) VMPULL_PRINTF(2, 3);
/* Append to the existing message ("old message" + formatted text). Returns -err->code. */
int error_append(lib_error *err, const char *fmt, ...) VMPULL_PRINTF(2, 3);
/* The facts behind an error (error_set forgets those of an earlier error; error_wrap and
 * error_append keep them, the cause being the same). */
void error_note_errno(lib_error *err, int errnum);
void error_note_http(lib_error *err, int status);
void error_note_curl(lib_error *err, int curl_code);
/* Hand code and message to the caller's error (NULL: nobody asked). */
void error_export(const lib_error *in, vmpull_error *out);
/* Reset to VMPULL_OK / empty. */
void error_clear(lib_error *err);
/* Out-of-memory in one place, so every caller says the same thing. */
int error_oom(lib_error *err);

/* Hand a warning to the caller's callback (NULL: nobody listens), formatted and cleaned like a
 * message. */
void warning_send(vmpull_warning_fn fn, void *data, const char *fmt, ...) VMPULL_PRINTF(3, 4);
void warning_vsend(vmpull_warning_fn fn, void *data, const char *fmt, va_list ap) VMPULL_PRINTF(3, 0);
/* The same for a log line at level (a vmpull_log_level). Without a callback nothing is formatted. */
void log_send(vmpull_log_fn fn, void *data, int level, const char *fmt, ...) VMPULL_PRINTF(4, 5);
void log_vsend(vmpull_log_fn fn, void *data, int level, const char *fmt, va_list ap) VMPULL_PRINTF(4, 0);

/* The one cleaning of text from outside (servers, files, archives, arguments) before it reaches
 * an error, a warning or a result: C0 controls, DEL, C1 controls (U+0080-U+009F, as UTF-8) and
 * every byte that is not part of valid UTF-8 (overlong forms, surrogates, truncated sequences,
 * stray continuation bytes, above U+10FFFF) become "\xNN", one escape per byte; all other text,
 * multi-byte characters included, is kept. Cleaning clean text changes nothing.
 * Writes at most size - 1 bytes and a NUL into dst (size > 0), never cutting an escape or a
 * character; returns the length the whole cleaned text needs, as snprintf does. Exported to
 * programs as vmpull_text_clean (the tool cleans its own lines with it). */
size_t text_clean(char *dst, size_t size, const char *src, size_t len);
/* Whether text_clean would change s. */
int text_needs_clean(const char *s);
/* A cleaned copy of s (NULL on OOM). */
char *text_clean_dup(const char *s);
/* Replace *s (may be NULL) by its cleaned copy; -1 on OOM, *s then unchanged. */
int text_clean_in_place(char **s);

#endif
