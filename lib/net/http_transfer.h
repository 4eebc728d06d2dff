/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One libcurl transfer (http_transfer.c): the options every request shares,
 * header parsing, redirect checks, and the mapping of curl's result to a
 * vmpull error. http_get() runs it on the caller's thread; the streaming
 * source (http_stream.c) runs it on its transfer thread. Internal to http*.c.
 */
#ifndef VMPULL_HTTP_TRANSFER_H
#define VMPULL_HTTP_TRANSFER_H

#include "net/http_types.h"

#include <signal.h>

struct http_transfer {
  CURL *easy;
  CURLM *multi;
  struct curl_slist *headers; /* owned copy: curl re-sends them on every redirect */
  char *ca_cert;              /* owned copy for the SSL_CTX callback */
  struct tls_files *certs_d;  /* a reference, for the SSL_CTX callback, or NULL */
  int tls_verify;
  char errbuf[CURL_ERROR_SIZE];
  int follow; /* curl follows redirects */
  int allow_insecure_redirect;
  struct http_response resp; /* headers of the response being received */
  char *location;            /* Location of the response being received */
  int chunked;
  int headers_done;  /* the final response's header block is complete */
  int excess;        /* the server sent more than Content-Length */
  int tls;           /* the final response came over TLS */
  uint64_t received; /* body bytes of the final response */

  /* Hooks for the runner; each may be NULL. */
  int (*on_headers)(struct http_transfer *t);                       /* < 0: stop (set failed/own) */
  int (*on_body)(struct http_transfer *t, const char *p, size_t n); /* < 0: stop */
  int (*should_stop)(struct http_transfer *t);                      /* polled at least every 100 ms */
  void *owner;

  int failed; /* own holds an error decided by our callbacks; it wins over curl's */
  lib_error own;
  volatile sig_atomic_t *cancel; /* the caller's cancel flag, or NULL */
};

/* libcurl's process-wide initialisation, exactly once (vmpull_global_init). */
int http_global_init(lib_error *err);
int http_transfer_setup(struct http_transfer *t, const struct http_config *c, const struct http_request *req,
                        lib_error *err);
/* Runs to completion (or until should_stop). Returns curl's result. */
CURLcode http_transfer_run(struct http_transfer *t);
/* 0, or the error that ended the transfer. */
int http_transfer_error(struct http_transfer *t, CURLcode rc, lib_error *err);
void http_transfer_cleanup(struct http_transfer *t);
/* Move the received headers (and the effective URL) into out. */
int http_transfer_take_response(struct http_transfer *t, struct http_response *out, lib_error *err);
/* Record an error from a callback; the transfer stops with it. Returns -code. */
int http_transfer_fail(struct http_transfer *t, int code, const char *fmt, ...) VMPULL_PRINTF(3, 4);

#endif
