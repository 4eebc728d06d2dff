/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmpull_save(): the resolve half of a pull, then a copy instead of a decode.
 * An OCI source is walked exactly as pull walks it (same store, same
 * selection); the walk's fetches are recorded, so the documents saved are the
 * very bytes the source served and were checked against their digests. What
 * goes into the layout:
 *   - one disk: the chosen manifest, its config and its layer; the index.json
 *     entry points at the manifest and carries the platform and disktype the
 *     source's index gave it (so pull picks it by provider and arch, too);
 *   - --all: every document the walk visited, and every disk's config and
 *     layer; the entry points at the top document (the registry's index, the
 *     entry the source's REF named, or a source layout's index.json itself).
 *     Entries of the index that are not disks (container images, signatures)
 *     stay named in it without their blobs, which the image-layout spec allows.
 * A plain file or URL is wrapped as a machine-OS artifact: its bytes as the
 * one titled layer, the empty config, a manifest, and an index whose entry
 * carries the platform and disktype.
 * The layout is opened only once the source resolved, so a bad source leaves
 * nothing behind; a layout folder that this save created is removed again
 * when the copy fails.
 */
#include "api/call_check.h"
#include "api/options.h"
#include "api/save_dest.h"
#include "api/save_signatures.h"
#include "base/error.h"
#include "base/json_util.h"
#include "base/progress.h"
#include "base/redact.h"
#include "base/util.h"
#include "fetch/cache_session.h"
#include "oci/oci_build.h"
#include "oci/oci_digest.h"
#include "oci/oci_layout_write.h"
#include "oci/oci_ref.h"
#include "oci/oci_store.h"
#include "resolve/resolve.h"

#define EMPTY_CONFIG "{}"

/* A document the walk fetched (already checked against its digest). */
struct saved_doc {
  char *digest;
  char *media_type;
  char *buf;
  size_t len;
};

/* Digests already dealt with in this save (the empty config is shared by every disk, say). */
struct digest_set {
  char **v;
  size_t n;
};

static void digest_set_clear(struct digest_set *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->v[i]);
  free(s->v);
  *s = (struct digest_set){0};
}

/* 1 when digest was in the set, 0 when it is added now, < 0 on OOM. */
static int digest_set_add(struct digest_set *s, const char *digest, lib_error *err) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->v[i], digest))
      return 1;
  char **grown = realloc(s->v, (s->n + 1) * sizeof(*grown));
  if (!grown)
    return error_oom(err);
  s->v = grown;
  if (!(s->v[s->n] = strdup(digest)))
    return error_oom(err);
  s->n++;
  return 0;
}

struct save_target {
  struct oci_target t;
  struct oci_descriptor config;
};

struct save_ctx {
  const struct pull_config *o;
  struct oci_store *store;
  oci_fetch_fn fetch; /* the store's own */
  void *fetch_data;
  struct saved_doc *docs;
  size_t n_docs;
  struct save_target *targets;
  size_t n_targets;
  struct layout_writer *w;
  struct progress_state progress;
  struct pull_cache net; /* no cache (a save copies what it fetches): only the progress, which the
                            network's retry waits report to */
  char *name;            /* what the progress names */
  unsigned blobs, reused;
  uint64_t bytes;
  struct digest_set done;
  struct save_signatures signatures; /* kept with the saved manifests (issue 16) */
};

static void save_ctx_clear(struct save_ctx *c) {
  for (size_t i = 0; i < c->n_docs; i++) {
    free(c->docs[i].digest);
    free(c->docs[i].media_type);
    free(c->docs[i].buf);
  }
  free(c->docs);
  for (size_t i = 0; i < c->n_targets; i++) {
    oci_target_clear(&c->targets[i].t);
    oci_descriptor_clear(&c->targets[i].config);
  }
  free(c->targets);
  layout_writer_free(c->w);
  free(c->name);
  digest_set_clear(&c->done);
  save_signatures_clear(&c->signatures);
}

static const struct saved_doc *find_doc(const struct save_ctx *c, const char *digest) {
  for (size_t i = 0; digest && i < c->n_docs; i++)
    if (!strcmp(c->docs[i].digest, digest))
      return &c->docs[i];
  return NULL;
}

static int add_doc(struct save_ctx *c, const char *digest, const char *media_type, const char *buf, size_t len,
                   lib_error *err) {
  if (find_doc(c, digest))
    return 0;
  struct saved_doc *grown = realloc(c->docs, (c->n_docs + 1) * sizeof(*grown));
  if (!grown)
    return error_oom(err);
  c->docs = grown;
  struct saved_doc *d = &c->docs[c->n_docs];
  *d = (struct saved_doc){.digest = strdup(digest),
                          .media_type = media_type ? strdup(media_type) : NULL,
                          .buf = malloc(len + 1),
                          .len = len};
  if (!d->digest || (media_type && !d->media_type) || !d->buf) {
    free(d->digest);
    free(d->media_type);
    free(d->buf);
    return error_oom(err);
  }
  memcpy(d->buf, buf, len);
  d->buf[len] = '\0';
  c->n_docs++;
  return 0;
}

/* Sits between the walk and the store: every document on the way is kept as it was served. */
static int recording_fetch(void *userdata, const struct oci_descriptor *d, char **buf, size_t *len, lib_error *err) {
  struct save_ctx *c = userdata;
  int r = c->fetch(c->fetch_data, d, buf, len, err);
  if (r < 0)
    return r;
  return add_doc(c, d->digest, d->media_type, *buf, *len, err);
}

/* The progress the caller sees: what is copied is also what is written. */
static int save_progress(const vmpull_progress *ev, void *userdata) {
  const struct call_hooks *hooks = userdata;
  vmpull_progress copy = *ev;
  copy.written = ev->fetched;
  return hooks->progress(&copy, hooks->progress_data);
}

static int add_target(void *userdata, const struct oci_target *t, lib_error *err) {
  struct save_ctx *c = userdata;
  struct save_target *grown = realloc(c->targets, (c->n_targets + 1) * sizeof(*grown));
  if (!grown)
    return error_oom(err);
  c->targets = grown;
  struct save_target *s = &c->targets[c->n_targets];
  *s = (struct save_target){0};
  c->n_targets++;
  if ((t->index_digest && !(s->t.index_digest = strdup(t->index_digest))) ||
      !(s->t.manifest_digest = strdup(t->manifest_digest)) || oci_descriptor_copy(&s->t.entry, &t->entry) < 0 ||
      oci_descriptor_copy(&s->t.layer, &t->layer) < 0)
    return error_oom(err);
  s->t.tar_layer = t->tar_layer;
  return 0;
}

/* --- copying --- */

/* 1 when d needs no copy (done in this save, or in the layout already), 0 to copy, < 0 error. */
static int skip_blob(struct save_ctx *c, const char *digest, uint64_t size, lib_error *err) {
  int r = digest_set_add(&c->done, digest, err);
  if (r != 0)
    return r;
  if (layout_writer_has_blob(c->w, digest, size)) {
    c->reused++;
    return 1;
  }
  return 0;
}

static int copy_blob(struct save_ctx *c, const struct oci_descriptor *d, lib_error *err) {
  int r = skip_blob(c, d->digest, d->size, err);
  if (r != 0)
    return r < 0 ? r : 0;
  struct byte_source *src = NULL;
  r = c->store->open_blob(c->store, d, &src, err);
  if (r < 0)
    return r;
  r = layout_writer_put_blob(c->w, d->digest, d->size, src, err);
  if (r < 0)
    return r;
  c->blobs++;
  c->bytes += d->size;
  return 0;
}

static int copy_document(struct save_ctx *c, const struct saved_doc *d, lib_error *err) {
  int r = skip_blob(c, d->digest, d->len, err);
  if (r != 0)
    return r < 0 ? r : 0;
  r = layout_writer_put_document(c->w, d->buf, d->len, d->digest, NULL, err);
  if (r < 0)
    return r;
  c->blobs++;
  c->bytes += d->len;
  return 0;
}

static int plan_add(struct save_ctx *c, struct digest_set *seen, const char *digest, uint64_t size, uint64_t *total,
                    lib_error *err) {
  int r = digest_set_add(seen, digest, err);
  if (r == 0 && !layout_writer_has_blob(c->w, digest, size))
    *total += size;
  return r < 0 ? r : 0;
}

/* Bytes still to copy (for the progress total): what the copy below will do, without doing it. */
static int bytes_to_copy(struct save_ctx *c, int all, uint64_t *total, lib_error *err) {
  _cleanup_(digest_set_clear) struct digest_set seen = {0};
  *total = 0;
  int r = 0;
  for (size_t i = 0; r == 0 && i < c->n_targets; i++) {
    r = plan_add(c, &seen, c->targets[i].t.layer.digest, c->targets[i].t.layer.size, total, err);
    if (r == 0)
      r = plan_add(c, &seen, c->targets[i].config.digest, c->targets[i].config.size, total, err);
  }
  for (size_t i = 0; r == 0 && i < c->n_docs; i++)
    if (all || !strcmp(c->docs[i].digest, c->targets[0].t.manifest_digest))
      r = plan_add(c, &seen, c->docs[i].digest, c->docs[i].len, total, err);
  return r;
}

static int start_transfer(struct save_ctx *c, const char *name, uint64_t total, lib_error *err) {
  c->progress.ev.stage = VMPULL_STAGE_TRANSFER;
  if (name && !(c->name = strdup(name)))
    return error_oom(err);
  c->progress.ev.name = c->name;
  c->progress.ev.fetched_total = total;
  return progress_report(&c->progress, 1, err);
}

/* --- OCI sources --- */

/* The document an --all entry points at; may add the root to the documents. */
static int top_document(struct save_ctx *c, const struct saved_doc **top, lib_error *err) {
  const struct oci_walk *w = &c->store->walk;
  if (w->root_is_layout && w->ref_name) {
    /* The REF's entry is the first document the walk fetched. */
    if (!c->n_docs)
      return error_set(err, VMPULL_E_MANIFEST, "index.json: entry '%s' led nowhere", w->ref_name);
    *top = &c->docs[0];
    return 0;
  }
  /* A registry's root document, or a source layout's whole index.json (an image index too). */
  char computed[OCI_DIGEST_MAX];
  const char *digest = w->root_is_layout ? NULL : w->root_digest;
  if (!digest) {
    int r = oci_digest_buffer("sha256:", w->root, w->root_len, computed, err);
    if (r < 0)
      return r;
    digest = computed;
  }
  _cleanup_free_ char *mt = NULL;
  int r = oci_doc_media_type(w->root, w->root_len, w->root_is_layout ? OCI_MT_INDEX : w->root_type, &mt, err);
  if (r < 0)
    return r;
  r = add_doc(c, digest, mt, w->root, w->root_len, err);
  if (r < 0)
    return r;
  *top = find_doc(c, digest);
  return 0;
}

static int save_oci(struct save_ctx *c, const char *dest_path, const struct layout_writer_options *wo, int all,
                    json_object **entry, lib_error *err) {
  int r = resolve_source(&c->o->resolve, &c->net, &c->store, NULL, err);
  if (r < 0)
    return r;
  c->progress.ev.mirror = c->store->mirror;
  c->fetch = c->store->walk.fetch;
  c->fetch_data = c->store->walk.userdata;
  struct oci_walk walk = c->store->walk;
  walk.fetch = recording_fetch;
  walk.userdata = c;
  if (all) {
    r = oci_walk_all(&walk, add_target, c, err);
  } else {
    _cleanup_(oci_target_clear) struct oci_target t = {0};
    r = oci_walk_one(&walk, &t, err);
    if (r == 0)
      r = add_target(c, &t, err);
  }
  if (r < 0)
    return r;
  {
    _cleanup_free_ const char **digests = calloc(c->n_targets, sizeof(*digests));
    if (!digests)
      return error_oom(err);
    for (size_t i = 0; i < c->n_targets; i++)
      digests[i] = c->targets[i].t.manifest_digest;
    r = save_signatures_judge(&c->signatures, &c->o->resolve.oci, c->store, digests, c->n_targets, err);
    if (r < 0)
      return r;
  }
  const struct saved_doc *top = NULL;
  if (all || !c->n_docs) { /* the root is content: a manifest alone, or what --all points at */
    r = top_document(c, &top, err);
    if (r < 0)
      return r;
  }
  for (size_t i = 0; i < c->n_targets; i++) {
    const struct saved_doc *m = find_doc(c, c->targets[i].t.manifest_digest);
    if (!m)
      return error_set(err, VMPULL_E_MANIFEST, "manifest %s was not read", c->targets[i].t.manifest_digest);
    r = oci_manifest_config(m->buf, m->len, m->digest, &c->targets[i].config, err);
    if (r < 0)
      return r;
  }

  uint64_t attachment_bytes = 0;
  r = save_signatures_read_attachments(&c->signatures, c->store, top ? top->digest : NULL, &attachment_bytes, err);
  if (r < 0)
    return r;

  /* Resolved: only now does the destination get touched. */
  r = layout_writer_open(dest_path, wo, &c->w, err);
  if (r < 0)
    return r;
  uint64_t total = 0;
  r = bytes_to_copy(c, all, &total, err);
  total += attachment_bytes;
  if (all) { /* the first disk's line from the start */
    c->progress.ev.item = 1;
    c->progress.ev.items = (unsigned)c->n_targets;
  }
  if (r == 0)
    r = start_transfer(c, c->targets[0].t.layer.title, total, err);
  if (r < 0)
    return r;
  for (size_t i = 0; i < c->n_targets; i++) {
    const struct save_target *s = &c->targets[i];
    if (all && i > 0) { /* the caller shows each disk on its own */
      c->progress.ev.item = (unsigned)i + 1;
      c->progress.ev.items = (unsigned)c->n_targets;
      c->progress.ev.name = s->t.layer.title ? s->t.layer.title : c->name;
      r = progress_report(&c->progress, 1, err);
      if (r < 0)
        return r;
    }
    r = copy_blob(c, &s->t.layer, err);
    if (r < 0)
      return error_wrap(err, "%s", c->store->display);
    r = copy_blob(c, &s->config, err);
    if (r < 0)
      return error_wrap(err, "%s: config", c->store->display);
  }
  r = save_signatures_write(&c->signatures, c->store, c->w, &c->blobs, &c->reused, &c->bytes, err);
  if (r < 0)
    return r;
  if (all) {
    for (size_t i = 0; i < c->n_docs; i++) {
      r = copy_document(c, &c->docs[i], err);
      if (r < 0)
        return r;
    }
    *entry = oci_build_descriptor(top->media_type, top->digest, top->len);
    return *entry ? 0 : error_oom(err);
  }
  const struct saved_doc *m = find_doc(c, c->targets[0].t.manifest_digest);
  r = copy_document(c, m, err);
  if (r < 0)
    return r;
  return oci_build_disk_entry(&c->targets[0].t.entry, m->buf, m->len, m->media_type, m->digest, entry, err);
}

/* --- files and URLs: wrapped as a machine-OS artifact --- */

/* Count what a put_* call did (1: the layout had it). */
static int counted(struct save_ctx *c, int r, uint64_t size) {
  if (r > 0) {
    c->reused++;
  } else if (r == 0) {
    c->blobs++;
    c->bytes += size;
  }
  return r < 0 ? r : 0;
}

static int put_json(struct save_ctx *c, json_object *doc, char digest[OCI_DIGEST_MAX], size_t *len, lib_error *err) {
  const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  if (!text)
    return error_oom(err);
  *len = strlen(text);
  return counted(c, layout_writer_put_document(c->w, text, *len, NULL, digest, err), *len);
}

static int save_wrapped(struct save_ctx *c, const char *dest_path, const struct layout_writer_options *wo,
                        json_object **entry, json_object *manifests, lib_error *err) {
  struct oci_select sel = {0};
  int r = oci_select_init(&sel, &c->o->resolve.oci.selection, err);
  if (r < 0)
    return r;
  if (c->o->expected_digest && !oci_digest_valid(c->o->expected_digest))
    return error_set(err, VMPULL_E_USAGE, "digest '%s' is not sha256:<64 lowercase hex>", c->o->expected_digest);
  _cleanup_(resolved_clear) struct resolved rs = {.expected_size = UINT64_MAX};
  r = resolve_source(&c->o->resolve, &c->net, NULL, &rs, err);
  if (r == 0)
    r = resolved_open(&rs, err);
  if (r < 0)
    return r;
  if (!rs.image_name)
    return error_set(err, VMPULL_E_USAGE, "%s has no file name to title the layer with", rs.display);
  r = image_name_check(rs.image_name, err);
  if (r < 0)
    return r;

  r = layout_writer_open(dest_path, wo, &c->w, err);
  if (r < 0)
    return r;
  r = start_transfer(c, rs.image_name, rs.expected_size != UINT64_MAX ? rs.expected_size : rs.src->size, err);
  if (r < 0)
    return r;
  /* The layer: hashed while spooled; what the source promised (stream metadata, --digest) is checked before it
   * goes in. */
  const char *want =
      rs.expected_digest && starts_with(rs.expected_digest, "sha256:") ? rs.expected_digest : c->o->expected_digest;
  char layer[OCI_DIGEST_MAX];
  uint64_t layer_size = 0;
  r = layout_writer_put_new_blob(c->w, TAKE_PTR(rs.src), want, layer, &layer_size, err);
  if (r < 0)
    return error_wrap(err, "%s", rs.display);
  (void)counted(c, r, layer_size);

  char config[OCI_DIGEST_MAX];
  r = counted(c, layout_writer_put_document(c->w, EMPTY_CONFIG, strlen(EMPTY_CONFIG), NULL, config, err),
              strlen(EMPTY_CONFIG));
  if (r < 0)
    return r;

  _cleanup_json_ json_object *man =
      oci_build_artifact_manifest(config, strlen(EMPTY_CONFIG), OCI_MT_EMPTY, oci_layer_media_type(rs.image_name),
                                  layer, layer_size, rs.image_name);
  if (!man)
    return error_oom(err);
  char manifest[OCI_DIGEST_MAX];
  size_t manifest_len = 0;
  r = put_json(c, man, manifest, &manifest_len, err);
  if (r < 0)
    return r;
  json_object_array_add(manifests, json_object_new_string(manifest));

  _cleanup_json_ json_object *index = oci_build_artifact_index(manifest, manifest_len, sel.arch, sel.disktype);
  if (!index)
    return error_oom(err);
  char index_digest[OCI_DIGEST_MAX];
  size_t index_len = 0;
  r = put_json(c, index, index_digest, &index_len, err);
  if (r < 0)
    return r;
  *entry = oci_build_descriptor(OCI_MT_INDEX, index_digest, index_len);
  return *entry ? 0 : error_oom(err);
}

static int save_run(const struct pull_config *o, const char *dest, unsigned flags, char **json, lib_error *err) {
  _cleanup_(save_dest_clear) struct save_dest d = {0};
  int r = save_dest_parse(dest, &d, err);
  if (r < 0)
    return r;
  enum source_kind kind;
  r = source_classify(o->resolve.source, &kind, err);
  if (r < 0)
    return r;
  if (!d.ref) {
    r = save_default_ref(&o->resolve.oci, kind, &d.ref, err);
    if (r < 0)
      return r;
  }
  r = save_ref_name_check(d.ref, err);
  if (r < 0)
    return r;
  int all = (flags & VMPULL_SAVE_ALL) != 0;
  int oci = kind == SOURCE_DOCKER || kind == SOURCE_OCI_DIR || kind == SOURCE_OCI_ARCHIVE;
  if (all && !oci)
    return error_set(err, VMPULL_E_USAGE, "--all needs an OCI source (docker://, oci-dir://, oci-archive://)");

  _cleanup_(save_ctx_clear) struct save_ctx c = {.o = o};
  c.progress = (struct progress_state){
      .fn = o->hooks.progress ? save_progress : NULL, .data = (void *)&o->hooks, .cancel = o->hooks.cancel};
  c.progress.ev.stage = VMPULL_STAGE_RESOLVE;
  _cleanup_free_ char *shown_source = redact_source(o->resolve.source);
  c.progress.ev.source = shown_source;
  c.progress.ev.fetched_total = UINT64_MAX;
  c.net = (struct pull_cache)PULL_CACHE_INIT;
  c.net.set = &o->fetch;
  c.net.progress = &c.progress;
  r = progress_report(&c.progress, 1, err);
  if (r < 0)
    return r;
  struct layout_writer_options wo = {.archive = d.archive, .replace = o->replace, .progress = &c.progress};
  _cleanup_oci_store_ struct oci_store *store = NULL;
  _cleanup_json_ json_object *entry = NULL;
  _cleanup_json_ json_object *manifests = json_object_new_array();
  if (!manifests)
    return error_oom(err);
  if (oci) {
    r = save_oci(&c, d.path, &wo, all, &entry, err);
    store = c.store;
    for (size_t i = 0; r == 0 && i < c.n_targets; i++)
      json_object_array_add(manifests, json_object_new_string(c.targets[i].t.manifest_digest));
  } else {
    r = save_wrapped(&c, d.path, &wo, &entry, manifests, err);
  }
  if (r == 0)
    r = layout_writer_commit(c.w, entry, d.ref, err);
  if (r < 0)
    return r; /* the writer takes back a folder it made; an archive never appeared */
  c.progress.ev.stage = VMPULL_STAGE_DONE;
  (void)progress_report(&c.progress, 1, NULL);

  _cleanup_json_ json_object *out = json_object_new_object();
  _cleanup_free_ char *shown = redact_source(o->resolve.source);
  _cleanup_free_ char *destination = xasprintf("%s://%s:%s", d.archive ? "oci-archive" : "oci-dir", d.path, d.ref);
  if (!out || !shown || !destination)
    return error_oom(err);
  json_object_object_add(out, "source", json_result_string(shown));
  json_object_object_add(out, "destination", json_result_string(destination));
  json_object_object_add(out, "ref_name", json_result_string(d.ref));
  json_object_object_add(out, "digest", json_object_get(json_object_object_get(entry, "digest")));
  json_object_object_add(out, "media_type", json_object_get(json_object_object_get(entry, "mediaType")));
  json_object_object_add(out, "mirror", json_result_string(c.store ? c.store->mirror : NULL));
  json_object_object_add(out, "manifests", json_object_get(manifests));
  json_object_object_add(out, "blobs", json_object_new_int64(c.blobs));
  json_object_object_add(out, "blobs_reused", json_object_new_int64(c.reused));
  json_object_object_add(out, "bytes", json_object_new_int64((int64_t)c.bytes));
  *json = json_text_dup(out);
  return *json ? 0 : error_oom(err);
}

struct save_call_args {
  const char *dest;
  unsigned flags;
};

static int save_call(const struct pull_config *cfg, void *ctx, char **json, lib_error *err) {
  const struct save_call_args *a = ctx;
  return save_run(cfg, a->dest, a->flags, json, err);
}

VMPULL_PUBLIC int vmpull_save(const vmpull_pull_options *opts, const char *dest, unsigned flags, char **json,
                              vmpull_error *err) {
  lib_error e = {0};
  struct save_call_args args = {.dest = dest, .flags = flags};
  int r = public_json_call("vmpull_save", "save", opts, flags, VMPULL_SAVE_ALL, save_call, &args, json, &e);
  error_export(&e, err);
  return r;
}
