/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retries inside one pull. A request that fails on the way (connection
 * reset, timeout, a body cut short) or with 408, 429, 500, 502, 503 or 504
 * is tried again after 1 s, 2 s, 4 s ... (at most 30 s), or after the
 * server's Retry-After; other statuses fail at once. A body that breaks off
 * continues from where it stopped (Range + If-Range), so the bytes already
 * hashed and decoded are never fetched twice. Each retry is one warning line.
 * The budget is http_config.retries failures in a row: a retry that made
 * progress starts the count again, so a long download survives many blips.
 * A retry whose If-Range gets a full 200 under the same validator (a server
 * that ignores Range) skips what was read; under another validator or length
 * the file changed on the server, whose bytes cannot continue the ones read:
 * an error, with the new version's response handed over (http_restart).
 */
#ifndef VMPULL_HTTP_RETRY_H
#define VMPULL_HTTP_RETRY_H

#include "net/http.h"

#define RETRY_FIRST_MS 1000u
#define RETRY_MAX_MS 30000u
#define RETRY_AFTER_MAX_MS 300000u /* a server asking for more than 5 min gets 5 min */

/* Worth another attempt? status 0 when the request failed before a status. */
int http_retryable(long status, int code);
/* Wait before retry number n (1-based): Retry-After (seconds or HTTP date) when given, else backoff.
 * A Retry-After that is neither (negative, signed, fractional, unreadable) counts as not given. */
uint64_t http_retry_delay_ms(unsigned n, const char *retry_after);

/* The server could not be reached at all: the name does not resolve, the connection is refused,
 * or connecting timed out. Not a TLS failure, an HTTP status, or a transfer that broke off. */
int http_unreachable(const lib_error *e);

/* A file that changed on the server during the download (http_config.restart): while left > 0, the
 * retrying body that finds the change puts the new version's response here (its body from byte 0,
 * retrying like the first) and takes one off left, then fails as it would without it ("changed on
 * the server during the download"): the caller, which has read bytes of the old version, starts
 * over with src. With left 0 (or no http_restart) the change is only the error. */
struct http_restart {
  unsigned left;             /* changes still to hand over */
  struct byte_source *src;   /* the new version's body, or NULL (owned) */
  struct http_response resp; /* its headers */
};
void http_restart_clear(struct http_restart *r);

/* Throw away the first n bytes of src, a full response to a request whose Range the server ignored
 * ("SHOWN: the body is shorter WHEN than before" when it ends first). */
int http_skip_body(struct byte_source *src, uint64_t n, const char *shown, const char *when, lib_error *err);
/* http_get with retries (same contract: any final status is returned in resp). */
int http_get_retry(const struct http_config *c, const struct http_request *req, struct http_response *resp,
                   lib_error *err);

/* http_source_open with retries, and a source whose body continues after a
 * broken transfer. resp: the first successful response's headers. With
 * req->not_modified_ok, a 304 is returned as success with *out NULL. */
int http_open_retry(const struct http_config *c, const struct http_request *req, struct http_response *resp,
                    struct byte_source **out, lib_error *err);

#endif
