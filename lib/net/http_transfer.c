/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One libcurl transfer, shared by every request: options (TLS, CA, proxies,
 * timeouts, redirect rules, user agent), redirect checks (header lines: http_headers.c),
 * the transfer loop and the mapping of curl's results to vmpull errors.
 *
 * Each transfer has its own multi handle driven by http_transfer_run(), which
 * polls at most 100 ms at a time: that is what makes a cancel flag or a
 * consumer that went away stop the transfer promptly, wherever curl is
 * (resolving, connecting, stalled on a silent server).
 */
#include "net/http_transfer.h"

#include "base/error.h"
#include "base/platform.h"
#include "base/redact.h"
#include "base/util.h"
#include "net/certs_d.h"
#include "net/http_headers.h"

#include <ctype.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>

#define POLL_MS 100

int http_transfer_fail(struct http_transfer *t, int code, const char *fmt, ...) {
  if (t->failed)
    return -t->own.code;
  char msg[VMPULL_ERROR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  t->failed = 1;
  return error_set(&t->own, code, "%s", msg);
}

static void reset_for_new_response(struct http_transfer *t) {
  char *effective = TAKE_PTR(t->resp.effective_url);
  http_response_clear(&t->resp);
  t->resp.effective_url = effective;
  free(t->location);
  t->location = NULL;
  t->chunked = 0;
}

static int scheme_is(const char *scheme, const char *want) {
  return scheme && strcasecmp(scheme, want) == 0;
}

/* Curl follows the redirect after this header block; refuse it here when the
 * target's scheme is not ours or it would downgrade https to plain http. */
static int check_redirect(struct http_transfer *t) {
  char *current = NULL;
  curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &current);
  _cleanup_(curl_url_cleanupp) CURLU *u = curl_url();
  if (!u)
    return http_transfer_fail(t, VMPULL_E_IO, "out of memory");
  _cleanup_(curl_freep) char *scheme = NULL;
  _cleanup_(curl_free_secretp) char *target = NULL;
  _cleanup_(curl_freep) char *old_scheme = NULL;
  if (!current || curl_url_set(u, CURLUPART_URL, current, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &old_scheme, 0) != CURLUE_OK ||
      curl_url_set(u, CURLUPART_URL, t->location, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_URL, &target, 0) != CURLUE_OK) {
    _cleanup_free_ char *bad = redact_url(t->location);
    return http_transfer_fail(t, VMPULL_E_HTTP, "HTTP %ld redirect to an invalid URL '%s'", t->resp.status,
                              bad ? bad : "");
  }
  _cleanup_free_ char *shown = redact_url(target);
  if (!scheme_is(scheme, "http") && !scheme_is(scheme, "https"))
    return http_transfer_fail(t, VMPULL_E_HTTP, "redirect to %s refused: only http and https are followed",
                              shown ? shown : scheme);
  if (scheme_is(old_scheme, "https") && scheme_is(scheme, "http") && !t->allow_insecure_redirect)
    return http_transfer_fail(
        t, VMPULL_E_TLS, "redirect from https to %s refused: plain http is followed only with TLS verification off",
        shown ? shown : "http");
  return 0;
}

static int end_of_headers(struct http_transfer *t) {
  long st = t->resp.status;
  if (st >= 100 && st < 200)
    return 0; /* interim response; the real one follows */
  if (t->follow && st >= 300 && st < 400 && st != 304 && t->location)
    return check_redirect(t);
  t->headers_done = 1;
  if (t->chunked)
    t->resp.content_length = UINT64_MAX;
  char *url = NULL;
  free(t->resp.effective_url);
  t->resp.effective_url = NULL;
  if (curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url) {
    t->resp.effective_url = strdup(url);
    if (!t->resp.effective_url)
      return http_transfer_fail(t, VMPULL_E_IO, "out of memory");
  }
  t->tls = !url || strncasecmp(url, "http://", 7) != 0;
  return t->on_headers ? t->on_headers(t) : 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata) {
  struct http_transfer *t = userdata;
  size_t n = size * nitems, len = n;
  if (t->headers_done)
    return n; /* trailers after a chunked body */
  while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
    len--;
  if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
    reset_for_new_response(t);
    http_parse_status_line(&t->resp, buf, len);
  } else if (len == 0)
    return end_of_headers(t) < 0 ? 0 : n;
  else
    http_parse_header_line(&t->resp, &t->location, &t->chunked, buf, len);
  return n;
}

static size_t on_body(char *buf, size_t size, size_t nitems, void *userdata) {
  struct http_transfer *t = userdata;
  size_t n = size * nitems;
  if (!t->headers_done) { /* a body without a header block (HTTP/0.9) */
    http_transfer_fail(t, VMPULL_E_HTTP, "response without HTTP headers");
    return 0;
  }
  t->received += n;
  if (t->on_body && t->on_body(t, buf, n) < 0)
    return 0;
  return n;
}

/* A body longer than Content-Length is no error to libcurl. When the excess
 * arrives in the same read as the headers, curl says so only in an
 * informational line ("Excess found ...") and drops it; otherwise it never
 * reads it (see on_close_socket). */
static int on_debug(CURL *easy, curl_infotype type, char *data, size_t size, void *userdata) {
  (void)easy;
  struct http_transfer *t = userdata;
  if (type == CURLINFO_TEXT && size >= 12 && strncmp(data, "Excess found", 12) == 0)
    t->excess = 1;
  return 0;
}

/* With Content-Length known, libcurl reads no further than that many bytes,
 * so a longer body stays unread in the socket; curl closes the connection
 * when the transfer ends (CURLOPT_FORBID_REUSE), and a byte still waiting
 * there then means the body was longer. (Plain http only: on a TLS
 * connection a close_notify alert may legitimately be waiting.) */
static int on_close_socket(void *userdata, curl_socket_t fd) {
  struct http_transfer *t = userdata;
  if (t->headers_done && !t->tls && t->resp.content_length != UINT64_MAX && t->received == t->resp.content_length) {
    if (plat_socket_has_byte((plat_socket)fd))
      t->excess = 1;
  }
  return plat_socket_close((plat_socket)fd);
}

/* --ca-cert and a certs.d folder's CAs add to the system store rather than replacing it
 * (CURLOPT_CAINFO would): curl has loaded its default bundle into this context already. The
 * folder's client certificates are chosen during the handshake (net/certs_d.c). */
static CURLcode setup_ssl_ctx(CURL *easy, void *ssl_ctx, void *userdata) {
  (void)easy;
  struct http_transfer *t = userdata;
  if (t->ca_cert) {
    X509_STORE *store = SSL_CTX_get_cert_store((SSL_CTX *)ssl_ctx);
    if (!store || X509_STORE_load_file(store, t->ca_cert) != 1)
      return CURLE_SSL_CACERT_BADFILE;
  }
  if (t->certs_d && tls_files_apply(t->certs_d, ssl_ctx, t->tls_verify) < 0)
    return CURLE_SSL_CERTPROBLEM;
  return CURLE_OK;
}

static const char *env_nonempty(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

/* libcurl reads https_proxy/HTTPS_PROXY, no_proxy/NO_PROXY and all_proxy, but
 * http_proxy only in lower case (httpoxy: CGI programs get HTTP_PROXY from a
 * request header). The containers tools honour HTTP_PROXY outside CGI, so do
 * we. Known limit: when set this way, it is also used for an http->https
 * redirect of the same transfer. */
static const char *upper_http_proxy(const char *url) {
  if (strncasecmp(url, "http://", 7) != 0 || env_nonempty("http_proxy") || getenv("REQUEST_METHOD"))
    return NULL;
  return env_nonempty("HTTP_PROXY");
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_status = 0;

static void global_init_once(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    global_status = -1;
}

int http_global_init(lib_error *err) {
  pthread_once(&global_once, global_init_once);
  if (global_status < 0)
    return error_set(err, VMPULL_E_IO, "libcurl global initialisation failed");
  return 0;
}

int http_transfer_setup(struct http_transfer *t, const struct http_config *c, const struct http_request *req,
                        lib_error *err) {
  int r = http_global_init(err);
  if (r < 0)
    return r;
  t->resp.content_length = t->resp.content_range_start = t->resp.content_range_total = t->resp.content_range_end =
      UINT64_MAX;
  if (!req->url || !*req->url)
    return error_set(err, VMPULL_E_USAGE, "empty URL");
  t->easy = curl_easy_init();
  t->multi = curl_multi_init();
  if (!t->easy || !t->multi)
    return error_set(err, VMPULL_E_IO, "cannot initialise libcurl");
  for (const struct curl_slist *h = req->headers; h; h = h->next) {
    struct curl_slist *n = curl_slist_append(t->headers, h->data);
    if (!n)
      return error_oom(err);
    t->headers = n;
  }
  if (req->if_range) {
    _cleanup_free_ char *h = xasprintf("If-Range: %s", req->if_range);
    struct curl_slist *n = h ? curl_slist_append(t->headers, h) : NULL;
    if (!n)
      return error_oom(err);
    t->headers = n;
  }
  t->follow = req->max_redirects > 0;
  t->allow_insecure_redirect = req->allow_insecure_redirect && !c->tls_verify;
  t->cancel = c->cancel ? c->cancel : c->progress ? c->progress->cancel : NULL;

  CURL *e = t->easy;
  CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                                                  \
  do {                                                                                                                 \
    if (rc == CURLE_OK)                                                                                                \
      rc = curl_easy_setopt(e, opt, val);                                                                              \
  } while (0)
  SET(CURLOPT_URL, req->url);
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_FOLLOWLOCATION, t->follow ? 1L : 0L);
  SET(CURLOPT_MAXREDIRS, (long)(t->follow ? req->max_redirects : 0));
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_ERRORBUFFER, t->errbuf);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, t);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, t);
  SET(CURLOPT_VERBOSE, 1L);
  SET(CURLOPT_DEBUGFUNCTION, on_debug);
  SET(CURLOPT_DEBUGDATA, t);
  SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  SET(CURLOPT_FORBID_REUSE, 1L);
  SET(CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
  SET(CURLOPT_CLOSESOCKETDATA, t);
  SET(CURLOPT_USERAGENT, c->user_agent ? c->user_agent : "vmpull/" VMPULL_VERSION);
  SET(CURLOPT_CONNECTTIMEOUT, c->connect_timeout > 0 ? c->connect_timeout : (long)HTTP_DEFAULT_CONNECT_TIMEOUT);
  if (c->stall_timeout > 0 && c->stall_min_rate > 0) {
    SET(CURLOPT_LOW_SPEED_LIMIT, c->stall_min_rate);
    SET(CURLOPT_LOW_SPEED_TIME, c->stall_timeout);
  }
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_BUFFERSIZE, 256L * 1024);
  SET(CURLOPT_SSL_VERIFYPEER, c->tls_verify ? 1L : 0L);
  SET(CURLOPT_SSL_VERIFYHOST, c->tls_verify ? 2L : 0L);
  if (t->headers)
    SET(CURLOPT_HTTPHEADER, t->headers);
  const char *proxy = upper_http_proxy(req->url);
  if (proxy)
    SET(CURLOPT_PROXY, proxy);
  char range[48];
  if (req->range_start > 0 || req->range_length > 0) {
    if (req->range_length > 0)
      snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)req->range_start,
               (unsigned long long)(req->range_start + req->range_length - 1));
    else
      snprintf(range, sizeof(range), "%llu-", (unsigned long long)req->range_start);
    SET(CURLOPT_RANGE, range);
  }
  if (rc != CURLE_OK)
    return error_set(err, VMPULL_E_IO, "libcurl: %s", curl_easy_strerror(rc));
  if (c->ca_cert && c->tls_verify) {
    if (access(c->ca_cert, R_OK) < 0)
      return error_set_errno(err, errno == ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, errno, "CA bundle %s",
                             c->ca_cert);
    t->ca_cert = strdup(c->ca_cert);
    if (!t->ca_cert)
      return error_oom(err);
  }
  t->certs_d = tls_files_ref(c->tls);
  t->tls_verify = c->tls_verify;
  if (t->ca_cert || t->certs_d) {
    if (curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, setup_ssl_ctx) == CURLE_OK) {
      curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, t);
#if LIBCURL_VERSION_NUM >= 0x075700
      /* A cached store would keep the extra CAs for later transfers of other pulls. */
      curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 0L);
#endif
    } else if (t->certs_d) {
      return error_set(err, VMPULL_E_TLS, "certificate folder %s: this libcurl is not built with OpenSSL",
                       t->certs_d->dir);
    } else {
      /* Not the OpenSSL backend: the bundle replaces the system one. */
      curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_cert);
    }
  }
#undef SET
  return 0;
}

CURLcode http_transfer_run(struct http_transfer *t) {
  if (curl_multi_add_handle(t->multi, t->easy) != CURLM_OK)
    return CURLE_OUT_OF_MEMORY;
  CURLcode rc = CURLE_OK;
  for (;;) {
    int running = 0;
    if (curl_multi_perform(t->multi, &running) != CURLM_OK) {
      rc = CURLE_OUT_OF_MEMORY;
      break;
    }
    if (!running) {
      int left = 0;
      CURLMsg *m;
      while ((m = curl_multi_info_read(t->multi, &left)))
        if (m->msg == CURLMSG_DONE)
          rc = m->data.result;
      break;
    }
    if ((t->cancel && *t->cancel) || (t->should_stop && t->should_stop(t))) {
      rc = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    if (curl_multi_poll(t->multi, NULL, 0, POLL_MS, NULL) != CURLM_OK) {
      rc = CURLE_OUT_OF_MEMORY;
      break;
    }
  }
  curl_multi_remove_handle(t->multi, t->easy);
  return rc;
}

static int is_tls_error(CURLcode rc) {
  switch (rc) {
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_CLIENTCERT:
  case CURLE_USE_SSL_FAILED: return 1;
  default: return 0;
  }
}

static int transfer_error_describe(struct http_transfer *t, CURLcode rc, lib_error *err) {
  if (t->failed) {
    *err = t->own;
    return -t->own.code;
  }
  const char *detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);
  uint64_t cl = t->resp.content_length;
  switch (rc) {
  case CURLE_OK:
    if (t->excess)
      return error_set(err, VMPULL_E_HTTP, "body longer than its Content-Length of %llu bytes", (unsigned long long)cl);
    return 0;
  case CURLE_ABORTED_BY_CALLBACK:
  case CURLE_WRITE_ERROR:
    /* Our callbacks (cancel flag, consumer gone) stopped it. */
    return error_set(err, VMPULL_E_CANCELLED, "cancelled");
  case CURLE_PARTIAL_FILE:
    if (cl != UINT64_MAX)
      return error_set(err, VMPULL_E_NETWORK,
                       "connection closed after %llu of %llu bytes (body shorter than Content-Length)",
                       (unsigned long long)t->received, (unsigned long long)cl);
    return error_set(err, VMPULL_E_NETWORK, "connection closed before the end of the body: %s", detail);
  case CURLE_OPERATION_TIMEDOUT:
    if (strstr(detail, "too slow"))
      return error_set(err, VMPULL_E_NETWORK, "stalled: %s", detail);
    return error_set(err, VMPULL_E_NETWORK, "timed out: %s", detail);
  case CURLE_TOO_MANY_REDIRECTS: return error_set(err, VMPULL_E_HTTP, "too many redirects: %s", detail);
  case CURLE_UNSUPPORTED_PROTOCOL: return error_set(err, VMPULL_E_HTTP, "%s", detail);
  case CURLE_URL_MALFORMAT: return error_set(err, VMPULL_E_USAGE, "malformed URL: %s", detail);
  case CURLE_OUT_OF_MEMORY: return error_oom(err);
  case CURLE_LOGIN_DENIED:
  case CURLE_AUTH_ERROR: return error_set(err, VMPULL_E_AUTH, "%s", detail);
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_RANGE_ERROR:
  case CURLE_HTTP_RETURNED_ERROR: return error_set(err, VMPULL_E_HTTP, "%s", detail);
  default:
    if (is_tls_error(rc))
      return error_set(err, VMPULL_E_TLS, "TLS: %s", detail);
    return error_set(err, VMPULL_E_NETWORK, "%s", detail);
  }
}

int http_transfer_error(struct http_transfer *t, CURLcode rc, lib_error *err) {
  int r = transfer_error_describe(t, rc, err);
  if (r < 0 && !t->failed && rc != CURLE_OK && rc != CURLE_ABORTED_BY_CALLBACK && rc != CURLE_WRITE_ERROR) {
    /* The facts behind the message, for the caller's accessors: libcurl's code and the
     * system's errno of the failed connect or read. */
    error_note_curl(err, (int)rc);
    long os_errno = 0;
    if (t->easy && curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno > 0)
      error_note_errno(err, (int)os_errno);
  }
  return r;
}

int http_transfer_take_response(struct http_transfer *t, struct http_response *out, lib_error *err) {
  (void)err;
  *out = t->resp;
  t->resp = (struct http_response){0};
  return 0;
}

void http_transfer_cleanup(struct http_transfer *t) {
  if (t->multi && t->easy)
    curl_multi_remove_handle(t->multi, t->easy);
  if (t->easy)
    curl_easy_cleanup(t->easy);
  if (t->multi)
    curl_multi_cleanup(t->multi);
  http_headers_free(t->headers);
  free(t->ca_cert);
  tls_files_unref(t->certs_d);
  free(t->location);
  http_response_clear(&t->resp);
  secure_zero(t->errbuf, sizeof(t->errbuf));
  t->easy = NULL;
  t->multi = NULL;
  t->headers = NULL;
  t->ca_cert = NULL;
  t->certs_d = NULL;
  t->location = NULL;
}
