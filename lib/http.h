/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared libcurl plumbing for every network source (plain URLs, registries,
 * stream metadata, checksum files): one place that sets TLS, proxies,
 * timeouts, redirect rules and the user agent, so every request behaves the
 * same and no credential leaks through a redirect.
 */
#ifndef VMPULL_HTTP_H
#define VMPULL_HTTP_H

#include <curl/curl.h>

#include "progress.h"
#include "source.h"

struct http_config {
  int tls_verify;              /* 0: no certificate checks (the caller already warned) */
  const char *ca_cert;         /* extra CA bundle file, or NULL */
  const char *client_cert;     /* PEM client certificate (certs.d *.cert), or NULL */
  const char *client_key;      /* its key (*.key), or NULL */
  const char *user_agent;      /* "vmpull/<version>" unless set */
  long connect_timeout;        /* seconds */
  long stall_timeout;          /* seconds below stall_min_rate before giving up */
  long stall_min_rate;         /* bytes per second */
  int retries;                 /* retries after the first attempt */
  vmpull_warning_fn warning;   /* one-line warnings (retries, restarts), may be NULL */
  void *warning_data;
  struct progress_state *progress; /* cancellation polling; may be NULL */
};

/* Defaults, then whatever o sets. */
void http_config_from_options(struct http_config *c, const vmpull_pull_options *o);

struct http_request {
  const char *url;
  const struct curl_slist *headers; /* extra headers (Accept, Authorization, Range...) */
  int max_redirects;             /* 0: do not follow; default callers use 10 */
  int allow_insecure_redirect;   /* https -> http allowed (only with tls_verify off) */
  uint64_t max_body;             /* http_get: larger bodies fail with VMPULL_E_LIMIT */
  uint64_t range_start;          /* > 0: ask for bytes from here (Range) */
  const char *if_range;          /* validator for If-Range, or NULL */
};

struct http_response {
  long status;
  char *reason;                  /* "Not Found" */
  char *effective_url;           /* after redirects (redacted form is the caller's job) */
  char *content_type;
  char *etag;
  char *last_modified;
  char *www_authenticate;
  char *content_disposition;     /* the filename= value only */
  char *docker_content_digest;
  char *retry_after;
  uint64_t content_length;       /* UINT64_MAX when unknown */
  char *body;                    /* http_get only: NUL-terminated */
  size_t body_len;
};

void http_response_clear(struct http_response *r);

/* GET a small document (manifest, token, SHA256SUMS, stream JSON) into memory.
 * Any status is returned in resp (the caller decides); transport errors fail. */
int http_get(const struct http_config *c, const struct http_request *req, struct http_response *resp,
             vmpull_error *err);

/* Open a streaming GET as a byte source. Returns once the response headers are
 * in (resp filled); fails unless the status is 200, or 206 for a range request.
 * Body bytes then arrive through source reads while the transfer continues in
 * the background. Short or long bodies (against Content-Length) fail. */
int http_source_open(const struct http_config *c, const struct http_request *req, struct http_response *resp,
                     struct byte_source **out, vmpull_error *err);

#endif
