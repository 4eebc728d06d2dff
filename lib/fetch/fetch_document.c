/* SPDX-License-Identifier: Apache-2.0 */
/* fetch_document (fetch.h): a small document (stream metadata, a manifest by tag, a signature)
 * through the cache, revalidated; with --offline the cached copy. */
#include "base/error.h"
#include "base/redact.h"
#include "base/util.h"
#include "fetch/fetch.h"
#include "net/http_retry.h"

static int dup_into(char **slot, const char *v) {
  free(*slot);
  *slot = v ? strdup(v) : NULL;
  return !v || *slot ? 0 : -1;
}

int fetch_document(struct pull_cache *pc, const struct http_config *c, const struct http_request *req,
                   struct http_response *resp, lib_error *err) {
  if (!pc || !pc->cache)
    return http_get_retry(c, req, resp, err);
  _cleanup_free_ char *key = redact_url(req->url);
  if (!key)
    return error_oom(err);
  _cleanup_(cache_ref_clear) struct cache_ref ref = {.size = UINT64_MAX};
  int cached = cache_ref_get(pc->cache, key, &ref) && cache_blob_exists(pc->cache, ref.digest);
  size_t max = req->max_body ? (size_t)req->max_body : 16u << 20;
  if (pc->set->offline) {
    if (!cached)
      return error_set(err, VMPULL_E_NOT_FOUND, "%s is not in the cache (--offline)", key);
    http_response_clear(resp);
    resp->status = 200;
    int r = cache_blob_read(pc->cache, ref.digest, max, &resp->body, &resp->body_len, err);
    if (r < 0)
      return error_wrap(err, "%s", key);
    if (dup_into(&resp->content_type, ref.media_type) < 0)
      return error_oom(err);
    return 0;
  }
  _cleanup_headers_ struct curl_slist *headers = NULL;
  for (const struct curl_slist *h = req->headers; h; h = h->next)
    if (!(headers = curl_slist_append(headers, h->data)))
      return error_oom(err);
  const char *etag = cached ? http_etag_strong(ref.etag) : NULL;
  if (etag || (cached && ref.last_modified)) {
    _cleanup_free_ char *cond =
        etag ? xasprintf("If-None-Match: %s", etag) : xasprintf("If-Modified-Since: %s", ref.last_modified);
    if (!cond || !(headers = curl_slist_append(headers, cond)))
      return error_oom(err);
  }
  struct http_request creq = *req;
  creq.headers = headers;
  int r = http_get_retry(c, &creq, resp, err);
  if (r < 0)
    return r;
  if (resp->status == 304 && cached) {
    free(resp->body);
    resp->body = NULL;
    r = cache_blob_read(pc->cache, ref.digest, max, &resp->body, &resp->body_len, err);
    if (r == -VMPULL_E_NOT_FOUND) {
      /* Damaged or pruned: ask again without the condition. */
      error_clear(err);
      http_response_clear(resp);
      creq.headers = req->headers;
      return http_get_retry(c, &creq, resp, err);
    }
    if (r < 0)
      return r;
    resp->status = 200;
    if (!resp->content_type && ref.media_type && !(resp->content_type = strdup(ref.media_type)))
      return error_oom(err);
    return 0;
  }
  if (resp->status == 200 && (resp->etag || resp->last_modified)) {
    /* Without a validator a cached copy could never be reused online; keep it for --offline all the same. */
    char digest[80];
    lib_error ignored;
    if (cache_blob_write(pc->cache, resp->body, resp->body_len, digest, &ignored) == 0) {
      struct cache_ref nref = {.key = key,
                               .digest = digest,
                               .etag = resp->etag,
                               .last_modified = resp->last_modified,
                               .media_type = resp->content_type,
                               .size = resp->body_len};
      (void)cache_ref_put(pc->cache, &nref, &ignored);
    }
  } else if (resp->status == 200) {
    char digest[80];
    lib_error ignored;
    if (cache_blob_write(pc->cache, resp->body, resp->body_len, digest, &ignored) == 0) {
      struct cache_ref nref = {.key = key, .digest = digest, .media_type = resp->content_type, .size = resp->body_len};
      (void)cache_ref_put(pc->cache, &nref, &ignored);
    }
  }
  return 0;
}
