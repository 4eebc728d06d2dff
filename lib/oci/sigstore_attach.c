/* SPDX-License-Identifier: Apache-2.0 */
/* Reading sigstore attachments from a registry or a layout (sigstore_attach.h). */
#include "oci/sigstore_attach.h"

#include "base/error.h"
#include "base/json_util.h"
#include "base/util.h"
#include "fetch/document_cache.h"
#include "oci/oci_build.h"
#include "oci/oci_layout_write.h"
#include "oci/oci_manifest.h"

#include <json-c/json.h>

void sigstore_attachments_clear(struct sigstore_attachments *a) {
  free(a->tag);
  free(a->manifest);
  free(a->manifest_digest);
  for (size_t i = 0; i < a->n_payloads; i++) {
    free(a->payloads[i].payload);
    free(a->payloads[i].signature_b64);
    free(a->payloads[i].digest);
  }
  free(a->payloads);
  *a = (struct sigstore_attachments){0};
}

void sigstore_descriptors_free(struct oci_descriptor *d, size_t n) {
  for (size_t i = 0; d && i < n; i++)
    oci_descriptor_clear(&d[i]);
  free(d);
}

char *sigstore_attachment_tag(const char *manifest_digest) {
  return oci_digest_dashed("", manifest_digest, ".sig");
}

/* A layout's attachment: the index.json entry named tag, fetched as the walk fetches (digest, size
 * and OCI_DOC_MAX checked). 1 when there is no such entry. */
static int layout_fetch_tag(struct oci_store *s, const char *tag, char **buf, size_t *len, char **media_type,
                            lib_error *err) {
  _cleanup_(oci_doc_clear) struct oci_doc index = {0};
  int r = oci_doc_parse(s->walk.root, s->walk.root_len, OCI_MT_INDEX, &index, err);
  if (r < 0)
    return error_wrap(err, "%s: index.json", s->display);
  for (size_t i = 0; i < index.n_items; i++) {
    const struct oci_descriptor *d = &index.items[i];
    if (!d->ref_name || strcmp(d->ref_name, tag) != 0)
      continue;
    r = s->walk.fetch(s->walk.userdata, d, buf, len, err);
    if (r < 0)
      return error_wrap(err, "%s: %s", s->display, tag);
    *media_type = d->media_type ? strdup(d->media_type) : NULL;
    return d->media_type && !*media_type ? error_oom(err) : 0;
  }
  return 1;
}

/* The signature annotation of layers[i] in the manifest's JSON, or NULL. */
static const char *layer_signature(json_object *layers, size_t i) {
  json_object *layer = json_object_array_get_idx(layers, i);
  json_object *annotations = layer ? json_member(layer, "annotations") : NULL;
  return annotations ? json_member_string(annotations, SIGSTORE_ANNOTATION_SIGNATURE) : NULL;
}

/* A payload blob into memory: the descriptor's size, at most SIGSTORE_PAYLOAD_MAX, its digest. */
static int read_payload(struct oci_store *s, const struct oci_descriptor *d, struct sigstore_payload *p,
                        lib_error *err) {
  if (d->size > SIGSTORE_PAYLOAD_MAX)
    return error_set(err, VMPULL_E_LIMIT, "%s: sigstore payload %s is %llu bytes, more than the %u MiB limit",
                     s->display, d->digest, (unsigned long long)d->size, SIGSTORE_PAYLOAD_MAX >> 20);
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  int cached = cache_document_by_digest(s->cache, d->digest, &buf, &len);
  if (!cached) {
    _cleanup_source_ struct byte_source *src = NULL;
    int r = s->open_blob(s, d, &src, err);
    if (r < 0)
      return error_wrap(err, "%s: sigstore payload", s->display);
    buf = malloc((size_t)d->size + 2);
    if (!buf)
      return error_oom(err);
    /* One byte more than the descriptor says, to see a blob that runs on. */
    r = source_read_full(src, (uint8_t *)buf, (size_t)d->size + 1, &len, err);
    if (r < 0)
      return error_wrap(err, "%s: sigstore payload %s", s->display, d->digest);
  }
  char what[300];
  snprintf(what, sizeof(what), "%s: sigstore payload", s->display);
  int r = oci_check_document(d, buf, len, what, err);
  if (r < 0)
    return r;
  if (!cached)
    cache_document_put(s->cache, NULL, SIGSTORE_MT_PAYLOAD, buf, len);
  if (!(p->digest = strdup(d->digest)))
    return error_oom(err);
  char *owned = cached ? realloc(buf, len + 1) : buf;
  if (!owned)
    return error_oom(err);
  buf = NULL;
  owned[len] = '\0';
  p->payload = owned;
  p->len = len;
  return 0;
}

int sigstore_attachments_fetch(struct oci_store *s, const char *manifest_digest, struct sigstore_attachments *out,
                               lib_error *err) {
  *out = (struct sigstore_attachments){0};
  _cleanup_(sigstore_attachments_clear) struct sigstore_attachments a = {0};
  if (!oci_digest_valid(manifest_digest))
    return error_set(err, VMPULL_E_MANIFEST, "%s: '%s' is not a manifest digest", s->display, manifest_digest);
  if (!(a.tag = sigstore_attachment_tag(manifest_digest)))
    return error_oom(err);
  _cleanup_free_ char *media_type = NULL;
  int r;
  if (s->fetch_tag)
    r = s->fetch_tag(s, a.tag, &a.manifest, &a.manifest_len, &media_type, err);
  else if (s->walk.root_is_layout)
    r = layout_fetch_tag(s, a.tag, &a.manifest, &a.manifest_len, &media_type, err);
  else
    return error_set(err, VMPULL_E_UNSUPPORTED, "%s: no sigstore attachments in this kind of store", s->display);
  if (r < 0)
    return r;
  if (r > 0) { /* none */
    *out = a;
    a = (struct sigstore_attachments){0};
    return 0;
  }
  char digest[OCI_DIGEST_MAX];
  r = oci_digest_buffer("sha256:", a.manifest, a.manifest_len, digest, err);
  if (r < 0)
    return r;
  if (!(a.manifest_digest = strdup(digest)))
    return error_oom(err);

  /* containers/image takes only an OCI image manifest here (by its Content-Type); oci_doc_parse checks
   * that the document's own mediaType agrees. */
  if (media_type && strcmp(media_type, OCI_MT_MANIFEST) != 0)
    return error_set(err, VMPULL_E_MANIFEST, "%s: sigstore attachment %s is a %s, not an OCI image manifest",
                     s->display, a.tag, media_type);
  _cleanup_(oci_doc_clear) struct oci_doc doc = {0};
  r = oci_doc_parse(a.manifest, a.manifest_len, OCI_MT_MANIFEST, &doc, err);
  if (r < 0)
    return error_wrap(err, "%s: sigstore attachment %s", s->display, a.tag);
  if (doc.kind != OCI_DOC_MANIFEST || strcmp(doc.media_type, OCI_MT_MANIFEST) != 0)
    return error_set(err, VMPULL_E_MANIFEST, "%s: sigstore attachment %s is not an OCI image manifest", s->display,
                     a.tag);
  json_object *root = NULL;
  const char *why = NULL;
  struct json_parse_limits lim = {.max_len = OCI_DOC_MAX};
  if (json_parse_strict(a.manifest, a.manifest_len, &lim, &root, &why) != JSON_PARSE_OK)
    return error_set(err, VMPULL_E_MANIFEST, "%s: sigstore attachment %s: %s", s->display, a.tag, why ? why : "bad");
  _cleanup_json_ json_object *owned_root = root;
  json_object *layers = json_member(root, "layers");

  size_t wanted = 0;
  for (size_t i = 0; i < doc.n_items; i++)
    wanted += doc.items[i].media_type && !strcmp(doc.items[i].media_type, SIGSTORE_MT_PAYLOAD);
  if (wanted > SIGSTORE_PAYLOADS_MAX)
    return error_set(err, VMPULL_E_LIMIT, "%s: sigstore attachment %s has %zu signatures, more than %u", s->display,
                     a.tag, wanted, SIGSTORE_PAYLOADS_MAX);
  a.payloads = calloc(wanted ? wanted : 1, sizeof(*a.payloads));
  if (!a.payloads)
    return error_oom(err);
  uint64_t total = 0;
  for (size_t i = 0; i < doc.n_items; i++) {
    const struct oci_descriptor *d = &doc.items[i];
    if (!d->media_type || strcmp(d->media_type, SIGSTORE_MT_PAYLOAD) != 0) {
      a.n_other++;
      continue;
    }
    total += d->size;
    if (total > SIGSTORE_PAYLOADS_TOTAL_MAX)
      return error_set(err, VMPULL_E_LIMIT, "%s: sigstore attachment %s: payloads of more than %u MiB together",
                       s->display, a.tag, SIGSTORE_PAYLOADS_TOTAL_MAX >> 20);
    struct sigstore_payload *p = &a.payloads[a.n_payloads];
    r = read_payload(s, d, p, err);
    if (r < 0)
      return r;
    a.n_payloads++;
    const char *sig = layer_signature(layers, i);
    if (sig && !(p->signature_b64 = strdup(sig)))
      return error_oom(err);
  }
  *out = a;
  a = (struct sigstore_attachments){0};
  return 0;
}

int sigstore_attachment_blobs(const struct sigstore_attachments *a, struct oci_descriptor **out, size_t *n,
                              uint64_t *total, lib_error *err) {
  *out = NULL;
  *n = 0;
  if (total)
    *total = 0;
  if (!a->manifest)
    return 0;
  _cleanup_(oci_doc_clear) struct oci_doc doc = {0};
  int r = oci_doc_parse(a->manifest, a->manifest_len, OCI_MT_MANIFEST, &doc, err);
  if (r < 0)
    return r;
  struct oci_descriptor *v = calloc(doc.n_items + 1, sizeof(*v));
  if (!v)
    return error_oom(err);
  uint64_t sum = 0;
  r = oci_manifest_config(a->manifest, a->manifest_len, a->manifest_digest, &v[0], err);
  for (size_t i = 0; r == 0 && i < doc.n_items; i++)
    if (oci_descriptor_copy(&v[i + 1], &doc.items[i]) < 0)
      r = error_oom(err);
  for (size_t i = 0; r == 0 && i < doc.n_items + 1; i++) {
    if (v[i].size > SIGSTORE_PAYLOAD_MAX)
      r = error_set(err, VMPULL_E_LIMIT, "sigstore attachment %s: blob %s is %llu bytes, more than the %u MiB limit",
                    a->tag, v[i].digest, (unsigned long long)v[i].size, SIGSTORE_PAYLOAD_MAX >> 20);
    else if ((sum += v[i].size) > SIGSTORE_PAYLOADS_TOTAL_MAX)
      r = error_set(err, VMPULL_E_LIMIT, "sigstore attachment %s: blobs of more than %u MiB together", a->tag,
                    SIGSTORE_PAYLOADS_TOTAL_MAX >> 20);
  }
  if (r < 0) {
    sigstore_descriptors_free(v, doc.n_items + 1);
    return r;
  }
  *out = v;
  *n = doc.n_items + 1;
  if (total)
    *total = sum + a->manifest_len;
  return 0;
}

static const struct sigstore_payload *payload_of(const struct sigstore_attachments *a, const char *digest) {
  for (size_t i = 0; i < a->n_payloads; i++)
    if (!strcmp(a->payloads[i].digest, digest))
      return &a->payloads[i];
  return NULL;
}

/* 1 when the layout had it, 0 when copied. */
static int copy_one(struct oci_store *s, const struct sigstore_attachments *a, struct layout_writer *w,
                    const struct oci_descriptor *d, lib_error *err) {
  if (layout_writer_has_blob(w, d->digest, d->size))
    return 1;
  const struct sigstore_payload *p = payload_of(a, d->digest);
  if (p) {
    int r = layout_writer_put_document(w, p->payload, p->len, d->digest, NULL, err);
    return r < 0 ? r : 0;
  }
  struct byte_source *src = NULL;
  int r = s->open_blob(s, d, &src, err);
  if (r == 0)
    r = layout_writer_put_blob(w, d->digest, d->size, src, err);
  return r < 0 ? error_wrap(err, "%s: sigstore attachment %s", s->display, a->tag) : 0;
}

int sigstore_attachment_copy(struct oci_store *s, const struct sigstore_attachments *a, struct layout_writer *w,
                             unsigned *blobs, unsigned *reused, uint64_t *bytes, lib_error *err) {
  struct oci_descriptor *v = NULL;
  size_t n = 0;
  int r = sigstore_attachment_blobs(a, &v, &n, NULL, err);
  if (r < 0 || !a->manifest)
    return r;
  for (size_t i = 0; r >= 0 && i < n; i++) {
    r = copy_one(s, a, w, &v[i], err);
    if (r >= 0) {
      *reused += r == 1;
      *blobs += r == 0;
      *bytes += r == 0 ? v[i].size : 0;
    }
  }
  sigstore_descriptors_free(v, n);
  if (r < 0)
    return r;
  r = layout_writer_put_document(w, a->manifest, a->manifest_len, a->manifest_digest, NULL, err);
  if (r < 0)
    return r;
  *reused += r == 1;
  *blobs += r == 0;
  *bytes += r == 0 ? a->manifest_len : 0;
  _cleanup_json_ json_object *entry = oci_build_descriptor(OCI_MT_MANIFEST, a->manifest_digest, a->manifest_len);
  if (!entry)
    return error_oom(err);
  return layout_writer_add_entry(w, entry, a->tag, err);
}
