/* SPDX-License-Identifier: Apache-2.0 */
/* Opening a plan's bytes: the one dispatch on how they are reached (a file, a URL through the
 * cache, an OCI blob through the cache by digest). */
#include "base/error.h"
#include "base/util.h"
#include "fetch/fetch.h"
#include "oci/oci_digest.h"
#include "resolve/resolve.h"

static int open_url(struct resolved *r, lib_error *err) {
  struct pull_cache *pc = r->cache;
  /* Bytes promised by digest (fcos:// stream metadata) are a cache hit by that digest. */
  if (pc && r->expected_digest) {
    free(pc->want_digest);
    pc->want_digest = strdup(r->expected_digest);
    if (!pc->want_digest)
      return error_oom(err);
  }
  struct http_config c;
  pull_cache_http_config(pc, &r->plan.http, &c);
  struct http_request req = {
      .url = r->plan.location,
      .max_redirects = 10,
      .allow_insecure_redirect = !c.tls_verify,
  };
  _cleanup_(http_response_clear) struct http_response resp = {0};
  /* Through the cache: revalidated copy, resumed partial, or a new download (with retries). */
  int ret = fetch_url(pc, &c, &req, &resp, &r->src, &r->kept_disk_only, err);
  if (ret < 0)
    return ret;
  free(r->content_disposition);
  r->content_disposition = TAKE_PTR(resp.content_disposition);
  return 0;
}

static int open_blob(struct resolved *r, lib_error *err) {
  const struct byte_plan *p = &r->plan;
  struct byte_source *src = NULL;
  long status = 0;
  int ret = p->remote ? fetch_blob(r->cache, p->digest, p->what, p->open_at, p->target, p->blob, &src,
                                   &r->kept_disk_only, err)
                      : p->open_at(p->blob, 0, &status, &src, err);
  if (ret < 0)
    return ret;
  /* The tee hashes sha256 and the pull compares it; other algorithms are checked on the way. */
  if (!starts_with(p->digest, "sha256:")) {
    ret = oci_digest_source_new(src, p->digest, &src, err);
    if (ret < 0)
      return ret;
  }
  r->src = src;
  return 0;
}

/* The outcome reports the mirror from here on, also when the bytes then fail to come. */
static int note_mirror(struct resolved *r, lib_error *err) {
  struct pull_facts *f = r->cache ? r->cache->facts : NULL;
  if (!f || !r->mirror)
    return 0;
  free(f->mirror);
  f->mirror = strdup(r->mirror);
  return f->mirror ? 0 : error_oom(err);
}

static int open_plan(struct resolved *r, lib_error *err) {
  switch (r->plan.kind) {
  case BYTE_PLAN_FILE: return source_file_open_cancellable(r->plan.location, r->plan.cancel, &r->src, err);
  case BYTE_PLAN_URL: return open_url(r, err);
  case BYTE_PLAN_BLOB: return open_blob(r, err);
  default: return error_set(err, VMPULL_E_UNSUPPORTED, "%s: nothing to open", r->display ? r->display : "source");
  }
}

int resolved_open(struct resolved *r, lib_error *err) {
  int ret = note_mirror(r, err);
  if (ret < 0)
    return ret;
  ret = open_plan(r, err);
  if (ret < 0)
    return ret;
  /* The plan, not the cache session, tells the pull which cached blob it reads. */
  const char *served = r->cache ? r->cache->served_blob : NULL;
  free(r->cached_digest);
  r->cached_digest = NULL;
  if (served && !(r->cached_digest = strdup(served)))
    return error_oom(err);
  return 0;
}
