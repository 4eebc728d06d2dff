/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fcos://<stream>: read the stream metadata, choose the disk for the provider
 * and architecture, then pull its location like any URL, verified against
 * the sha256 the metadata gives (and served from the cache by that digest).
 */
#include "base/error.h"
#include "base/redact.h"
#include "base/util.h"
#include "fetch/fetch.h"
#include "net/http_retry.h"
#include "oci/oci_manifest.h"
#include "resolve/fcos_stream.h"
#include "resolve/resolve.h"

#define STREAM_MAX_BODY (8u << 20)

int resolve_fcos(const struct resolve_settings *s, struct resolved *r, lib_error *err) {
  const char *name;
  size_t name_len;
  int ret = fcos_stream_name(s->source, &name, &name_len, err);
  if (ret < 0)
    return ret;
  const char *given = s->stream_url;
  _cleanup_free_ char *url = given && *given ? strdup(given) : NULL;
  if (!url && !(given && *given)) {
    _cleanup_free_ char *stream = strndup(name, name_len);
    url = stream ? xasprintf(FCOS_STREAM_DEFAULT_URL, stream) : NULL;
  }
  if (!url)
    return error_oom(err);
  _cleanup_free_ char *shown = redact_url(url);
  if (!shown)
    return error_oom(err);

  struct oci_select sel = {0};
  ret = oci_select_init(&sel, &s->oci.selection, err);
  if (ret < 0)
    return ret;

  struct http_config c;
  pull_cache_http_config(r->cache, &s->http, &c);
  struct http_request req = {
      .url = url,
      .max_redirects = 10,
      .allow_insecure_redirect = !c.tls_verify,
      .max_body = STREAM_MAX_BODY,
  };
  _cleanup_(http_response_clear) struct http_response resp = {0};
  ret = fetch_document(r->cache, &c, &req, &resp, err);
  if (ret == 0 && resp.status != 200)
    ret = http_status_error(&resp, err);
  if (ret < 0)
    return error_wrap(err, "stream metadata %s", shown);
  _cleanup_(fcos_artifact_clear) struct fcos_artifact art = {0};
  ret = fcos_stream_select(resp.body, resp.body_len, sel.arch, s->oci.selection.provider, &art, err);
  if (ret < 0)
    return error_wrap(err, "stream metadata %s", shown);

  /* From here it is a plain URL whose bytes are promised by the metadata (resolved_open serves
   * them from the cache by that digest). */
  ret = resolve_http(s, art.location, r, err);
  if (ret < 0)
    return ret;
  free(r->expected_digest);
  r->expected_digest = TAKE_PTR(art.sha256);
  /* Fedora signs every artifact (detached, over the file as served); the pull checks it, or says
   * why not (lib/api/pull_signature.c). */
  r->signature_expected = 1;
  r->signature_url = TAKE_PTR(art.signature);
  _cleanup_free_ char *stream = strndup(name, name_len);
  r->reference = stream ? xasprintf("fedora-coreos %s %s (%s %s)", stream, art.release ? art.release : "", art.platform,
                                    art.format)
                        : NULL;
  if (!r->reference)
    return error_oom(err);
  return 0;
}
