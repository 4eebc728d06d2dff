/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When the bytes of a segmented download cannot land (http_segments.h: land_failed): a write into
 * fd, or the record of what it holds, failed (a full disk, a quota, EIO). Landing only saves time,
 * so the pull goes on: the ranges stop, the caller drops what fd held, and the rest comes over one
 * connection from the byte the reader reached, straight to the reader, landing nowhere. That is
 * the first connection when it still streams (it is always at the reader's byte: the reader takes
 * its bytes in order and lets it go at the first piece someone else has), else one new request
 * for the rest, held to what the ranges were held to.
 */
#include "base/error.h"
#include "base/util.h"
#include "net/http_retry.h"
#include "net/http_segments.h"
#include "net/http_segments_state.h"

void seg_land_failed_locked(struct seg_state *s, int errnum, const lib_error *why) {
  if (s->land_errno == 0) {
    s->land_errno = errnum > 0 ? errnum : EIO;
    if (why)
      s->land_why = *why;
  }
  s->stop = 1;
  pthread_cond_broadcast(&s->cond);
}

static int same_file(const struct seg_state *s, const struct http_response *resp, uint64_t total) {
  const char *v = s->validator;
  if (total != UINT64_MAX && total != s->total)
    return 0;
  return !v || (resp->etag && strcmp(resp->etag, v) == 0) ||
         (resp->last_modified && strcmp(resp->last_modified, v) == 0);
}

/* A 200 from byte 0 under another validator or length: the file changed on the server. Its new
 * version goes to c.restart while it takes one, as a retrying body hands it over; the read fails. */
static int changed(struct seg_state *s, struct http_response *resp, struct byte_source *fresh, lib_error *err) {
  struct http_restart *restart = s->c.restart;
  if (restart && restart->left > 0 && !restart->src && !s->handed_over) {
    s->handed_over = 1;
    restart->src = fresh;
    restart->resp = *resp;
    *resp = (struct http_response){0};
    restart->left--;
  } else {
    source_free(fresh);
  }
  return error_set(err, VMPULL_E_HTTP, "%s: changed on the server during the download", s->shown);
}

/* The next request goes where a refused one should (401/403/410: a token or a signed URL that
 * expired): the caller's renew, else the URL first asked for. 0: nowhere new. */
static int renew_target(struct seg_state *s, lib_error *err) {
  if (s->renew) {
    char *url = NULL;
    struct curl_slist *headers = NULL;
    int r = s->renew(s->renew_data, &url, &headers, err);
    if (r < 0)
      return r;
    free_secret(s->url);
    s->url = url;
    http_headers_free(s->headers);
    s->headers = headers;
    return 1;
  }
  if (!s->url_first || strcmp(s->url, s->url_first) == 0)
    return 0;
  char *url = strdup(s->url_first);
  if (!url)
    return error_oom(err);
  free_secret(s->url);
  s->url = url;
  return 1;
}

/* One request for bytes [pos, total), as a retrying body (a break continues it), into s->first. */
static int open_rest(struct seg_state *s, lib_error *err) {
  for (int renewed = 0;; renewed = 1) {
    struct http_request req = {
        .url = s->url,
        .headers = s->headers,
        .max_redirects = 10,
        .allow_insecure_redirect = !s->c.tls_verify,
        .range_start = s->pos,
        .if_range = s->validator,
    };
    _cleanup_(http_response_clear) struct http_response resp = {0};
    _cleanup_source_ struct byte_source *rest = NULL;
    int r = http_open_retry(&s->c, &req, &resp, &rest, err);
    if (r < 0) {
      int expired = resp.status == 401 || resp.status == 403 || resp.status == 410;
      if (!expired || renewed)
        return r;
      lib_error why = *err;
      r = renew_target(s, err);
      if (r <= 0) {
        if (r == 0)
          *err = why;
        return r < 0 ? r : -why.code;
      }
      continue;
    }
    if (!rest)
      return error_set(err, VMPULL_E_HTTP, "%s: HTTP %ld without a body", s->shown, resp.status);
    if (resp.status == 206) {
      if (resp.content_range_start != s->pos || !same_file(s, &resp, resp.content_range_total))
        return error_set(err, VMPULL_E_HTTP, "%s: changed on the server during the download", s->shown);
    } else {
      if (!same_file(s, &resp, resp.content_length))
        return changed(s, &resp, TAKE_PTR(rest), err);
      r = http_skip_body(rest, s->pos, s->shown, "", err); /* the same file, its range ignored */
      if (r < 0)
        return r;
    }
    s->first = TAKE_PTR(rest);
    return 0;
  }
}

int seg_fall_back(struct seg_state *s, lib_error *err) {
  /* Nothing writes into fd or its record once the transfer thread is gone: only then may the
   * caller drop them. */
  seg_stop_engine(s);
  s->one_connection = 1;
  s->checkpoint = NULL;
  s->first_into_fd = 0;
  closep(&s->fd);
  const lib_error *why = s->land_why.code != VMPULL_OK ? &s->land_why : NULL;
  http_log_request(&s->c, s->url, "the bytes cannot land (%s); one connection from byte %llu",
                   why ? why->message : strerror(s->land_errno), (unsigned long long)s->pos);
  if (s->land_failed)
    s->land_failed(s->land_failed_data, s->land_errno, why);
  if (s->first || s->pos >= s->total)
    return 0;
  return open_rest(s, err);
}
