/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmpull_inspect(): the resolve half of a pull, reported instead of run. The
 * same store, walk and layer choice as pull; the layer is opened only to peek
 * at its first bytes (a tar's entry name, the compression), so the output
 * path shown is the one pull would write.
 */
#include "api/call_check.h"
#include "api/options.h"
#include "api/plain_inspect.h"
#include "base/error.h"
#include "base/json_util.h"
#include "base/util.h"
#include "oci/oci_ref.h"
#include "oci/oci_store.h"
#include "oci/policy_eval.h"
#include "pipeline/detect.h"
#include "pipeline/unwrap_tar.h"
#include "resolve/resolve.h"

struct inspect_ctx {
  const struct pull_config *o;
  struct oci_store *store;
  json_object *entries;       /* --all */
  const char *selected_layer; /* what pull would choose (--all), or NULL */
  const char *selected_manifest;
  char *index_digest; /* the walk's first index, the same for every entry (--all) */
  char *judged;       /* the manifest the policy last accepted (--all: entries of one manifest follow each other) */
};

/* Open the layer as pull would and look at the start: file name and format, hence the output path. */
static int peek_layer(struct inspect_ctx *c, const struct oci_target *t, json_object *e, lib_error *err) {
  _cleanup_(resolved_clear) struct resolved rs = {.expected_size = UINT64_MAX};
  int r = oci_resolve_target(c->store, t, &rs, err);
  if (r == 0)
    r = resolved_open(&rs, err);
  if (r < 0)
    return r;
  struct byte_source *content = TAKE_PTR(rs.src);
  if (rs.tar_layer) {
    r = unwrap_tar_layer(&content, &rs.image_name, rs.display, err);
    if (r < 0)
      return r;
  }
  _cleanup_source_ struct byte_source *stream = NULL;
  enum format format;
  r = detect_source(content, rs.image_name, NULL, &stream, &format, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *out_path = NULL;
  r = pull_output_path(&c->o->resolve.naming, rs.image_name, format_suffix(format), &out_path, err);
  if (r < 0)
    return r;
  json_object_object_add(e, "file_name", json_result_string(rs.image_name));
  json_object_object_add(e, "format", json_result_string(format_name(format)));
  json_object_object_add(e, "output_path", json_result_string(out_path));
  json_object_object_add(e, "pinned_reference", json_result_string(rs.reference));
  return 0;
}

static int describe(struct inspect_ctx *c, const struct oci_target *t, json_object *e, lib_error *err) {
  json_object_object_add(e, "index_digest", json_result_string(t->index_digest));
  json_object_object_add(e, "manifest_digest", json_result_string(t->manifest_digest));
  json_object *platform = NULL;
  if (t->entry.architecture || t->entry.os) {
    platform = json_object_new_object();
    json_object_object_add(platform, "os", json_result_string(t->entry.os));
    json_object_object_add(platform, "architecture", json_result_string(t->entry.architecture));
    json_object_object_add(platform, "variant", json_result_string(t->entry.variant));
  }
  json_object_object_add(e, "platform", platform);
  json_object_object_add(e, "disktype", json_result_string(t->entry.disktype));
  json_object_object_add(e, "layer_digest", json_result_string(t->layer.digest));
  json_object_object_add(e, "size", json_object_new_int64((int64_t)t->layer.size));
  json_object_object_add(e, "media_type", json_result_string(t->layer.media_type));
  json_object_object_add(e, "tar_layer", json_object_new_boolean(t->tar_layer));
  return peek_layer(c, t, e, err);
}

static int on_target(void *userdata, const struct oci_target *t, lib_error *err) {
  struct inspect_ctx *c = userdata;
  json_object *e = json_object_new_object();
  if (!e)
    return error_oom(err);
  json_object_array_add(c->entries, e);
  /* Each manifest is judged before its layer is peeked at, as the single inspect judges its own and
   * save --all every manifest it saves: a policy that rejects the image fails the listing. */
  int r;
  if (!c->judged || strcmp(c->judged, t->manifest_digest) != 0) {
    _cleanup_(signature_verdict_clear) struct signature_verdict v = {0};
    free(c->judged);
    c->judged = NULL;
    if ((r = oci_policy_check(&c->o->resolve.oci, c->store, t->manifest_digest, &v, err)) < 0)
      return r;
    if (!(c->judged = strdup(t->manifest_digest)))
      return error_oom(err);
  }
  r = describe(c, t, e, err);
  if (r < 0)
    return r;
  /* The per-entry index digest is the same as the top-level one. */
  json_object_object_del(e, "index_digest");
  if (!c->index_digest && t->index_digest && !(c->index_digest = strdup(t->index_digest)))
    return error_oom(err);
  int selected = c->selected_layer && !strcmp(c->selected_layer, t->layer.digest) &&
                 !strcmp(c->selected_manifest, t->manifest_digest);
  json_object_object_add(e, "selected", json_object_new_boolean(selected));
  return 0;
}

static void inspect_ctx_clear(struct inspect_ctx *c) {
  free(c->index_digest);
  free(c->judged);
}

static int inspect_run(const struct pull_config *o, unsigned flags, char **json, lib_error *err) {
  int r = output_naming_check(&o->resolve.naming, err);
  if (r < 0)
    return r;
  enum source_kind kind;
  r = source_classify(o->resolve.source, &kind, err);
  if (r < 0)
    return r;
  if (kind == SOURCE_FILE || kind == SOURCE_HTTP || kind == SOURCE_FCOS)
    return inspect_plain(o, flags, json, err);
  _cleanup_oci_store_ struct oci_store *store = NULL;
  r = resolve_source(&o->resolve, NULL, &store, NULL, err);
  if (r < 0)
    return r;
  _cleanup_(inspect_ctx_clear) struct inspect_ctx c = {.o = o, .store = store};
  _cleanup_json_ json_object *root = json_object_new_object();
  if (!root)
    return error_oom(err);
  json_object_object_add(root, "reference", json_result_string(store->display));
  if (store->mirror) /* docker:// answered by a registry mirror (oci_mirror.h) */
    json_object_object_add(root, "mirror", json_result_string(store->mirror));

  _cleanup_(oci_target_clear) struct oci_target chosen = {0};
  if (!(flags & VMPULL_INSPECT_ALL)) {
    r = oci_walk_one(&store->walk, &chosen, err);
    if (r < 0)
      return r;
    /* the policy judges what pull would take */
    _cleanup_(signature_verdict_clear) struct signature_verdict v = {0};
    r = oci_policy_check(&o->resolve.oci, store, chosen.manifest_digest, &v, err);
    if (r < 0)
      return r;
    json_object *sig = NULL;
    if (v.type) {
      sig = json_object_new_object();
      json_object_object_add(sig, "type", json_result_string(v.type));
      json_object_object_add(sig, "key", json_result_string(v.key));
    }
    json_object_object_add(root, "signature", sig);
    r = describe(&c, &chosen, root, err);
    if (r < 0)
      return r;
  } else {
    /* Which entry pull would take, if any (no match is fine for a listing). */
    lib_error ignored;
    if (oci_walk_one(&store->walk, &chosen, &ignored) == 0) {
      c.selected_layer = chosen.layer.digest;
      c.selected_manifest = chosen.manifest_digest;
    }
    json_object_object_add(root, "index_digest", NULL); /* filled below, listed first */
    c.entries = json_object_new_array();
    if (!c.entries)
      return error_oom(err);
    json_object_object_add(root, "entries", c.entries);
    r = oci_walk_all(&store->walk, on_target, &c, err);
    if (r < 0)
      return r;
    json_object_object_add(root, "index_digest", json_result_string(c.index_digest));
  }
  *json = json_text_dup(root);
  if (!*json)
    return error_oom(err);
  return 0;
}

static int inspect_call(const struct pull_config *cfg, void *ctx, char **json, lib_error *err) {
  return inspect_run(cfg, *(const unsigned *)ctx, json, err);
}

VMPULL_PUBLIC int vmpull_inspect(const vmpull_pull_options *opts, unsigned flags, char **json, vmpull_error *err) {
  lib_error e = {0};
  int r =
      public_json_call("vmpull_inspect", "inspect", opts, flags, VMPULL_INSPECT_ALL, inspect_call, &flags, json, &e);
  error_export(&e, err);
  return r;
}
