/* SPDX-License-Identifier: Apache-2.0 */
/* The first bytes of a plan's image (plan_peek.h). */
#include "resolve/plan_peek.h"

#include "base/error.h"
#include "base/util.h"
#include "net/http.h"

static int peek_url(const struct resolved *r, uint8_t *buf, size_t cap, size_t *got, uint64_t *size, lib_error *err) {
  struct http_request req = {
      .url = r->plan.location,
      .max_redirects = 10,
      .allow_insecure_redirect = !r->plan.http.tls_verify,
      .range_length = cap,
  };
  _cleanup_(http_response_clear) struct http_response resp = {0};
  _cleanup_source_ struct byte_source *src = NULL;
  int ret = http_source_open(&r->plan.http, &req, &resp, &src, err);
  if (ret < 0)
    return error_wrap(err, "%s", r->display);
  *size = resp.status == 206 ? resp.content_range_total : resp.content_length;
  /* A 200 is the whole image: only its first cap bytes are read, then the transfer is dropped. */
  ret = source_read_full(src, buf, cap, got, err);
  return ret < 0 ? error_wrap(err, "%s", r->display) : 0;
}

int resolved_peek(const struct resolved *r, uint8_t *buf, size_t cap, size_t *got, uint64_t *size, lib_error *err) {
  *got = 0;
  *size = UINT64_MAX;
  if (r->plan.kind == BYTE_PLAN_URL)
    return peek_url(r, buf, cap, got, size, err);
  if (r->plan.kind != BYTE_PLAN_FILE)
    return error_set(err, VMPULL_E_UNSUPPORTED, "%s: nothing to peek at", r->display ? r->display : "source");
  _cleanup_source_ struct byte_source *src = NULL;
  int ret = source_file_open_cancellable(r->plan.location, r->plan.cancel, &src, err);
  if (ret < 0)
    return ret;
  *size = src->size;
  return source_read_full(src, buf, cap, got, err);
}
