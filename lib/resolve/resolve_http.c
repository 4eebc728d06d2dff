/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resolver for plain http(s) URLs: the bytes are the response body (fetched when the plan is
 * opened, resolved_open), the image
 * file name is the last URL path segment (percent-decoded, no query or
 * fragment). Content-Disposition is reported but never names the output:
 * the name must be predictable from the URL alone.
 */
#include "base/error.h"
#include "base/redact.h"
#include "base/util.h"
#include "net/http.h"
#include "resolve/resolve.h"

/* The last path segment, percent-decoded; NULL (no error) when there is none
 * or it is not usable as a file name. */
static int url_image_name(CURLU *u, char **out, lib_error *err) {
  *out = NULL;
  _cleanup_curl_free_ char *path = NULL;
  if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK || !path)
    return 0;
  const char *slash = strrchr(path, '/');
  const char *seg = slash ? slash + 1 : path;
  if (!*seg)
    return 0;
  int len = 0;
  _cleanup_curl_free_ char *decoded = curl_easy_unescape(NULL, seg, 0, &len);
  if (!decoded)
    return error_oom(err);
  if ((size_t)len != strlen(decoded)) /* %00 */
    return 0;
  lib_error ignored;
  if (image_name_check(decoded, &ignored) < 0)
    return 0;
  *out = strdup(decoded);
  return *out ? 0 : error_oom(err);
}

int resolve_http(const struct resolve_settings *s, const char *url, struct resolved *r, lib_error *err) {
  r->display = redact_url(url);
  if (!r->display)
    return error_oom(err);

  _cleanup_curl_url_ CURLU *u = curl_url();
  if (!u)
    return error_oom(err);
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
    return error_set(err, VMPULL_E_USAGE, "not a valid URL");
  _cleanup_curl_free_ char *scheme = NULL;
  _cleanup_(curl_free_secretp) char *password = NULL, *user = NULL;
  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
  curl_url_get(u, CURLUPART_USER, &user, 0);
  curl_url_get(u, CURLUPART_PASSWORD, &password, 0);

  int ret = url_image_name(u, &r->image_name, err);
  if (ret < 0)
    return ret;
  if (!r->image_name) { /* fine with -o: the name only drives the naming rule */
    if (!s->naming.output)
      return error_set(err, VMPULL_E_USAGE,
                       "the URL has no file name to name the output after (give one with -o/--output)");
  }

  if ((user || password) && scheme && strcasecmp(scheme, "http") == 0)
    hooks_warn(&s->hooks, "%s: credentials in the URL are sent unencrypted over plain http", r->display);

  /* Plain URLs carry no size promise of their own: Content-Length, if any, is
   * the source's size (progress), and curl enforces it. */
  r->expected_size = UINT64_MAX;
  r->plan.kind = BYTE_PLAN_URL;
  r->plan.http = s->http;
  free_secret(r->plan.location);
  r->plan.location = strdup(url);
  return r->plan.location ? 0 : error_oom(err);
}
