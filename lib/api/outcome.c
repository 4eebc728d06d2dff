/* SPDX-License-Identifier: Apache-2.0 */
/* vmpull_outcome: allocation, cleaning, and the accessors (include/vmpull.h). */
#include "api/outcome.h"

#include "base/util.h"

struct vmpull_outcome *outcome_new(void) {
  struct vmpull_outcome *o = calloc(1, sizeof(*o));
  if (!o)
    return NULL;
  o->fetched = o->size = o->allocated = UINT64_MAX;
  return o;
}

int outcome_clean(struct vmpull_outcome *o) {
  /* What a server, a manifest or an argument named reaches the caller clean. */
  /* (the path is the caller's own, checked printable, and must name the file byte for byte) */
  char **outside[] = {&o->source, &o->image_name, &o->reference, &o->content_disposition, &o->facts.mirror};
  for (size_t i = 0; i < ARRAY_SIZE(outside); i++)
    if (text_clean_in_place(outside[i]) < 0)
      return -1;
  return 0;
}

void outcome_to_result(struct vmpull_outcome *o, vmpull_result *res) {
  res->path = TAKE_PTR(o->path);
  res->source = TAKE_PTR(o->source);
  res->format = TAKE_PTR(o->format);
  res->digest = TAKE_PTR(o->digest);
  res->image_name = TAKE_PTR(o->image_name);
  res->content_disposition = TAKE_PTR(o->content_disposition);
  res->reference = TAKE_PTR(o->reference);
  res->fetched = o->fetched;
  res->size = o->size;
  res->allocated = o->allocated;
}

VMPULL_PUBLIC void vmpull_outcome_free(vmpull_outcome *o) {
  if (!o)
    return;
  free(o->path);
  free(o->source);
  free(o->format);
  free(o->digest);
  free(o->image_name);
  free(o->content_disposition);
  free(o->reference);
  pull_facts_clear(&o->facts);
  free(o);
}

#define STRING_FACT(name)                                                                                              \
  VMPULL_PUBLIC const char *vmpull_outcome_##name(const vmpull_outcome *o) {                                           \
    return o ? o->name : NULL;                                                                                         \
  }
STRING_FACT(path)
STRING_FACT(source)
STRING_FACT(format)
STRING_FACT(digest)
STRING_FACT(image_name)
STRING_FACT(content_disposition)
STRING_FACT(reference)

VMPULL_PUBLIC const char *vmpull_outcome_mirror(const vmpull_outcome *o) {
  return o ? o->facts.mirror : NULL;
}

VMPULL_PUBLIC uint64_t vmpull_outcome_fetched(const vmpull_outcome *o) {
  return o ? o->fetched : UINT64_MAX;
}

VMPULL_PUBLIC uint64_t vmpull_outcome_size(const vmpull_outcome *o) {
  return o ? o->size : UINT64_MAX;
}

VMPULL_PUBLIC uint64_t vmpull_outcome_allocated(const vmpull_outcome *o) {
  return o ? o->allocated : UINT64_MAX;
}

VMPULL_PUBLIC uint64_t vmpull_outcome_bytes_transferred(const vmpull_outcome *o) {
  return o ? o->facts.bytes_transferred : 0;
}

VMPULL_PUBLIC uint64_t vmpull_outcome_resumed_from(const vmpull_outcome *o) {
  return o ? o->facts.resumed_from : 0;
}

VMPULL_PUBLIC vmpull_cache_use vmpull_outcome_cache(const vmpull_outcome *o) {
  return o ? o->facts.cache : VMPULL_CACHE_NONE;
}

VMPULL_PUBLIC const char *vmpull_cache_use_name(vmpull_cache_use use) {
  switch (use) {
  case VMPULL_CACHE_NONE: return "none";
  case VMPULL_CACHE_MISS: return "miss";
  case VMPULL_CACHE_HIT: return "hit";
  case VMPULL_CACHE_REVALIDATED: return "revalidated";
  case VMPULL_CACHE_KEPT_DISK: return "kept-disk";
  case VMPULL_CACHE_STALE: return "stale";
  }
  return "unknown";
}

VMPULL_PUBLIC const char *vmpull_outcome_signature_type(const vmpull_outcome *o) {
  return o ? o->facts.signature_type : NULL;
}

VMPULL_PUBLIC const char *vmpull_outcome_signature_key(const vmpull_outcome *o) {
  return o ? o->facts.signature_key : NULL;
}

VMPULL_PUBLIC int vmpull_outcome_error_code(const vmpull_outcome *o) {
  return o ? o->error.code : 0;
}

VMPULL_PUBLIC const char *vmpull_outcome_error_message(const vmpull_outcome *o) {
  return o ? o->error.message : NULL;
}

VMPULL_PUBLIC int vmpull_outcome_errno(const vmpull_outcome *o) {
  return o ? o->error.sys_errno : 0;
}

VMPULL_PUBLIC int vmpull_outcome_http_status(const vmpull_outcome *o) {
  return o ? o->error.http_status : 0;
}

VMPULL_PUBLIC int vmpull_outcome_curl_code(const vmpull_outcome *o) {
  return o ? o->error.curl_code : 0;
}
