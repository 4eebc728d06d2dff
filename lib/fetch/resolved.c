/* SPDX-License-Identifier: Apache-2.0 */
#include "fetch/resolved.h"

#include "base/util.h"

#include <stdlib.h>

static void byte_plan_clear(struct byte_plan *p) {
  free_secret(p->location); /* a URL may carry a password */
  free(p->digest);
  if (p->blob_free && p->blob)
    p->blob_free(p->blob);
  *p = (struct byte_plan){0};
}

void resolved_clear(struct resolved *r) {
  source_free(r->src);
  byte_plan_clear(&r->plan);
  free(r->image_name);
  free(r->display);
  free(r->expected_digest);
  free(r->kept_disk_only);
  free(r->cached_digest);
  free(r->reference);
  free(r->content_disposition);
  free(r->mirror);
  free(r->verified_key);
  free(r->signature_url);
  *r = (struct resolved){.expected_size = UINT64_MAX};
}

void blob_target_clear(struct blob_target *t) {
  free_secret(t->url);
  http_headers_free(t->headers);
  *t = (struct blob_target){0};
}
