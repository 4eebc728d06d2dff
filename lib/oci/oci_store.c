/* SPDX-License-Identifier: Apache-2.0 */
/* What every OCI store shares: its lifetime, document checks, and handing the chosen layer's blob on. */
#include "oci/oci_store.h"

#include "base/error.h"
#include "base/util.h"
#include "fetch/resolved.h"
#include "oci/oci_digest.h"

void oci_store_free(struct oci_store *s) {
  if (!s)
    return;
  if (s->extra_refs) {
    s->extra_refs--;
    return;
  }
  free(s->display);
  free(s->root);
  free(s->mirror);
  s->free(s);
}

int oci_check_document(const struct oci_descriptor *d, const char *buf, size_t len, const char *what, lib_error *err) {
  if (len != d->size)
    return error_set(err, VMPULL_E_DIGEST, "%s: size %zu, but the descriptor says %llu", what, len,
                     (unsigned long long)d->size);
  return oci_digest_verify(d->digest, buf, len, what, err);
}

int oci_layout_doc_size_check(const struct oci_descriptor *d, const char *kind, lib_error *err) {
  if (d->size > OCI_DOC_MAX)
    return error_set(err, VMPULL_E_LIMIT, "%s %s is %llu bytes, more than the %u MiB limit", kind, d->digest,
                     (unsigned long long)d->size, OCI_DOC_MAX >> 20);
  return 0;
}

int oci_layout_doc_take(const struct oci_descriptor *d, const char *kind, char **data, size_t len, char **buf,
                        size_t *buf_len, lib_error *err) {
  char what[200];
  snprintf(what, sizeof(what), "%s %s", kind, d->digest);
  int r = oci_check_document(d, *data, len, what, err);
  if (r < 0)
    return r;
  *buf_len = len;
  *buf = TAKE_PTR(*data);
  return 0;
}

int oci_layout_walk_init(struct oci_store *s, const struct oci_selection *want, size_t root_len, oci_fetch_fn fetch,
                         void *userdata, const char *ref_name, lib_error *err) {
  int r = oci_select_init(&s->walk.sel, want, err);
  if (r < 0)
    return r;
  s->walk.root = s->root;
  s->walk.root_len = root_len;
  s->walk.root_name = "index.json";
  s->walk.root_is_layout = 1;
  s->walk.root_type = OCI_MT_INDEX;
  s->walk.fetch = fetch;
  s->walk.userdata = userdata;
  s->walk.ref_name = ref_name;
  return 0;
}

char *oci_layout_pinned_reference(struct oci_store *s, const char *manifest_digest) {
  (void)s;
  return strdup(manifest_digest);
}

/* The plan's context: the store (one more reference) and the layer's descriptor. */
struct blob_at {
  struct oci_store *s;
  struct oci_descriptor d;
};

static int open_blob_at(void *ctx, uint64_t offset, long *status, struct byte_source **out, lib_error *err) {
  struct blob_at *b = ctx;
  if (!b->s->open_blob_at) /* a local store: always whole */
    return b->s->open_blob(b->s, &b->d, out, err);
  return b->s->open_blob_at(b->s, &b->d, offset, status, out, err);
}

static void blob_at_free(void *ctx) {
  struct blob_at *b = ctx;
  oci_descriptor_clear(&b->d);
  oci_store_free(b->s);
  free(b);
}

static int blob_target_of(void *ctx, int renew, struct blob_target *t, lib_error *err) {
  struct blob_at *b = ctx;
  return b->s->blob_target(b->s, &b->d, renew, t, err);
}

int oci_resolve_target(struct oci_store *s, const struct oci_target *t, struct resolved *r, lib_error *err) {
  const struct oci_descriptor *l = &t->layer;
  struct blob_at *b = calloc(1, sizeof(*b));
  if (!b)
    return error_oom(err);
  if (oci_descriptor_copy(&b->d, l) < 0) {
    free(b);
    return error_oom(err);
  }
  b->s = oci_store_ref(s);
  r->plan.kind = BYTE_PLAN_BLOB;
  r->plan.blob = b;
  r->plan.blob_free = blob_at_free;
  r->plan.open_at = open_blob_at;
  r->plan.target = s->blob_target ? blob_target_of : NULL;
  r->plan.what = s->display;
  /* A remote blob goes through the cache by digest: reused, resumed, or filled as it streams. */
  r->plan.remote = s->open_blob_at && s->cache;
  r->plan.digest = strdup(l->digest);
  /* The tee hashes sha256 and pull.c compares it; other algorithms are checked on the way. */
  if (starts_with(l->digest, "sha256:") && !(r->expected_digest = strdup(l->digest)))
    return error_oom(err);
  r->expected_size = l->size;
  r->tar_layer = t->tar_layer;
  /* A tar layer is renamed after its entry; until then the title (or the digest) names it. */
  r->image_name = l->title ? strdup(l->title) : xasprintf("layer-%.12s.tar", l->digest + 7);
  r->display = strdup(s->display);
  r->reference = s->pinned_reference(s, t->manifest_digest);
  if (s->mirror && !(r->mirror = strdup(s->mirror)))
    return error_oom(err);
  if (!r->plan.digest || !r->image_name || !r->display || !r->reference)
    return error_oom(err);
  return 0;
}
