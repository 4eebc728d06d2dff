/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared libcurl plumbing for every network source (plain URLs, registries,
 * stream metadata, checksum files): one place that sets TLS, proxies,
 * timeouts, redirect rules and the user agent, so every request behaves the
 * same and no credential leaks through a redirect.
 */
#ifndef VMPULL_HTTP_H
#define VMPULL_HTTP_H

#include "net/http_types.h"
#include "pipeline/source.h"

/* Every field at its default: TLS verified, vmpull's user agent, the default timeouts and retries. */
void http_config_defaults(struct http_config *c);
/* One log line (c->log, level debug) about a request to url, which is redacted here: "GET URL: what".
 * Nothing is formatted without a log callback. */
void http_log_request(const struct http_config *c, const char *url, const char *what, ...) VMPULL_PRINTF(3, 4);

/* The one wording for an unwanted status: "HTTP 404 Not Found", with the code
 * 404/410 -> VMPULL_E_NOT_FOUND, 401/403 -> VMPULL_E_AUTH, others VMPULL_E_HTTP.
 * Returns the negative code. */
int http_status_error(const struct http_response *r, lib_error *err);

/* GET a small document (manifest, token, SHA256SUMS, stream JSON) into memory.
 * Any status is returned in resp (the caller decides); transport errors fail.
 * max_body 0 means 16 MiB. Runs on the calling thread; c->progress's cancel
 * flag stops it within a tenth of a second.
 * Errors carry no URL (callers add their context, e.g. "blob sha256:...").
 * Codes: VMPULL_E_NETWORK (connect, reset, timeout, short body), VMPULL_E_TLS
 * (certificate, handshake, https->http redirect), VMPULL_E_HTTP (protocol,
 * redirect loop or scheme), VMPULL_E_LIMIT, VMPULL_E_CANCELLED. */
int http_get(const struct http_config *c, const struct http_request *req, struct http_response *resp, lib_error *err);

/* Open a streaming GET as a byte source. Returns once the response headers are
 * in (resp filled); fails unless the status is 200, or 206 for a range request
 * (whose Content-Range must start at range_start; a 200 answer to a range
 * request is returned as is: the body then starts at byte 0).
 * resp is filled whenever a final response arrived, also when its status is
 * refused (the caller may want Retry-After); clear it in every case.
 * Body bytes then arrive through source reads while the transfer continues in
 * the background. Short or long bodies (against Content-Length) fail.
 * (*out)->size is Content-Length (UINT64_MAX when unknown); (*out)->name is
 * the request URL with its password redacted, which http_source_set_name()
 * may replace (e.g. "blob sha256:...") before the source is wrapped. */
int http_source_open(const struct http_config *c, const struct http_request *req, struct http_response *resp,
                     struct byte_source **out, lib_error *err);

/* Replace the name read errors and the tee use (copied). Returns 0 or -VMPULL_E_IO. */
int http_source_set_name(struct byte_source *s, const char *name, lib_error *err);

#endif
