/* SPDX-License-Identifier: Apache-2.0 */
/* The walk from a root document (an index, a manifest, a layout's index.json) down to the layer
 * pull takes, or to every disk (--all): the documents are fetched through the store's callback
 * and parsed and chosen from with oci_manifest.c. */
#include "oci/oci_walk.h"

#include "base/error.h"
#include "base/util.h"
#include "oci/oci_digest.h"

void oci_target_clear(struct oci_target *t) {
  free(t->index_digest);
  free(t->manifest_digest);
  oci_descriptor_clear(&t->entry);
  oci_descriptor_clear(&t->layer);
  *t = (struct oci_target){0};
}

struct walk_ctx {
  const struct oci_walk *w;
  int all;
  oci_target_fn fn;
  void *fn_data;
  struct oci_target *one; /* walk_one's result */
  int found;
  const char *root_index_digest; /* the root's digest when it is an index, for index_digest's fallback */
};

static int emit(struct walk_ctx *c, const struct oci_doc *m, const char *digest, const struct oci_descriptor *via,
                const char *index_digest, lib_error *err) {
  size_t li;
  int tar;
  int r = oci_manifest_layer(m, &li, &tar, err);
  if (r < 0)
    return error_wrap(err, "manifest %s", digest);
  struct oci_target t = {.tar_layer = tar};
  if (!index_digest)
    index_digest = c->root_index_digest;
  if ((index_digest && !(t.index_digest = strdup(index_digest))) || !(t.manifest_digest = strdup(digest)) ||
      (via && oci_descriptor_copy(&t.entry, via) < 0) || oci_descriptor_copy(&t.layer, &m->items[li]) < 0) {
    oci_target_clear(&t);
    return error_oom(err);
  }
  if (c->all) {
    r = c->fn(c->fn_data, &t, err);
    oci_target_clear(&t);
    return r;
  }
  *c->one = t;
  c->found = 1;
  return 0;
}

/* Entries --all visits: every disk, else every image entry except attestation-like ones (unknown platform). */
static int wanted_for_all(const struct oci_doc *index, const struct oci_descriptor *d) {
  if (oci_index_has_disks(index))
    return d->disktype != NULL;
  return oci_media_is_document(d->media_type) && !(d->os && !strcmp(d->os, "unknown"));
}

static int walk_doc(struct walk_ctx *c, const struct oci_doc *doc, const char *digest, const char *name,
                    const struct oci_descriptor *via, const char *index_digest, int depth, lib_error *err);

static int walk_entry(struct walk_ctx *c, const struct oci_doc *index, size_t i, const char *index_name,
                      const struct oci_descriptor *via, const char *index_digest, int depth, lib_error *err) {
  const struct oci_descriptor *d = &index->items[i];
  if (!oci_media_is_document(d->media_type))
    return error_set(err, VMPULL_E_MANIFEST, "%s: entry %s has media type %.100s, not a manifest or index", index_name,
                     d->digest, d->media_type);
  if (d->size > OCI_DOC_MAX)
    return error_set(err, VMPULL_E_LIMIT, "%s: %s %s is %llu bytes, more than the %u MiB limit", index_name,
                     oci_media_is_index(d->media_type) ? "index" : "manifest", d->digest, (unsigned long long)d->size,
                     OCI_DOC_MAX >> 20);
  if (oci_media_is_index(d->media_type) && depth + 1 > OCI_NESTING_MAX)
    return error_set(err, VMPULL_E_LIMIT, "%s: indexes nested more than %d deep", index_name, OCI_NESTING_MAX);
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  int r = c->w->fetch(c->w->userdata, d, &buf, &len, err);
  if (r < 0)
    return r;
  _cleanup_(oci_doc_clear) struct oci_doc child = {0};
  const char *kind = oci_media_is_index(d->media_type) ? "index" : "manifest";
  r = oci_doc_parse(buf, len, d->media_type, &child, err);
  if (r < 0)
    return error_wrap(err, "%s %s", kind, d->digest);
  /* Keep what an outer entry said about platform/disktype when an inner one is silent. */
  struct oci_descriptor merged = *d;
  if (via) {
    if (!merged.architecture) {
      merged.architecture = via->architecture;
      merged.os = via->os;
      merged.variant = via->variant;
    }
    if (!merged.disktype)
      merged.disktype = via->disktype;
  }
  _cleanup_free_ char *child_name = xasprintf("%s %s", kind, d->digest);
  if (!child_name)
    return error_oom(err);
  return walk_doc(c, &child, d->digest, child_name, &merged, index_digest, depth + 1, err);
}

static int walk_doc(struct walk_ctx *c, const struct oci_doc *doc, const char *digest, const char *name,
                    const struct oci_descriptor *via, const char *index_digest, int depth, lib_error *err) {
  if (doc->kind == OCI_DOC_MANIFEST)
    return emit(c, doc, digest, via, index_digest, err);
  if (!index_digest && !(depth == 0 && c->w->root_is_layout))
    index_digest = digest;
  int r;
  size_t chosen;
  if (depth == 0 && c->w->ref_name) {
    r = oci_index_find_ref(doc, c->w->ref_name, &chosen, err);
    if (r < 0)
      return error_wrap(err, "%s", name);
    return walk_entry(c, doc, chosen, name, via, index_digest, depth, err);
  }
  if (c->all) {
    size_t visited = 0;
    for (size_t i = 0; i < doc->n_items; i++) {
      if (!wanted_for_all(doc, &doc->items[i]))
        continue;
      r = walk_entry(c, doc, i, name, via, index_digest, depth, err);
      if (r < 0)
        return r;
      visited++;
    }
    if (!visited)
      return error_set(err, VMPULL_E_NO_MATCH, "%s: no disk entries", name);
    return 0;
  }
  r = oci_index_select(doc, &c->w->sel, &chosen, err);
  if (r < 0)
    return error_wrap(err, "%s", name);
  return walk_entry(c, doc, chosen, name, via, index_digest, depth, err);
}

static int walk_root(struct walk_ctx *c, lib_error *err) {
  const struct oci_walk *w = c->w;
  char computed[OCI_DIGEST_MAX];
  const char *digest = w->root_digest;
  if (!digest) {
    int r = oci_digest_buffer("sha256:", w->root, w->root_len, computed, err);
    if (r < 0)
      return r;
    digest = computed;
  }
  _cleanup_(oci_doc_clear) struct oci_doc root = {0};
  int r = oci_doc_parse(w->root, w->root_len, w->root_type, &root, err);
  const char *kind = r == 0 && root.kind == OCI_DOC_MANIFEST ? "manifest" : "index";
  _cleanup_free_ char *name = w->root_name ? strdup(w->root_name) : xasprintf("%s %s", kind, digest);
  if (!name)
    return error_oom(err);
  if (r < 0)
    return error_wrap(err, "%s", name);
  if (root.kind == OCI_DOC_MANIFEST && w->ref_name)
    return error_set(err, VMPULL_E_USAGE, "%s is a manifest; a REF needs an index to pick from", name);
  if (root.kind == OCI_DOC_INDEX)
    c->root_index_digest = digest;
  return walk_doc(c, &root, digest, name, NULL, NULL, 0, err);
}

int oci_walk_one(const struct oci_walk *w, struct oci_target *out, lib_error *err) {
  *out = (struct oci_target){0};
  struct walk_ctx c = {.w = w, .one = out};
  int r = walk_root(&c, err);
  if (r < 0) {
    oci_target_clear(out);
    return r;
  }
  return 0;
}

int oci_walk_all(const struct oci_walk *w, oci_target_fn fn, void *fn_data, lib_error *err) {
  struct walk_ctx c = {.w = w, .all = 1, .fn = fn, .fn_data = fn_data};
  return walk_root(&c, err);
}
