/* SPDX-License-Identifier: Apache-2.0 */
/* Authentication to a registry (registry_auth.h). Credentials go only to the registry host and its
 * token realm, over https unless --tls-verify=false. */
#include "oci/registry_auth.h"

#include "base/redact.h"
#include "base/util.h"
#include "net/http_retry.h"
#include "oci/oci_challenge.h"

static int url_add_param(char **url, const char *key, const char *value, lib_error *err) {
  char *esc = curl_easy_escape(NULL, value, 0);
  if (!esc)
    return error_oom(err);
  char *n = xasprintf("%s%s%s=%s", *url, strchr(*url, '?') ? "&" : "?", key, esc);
  curl_free(esc);
  if (!n)
    return error_oom(err);
  free(*url);
  *url = n;
  return 0;
}

int registry_lookup_creds(struct registry_store *s, lib_error *err) {
  if (s->creds_state)
    return 0;
  int r = oci_creds_find(&s->set.auth, s->ref.registry, s->ref.repository, &s->creds, err);
  if (r < 0)
    return r;
  s->creds_state = r ? 1 : -1;
  return 0;
}

static int set_authorization(struct registry_store *s, const char *scheme, const char *value, lib_error *err) {
  free_secret(s->authorization);
  s->authorization = xasprintf("Authorization: %s %s", scheme, value);
  return s->authorization ? 0 : error_oom(err);
}

int registry_auth_refused(struct registry_store *s, const char *who, long status, lib_error *err) {
  if (s->creds_state > 0)
    error_set(err, VMPULL_E_AUTH, "%sthe %s refused the credentials from %s (HTTP %ld)", s->shown_ref, who,
              s->creds.origin, status);
  else if (s->set.auth.none)
    error_set(err, VMPULL_E_AUTH, "%sauthentication required, and --no-creds sends no credentials", s->shown_ref);
  else if (s->set.auth.mirror_of)
    error_set(err, VMPULL_E_AUTH,
              "%sauthentication required; --creds is for %s only: put credentials for %s in an auth file", s->shown_ref,
              s->set.auth.mirror_of, s->ref.registry);
  else
    error_set(err, VMPULL_E_AUTH, "%sauthentication required and no credentials found (use --creds or an auth file)",
              s->shown_ref);
  error_note_http(err, (int)status);
  return -err->code;
}

static int fetch_token(struct registry_store *s, const struct oci_challenge *ch, lib_error *err) {
  if (strncasecmp(ch->realm, "https://", 8) != 0 && strncasecmp(ch->realm, "http://", 7) != 0)
    return error_set(err, VMPULL_E_AUTH, "token realm '%.200s' is not an http(s) URL", ch->realm);
  int plain = strncasecmp(ch->realm, "http://", 7) == 0;
  _cleanup_free_ char *url = strdup(ch->realm);
  if (!url)
    return error_oom(err);
  int r = 0;
  if (ch->service && *ch->service)
    r = url_add_param(&url, "service", ch->service, err);
  _cleanup_free_ char *scope =
      ch->scope && *ch->scope ? strdup(ch->scope) : xasprintf("repository:%s:pull", s->ref.repository);
  if (r == 0 && !scope)
    r = error_oom(err);
  if (r == 0)
    r = url_add_param(&url, "scope", scope, err);
  if (r < 0)
    return r;

  _cleanup_secret_headers_ struct curl_slist *headers = NULL;
  if (s->creds_state > 0) {
    if (plain && s->http.tls_verify)
      return error_set(err, VMPULL_E_AUTH,
                       "token realm %.200s is plain http: credentials are not sent unencrypted (unless "
                       "--tls-verify=false)",
                       ch->realm);
    _cleanup_secret_ char *basic = oci_basic_authorization(&s->creds);
    _cleanup_secret_ char *line = basic ? xasprintf("Authorization: %s", basic) : NULL;
    if (!line)
      return error_oom(err);
    r = registry_headers_add(&headers, line, err);
    if (r < 0)
      return r;
  }
  struct http_request req = {
      .url = url,
      .headers = headers,
      .max_redirects = 3,
      .allow_insecure_redirect = !s->http.tls_verify,
      .max_body = 1u << 20,
  };
  _cleanup_(http_response_clear) struct http_response resp = {0};
  r = http_get_retry(&s->http, &req, &resp, err);
  _cleanup_free_ char *realm_shown = redact_source(ch->realm);
  if (r < 0)
    return error_wrap(err, "token from %s", realm_shown ? realm_shown : "realm");
  if (resp.status == 401 || resp.status == 403)
    return registry_auth_refused(s, "token service", resp.status, err);
  if (resp.status != 200) {
    registry_status_error(&resp, err);
    return error_wrap(err, "token from %s", realm_shown ? realm_shown : "realm");
  }
  _cleanup_secret_ char *token = NULL;
  r = oci_token_parse(resp.body, resp.body_len, &token, err);
  if (resp.body)
    secure_zero(resp.body, resp.body_len);
  if (r < 0)
    return error_wrap(err, "token from %s", realm_shown ? realm_shown : "realm");
  return set_authorization(s, "Bearer", token, err);
}

int registry_authenticate(struct registry_store *s, const struct http_response *resp, lib_error *err) {
  _cleanup_(oci_challenge_clear) struct oci_challenge ch = {0};
  int r = oci_challenge_parse(resp->www_authenticate, &ch, err);
  if (r < 0)
    return *s->shown_ref ? error_wrap(err, "%.*s", (int)strlen(s->shown_ref) - 2, s->shown_ref) : r;
  r = registry_lookup_creds(s, err);
  if (r < 0)
    return error_wrap(err, "%scredentials", s->shown_ref);
  if (ch.scheme == OCI_AUTH_BEARER)
    return fetch_token(s, &ch, err);
  if (s->creds_state < 0)
    return registry_auth_refused(s, "registry", resp->status, err);
  if (starts_with(s->base_url, "http://") && s->http.tls_verify)
    return error_set(err, VMPULL_E_AUTH, "%scredentials are not sent over plain http", s->shown_ref);
  _cleanup_secret_ char *basic = oci_basic_authorization(&s->creds);
  if (!basic)
    return error_oom(err);
  free_secret(s->authorization);
  s->authorization = xasprintf("Authorization: %s", basic);
  return s->authorization ? 0 : error_oom(err);
}
