/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP client's front: the configuration defaults, the one wording of an
 * unwanted status, and http_get() for small documents. The transfer itself
 * (curl options, header parsing, redirect checks, the run loop and the
 * mapping of curl's results) is http_transfer.c.
 */
#include "net/http.h"

#include "base/error.h"
#include "base/redact.h"
#include "base/util.h"
#include "net/http_transfer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_STALL_TIMEOUT 60
#define DEFAULT_STALL_MIN_RATE 1024
#define DEFAULT_RETRIES 5
#define DEFAULT_MAX_BODY (16u << 20)

void http_config_defaults(struct http_config *c) {
  *c = (struct http_config){
      .tls_verify = 1,
      .user_agent = "vmpull/" VMPULL_VERSION,
      .connect_timeout = HTTP_DEFAULT_CONNECT_TIMEOUT,
      .stall_timeout = DEFAULT_STALL_TIMEOUT,
      .stall_min_rate = DEFAULT_STALL_MIN_RATE,
      .retries = DEFAULT_RETRIES,
  };
}

/* HTTP/2 has no reason phrase; messages still read "HTTP 404 Not Found". */
static const char *standard_reason(long status) {
  static const struct {
    long status;
    const char *reason;
  } reasons[] = {
      {200, "OK"},
      {206, "Partial Content"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {303, "See Other"},
      {304, "Not Modified"},
      {307, "Temporary Redirect"},
      {308, "Permanent Redirect"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {408, "Request Timeout"},
      {410, "Gone"},
      {416, "Range Not Satisfiable"},
      {429, "Too Many Requests"},
      {500, "Internal Server Error"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(reasons); i++)
    if (reasons[i].status == status)
      return reasons[i].reason;
  return "";
}

int http_status_error(const struct http_response *r, lib_error *err) {
  int code = VMPULL_E_HTTP;
  if (r->status == 404 || r->status == 410)
    code = VMPULL_E_NOT_FOUND;
  else if (r->status == 401 || r->status == 403)
    code = VMPULL_E_AUTH;
  const char *reason = r->reason && *r->reason ? r->reason : standard_reason(r->status);
  error_set(err, code, "HTTP %ld%s%s", r->status, *reason ? " " : "", reason);
  error_note_http(err, (int)r->status);
  return -code;
}

/* ---- http_get ---- */

struct body_buffer {
  char *data;
  size_t len, cap;
  uint64_t max;
};

static void body_free(struct body_buffer *b) {
  secure_zero(b->data, b->len);
  free(b->data);
  b->data = NULL;
}

static int get_on_body(struct http_transfer *t, const char *p, size_t n) {
  struct body_buffer *b = t->owner;
  if ((uint64_t)b->len + n > b->max)
    return http_transfer_fail(t, VMPULL_E_LIMIT, "response larger than %llu bytes", (unsigned long long)b->max);
  if (b->len + n + 1 > b->cap) {
    size_t cap = MAX(b->cap * 2, b->len + n + 1);
    cap = MAX(cap, (size_t)16384);
    /* Not realloc: it would leave a copy behind, and this may be a token answer. */
    char *nd = malloc(cap);
    if (!nd)
      return http_transfer_fail(t, VMPULL_E_IO, "out of memory");
    if (b->len)
      memcpy(nd, b->data, b->len);
    body_free(b);
    b->data = nd;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

void http_log_request(const struct http_config *c, const char *url, const char *what, ...) {
  if (!c->log)
    return;
  _cleanup_free_ char *shown = redact_url(url ? url : "");
  char line[VMPULL_ERROR_MAX];
  va_list ap;
  va_start(ap, what);
  vsnprintf(line, sizeof(line), what, ap);
  va_end(ap);
  log_send(c->log, c->log_data, VMPULL_LOG_DEBUG, "GET %s: %s", shown ? shown : "(url)", line);
}

int http_get(const struct http_config *c, const struct http_request *req, struct http_response *resp, lib_error *err) {
  _cleanup_(http_transfer_cleanup) struct http_transfer t = {0};
  struct body_buffer body = {.max = req->max_body ? req->max_body : DEFAULT_MAX_BODY};
  int r = http_transfer_setup(&t, c, req, err);
  if (r < 0) {
    body_free(&body);
    return r;
  }
  t.owner = &body;
  t.on_body = get_on_body;
  uint64_t started = now_ns();
  CURLcode rc = http_transfer_run(&t);
  double secs = (double)(now_ns() - started) / 1e9;
  r = http_transfer_error(&t, rc, err);
  if (r >= 0 && !t.headers_done)
    r = error_set(err, VMPULL_E_HTTP, "no response");
  if (r < 0)
    http_log_request(c, req->url, "%s, %.3f s", err->message, secs);
  else
    http_log_request(c, req->url, "HTTP %ld, %llu bytes, %.3f s", t.resp.status, (unsigned long long)t.received, secs);
  if (r >= 0)
    r = http_transfer_take_response(&t, resp, err);
  if (r < 0) {
    body_free(&body);
    return r;
  }
  if (!body.data) {
    body.data = calloc(1, 1);
    if (!body.data) {
      http_response_clear(resp);
      return error_oom(err);
    }
  }
  body.data[body.len] = '\0';
  resp->body = body.data;
  resp->body_len = body.len;
  return 0;
}
