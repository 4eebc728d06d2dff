/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The records of one HTTP exchange: the client configuration, the request and
 * the response. Both the front (http.h) and the transfer (http_transfer.h)
 * stand on them, so neither has to include the other.
 */
#ifndef VMPULL_HTTP_TYPES_H
#define VMPULL_HTTP_TYPES_H

#include "base/progress.h"
#include "base/util.h"

#include <curl/curl.h>
#include <signal.h>
#include <string.h>

#define HTTP_DEFAULT_CONNECT_TIMEOUT 30 /* seconds */

struct tls_files;    /* net/certs_d.h */
struct http_restart; /* net/http_retry.h */

struct http_config {
  int tls_verify;            /* 0: no certificate checks (the caller already warned) */
  const char *ca_cert;       /* extra CA bundle file, or NULL */
  struct tls_files *tls;     /* a certs.d folder's CAs and client certificates, or NULL */
  const char *user_agent;    /* "vmpull/<version>" unless set */
  long connect_timeout;      /* seconds */
  long stall_timeout;        /* seconds below stall_min_rate before giving up */
  long stall_min_rate;       /* bytes per second */
  int retries;               /* retries after the first attempt */
  vmpull_warning_fn warning; /* one-line warnings (retries, restarts), may be NULL */
  void *warning_data;
  struct progress_state *progress; /* the pull's: cancellation, and progress events during retry waits; may be NULL */
  volatile sig_atomic_t *cancel;   /* polled too (set from the pull options); may be NULL */
  vmpull_log_fn log;               /* a line per request (log_send: nothing formatted when NULL) */
  void *log_data;
  struct http_restart *restart; /* http_open_retry's body: where a changed file's new version goes, or NULL */
};

struct http_response;

struct http_request {
  const char *url;
  const struct curl_slist *headers; /* extra headers (Accept, Authorization, Range...) */
  int max_redirects;                /* 0: do not follow; default callers use 10 */
  int allow_insecure_redirect;      /* https -> http allowed (only with tls_verify off) */
  uint64_t max_body;                /* http_get: larger bodies fail with VMPULL_E_LIMIT */
  uint64_t range_start;             /* > 0: ask for bytes from here (Range) */
  uint64_t range_length;            /* > 0: ask for only this many bytes from range_start (Range: bytes=S-E) */
  const char *if_range;             /* validator for If-Range, or NULL */
  int not_modified_ok;              /* http_source_open: a 304 (conditional request) succeeds with *out NULL */
  int unreachable_is_final;         /* http_open_retry: no retry when the server cannot be reached (the
                                       caller has another way: a cached copy) */
  /* http_open_retry only: called on a 401, at the start or when a broken body is resumed (a
   * registry's bearer token lives minutes, a download may take hours). Returns 1 after putting
   * fresh credentials in *headers (the request is sent once more), 0 to let the 401 stand,
   * negative on failure. NULL: a 401 stands. */
  int (*reauthorize)(void *data, const struct http_response *resp, struct curl_slist **headers, lib_error *err);
  void *reauthorize_data;
};

struct http_response {
  long status;
  char *reason;        /* "Not Found" */
  char *effective_url; /* after redirects (redacted form is the caller's job) */
  char *content_type;
  char *etag;
  char *last_modified;
  char *www_authenticate;
  char *content_disposition; /* the filename= value only */
  char *docker_content_digest;
  char *retry_after;
  uint64_t content_length; /* UINT64_MAX when unknown */
  char *body;              /* http_get only: NUL-terminated */
  size_t body_len;
  uint64_t content_range_start; /* 206: first byte of Content-Range, else UINT64_MAX */
  uint64_t content_range_total; /* 206: complete length from Content-Range, else UINT64_MAX */
  uint64_t content_range_end;   /* 206: last byte of Content-Range, else UINT64_MAX */
  int accept_ranges;            /* the server said Accept-Ranges: bytes */
};

/* Frees what a response holds and leaves it empty (reusable). Responses are
 * filled by http_get/http_source_open, which overwrite resp: start from a
 * zeroed struct and clear it before reusing it. */
void http_response_clear(struct http_response *r);

/* etag when it is a strong validator, else NULL: a weak one (W/"...") cannot vouch for exact
 * bytes, so If-Range and If-None-Match take only strong ones. */
const char *http_etag_strong(const char *etag);

/* Free a request's header list, wiping every line first: lines may carry an
 * Authorization (a password, a token), and curl_slist_append copies them. */
void http_headers_free(struct curl_slist *headers);
static inline void http_headers_freep(struct curl_slist **headers) {
  http_headers_free(*headers);
}
#define _cleanup_headers_ _cleanup_(http_headers_freep)

DEFINE_CLEANUP_FUNC(CURLU *, curl_url_cleanup)
DEFINE_CLEANUP_FUNC(char *, curl_free)
#define _cleanup_curl_url_ _cleanup_(curl_url_cleanupp)
#define _cleanup_curl_free_ _cleanup_(curl_freep)

/* curl_free for a URL or a part of one that may hold user:password: wiped first. */
static inline void curl_free_secretp(char **p) {
  if (*p) {
    explicit_bzero(*p, strlen(*p));
    curl_free(*p);
  }
}

#endif
