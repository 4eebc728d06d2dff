/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI documents vmpull writes (save): descriptors, a disk's index entry, and the machine-OS
 * artifact a plain file or URL is wrapped in; and what save reads of a manifest beyond the walk. */
#include "oci/oci_build.h"

#include "base/error.h"
#include "base/json_util.h"
#include "base/util.h"
#include "oci/oci_digest.h"

#include <string.h>

int oci_doc_media_type(const char *buf, size_t len, const char *declared, char **out, lib_error *err) {
  _cleanup_(oci_doc_clear) struct oci_doc doc = {0};
  int r = oci_doc_parse(buf, len, declared, &doc, err);
  if (r < 0)
    return r;
  *out = strdup(doc.media_type ? doc.media_type : declared ? declared : OCI_MT_MANIFEST);
  return *out ? 0 : error_oom(err);
}

int oci_manifest_config(const char *buf, size_t len, const char *digest, struct oci_descriptor *out, lib_error *err) {
  _cleanup_json_ json_object *root = NULL;
  const char *why;
  (void)json_parse_strict(buf, len, NULL, &root, &why); /* oci_doc_parse took it already */
  json_object *cfg, *mt, *dg, *sz;
  if (!root || !json_object_object_get_ex(root, "config", &cfg) || !json_object_is_type(cfg, json_type_object) ||
      !json_object_object_get_ex(cfg, "digest", &dg) || !json_object_is_type(dg, json_type_string) ||
      !json_object_object_get_ex(cfg, "size", &sz) || !json_object_is_type(sz, json_type_int) ||
      json_object_get_int64(sz) < 0 || !oci_digest_valid(json_object_get_string(dg)))
    return error_set(err, VMPULL_E_MANIFEST, "manifest %s: no usable config descriptor", digest);
  *out = (struct oci_descriptor){.size = (uint64_t)json_object_get_int64(sz)};
  out->digest = strdup(json_object_get_string(dg));
  out->media_type = strdup(json_object_object_get_ex(cfg, "mediaType", &mt) && json_object_is_type(mt, json_type_string)
                               ? json_object_get_string(mt)
                               : OCI_MT_EMPTY);
  if (!out->digest || !out->media_type)
    return error_oom(err);
  if (out->size > OCI_DOC_MAX)
    return error_set(err, VMPULL_E_LIMIT, "manifest %s: config %s is more than %u MiB", digest, out->digest,
                     OCI_DOC_MAX >> 20);
  return 0;
}

json_object *oci_build_descriptor(const char *media_type, const char *digest, uint64_t size) {
  json_object *e = json_object_new_object();
  if (!e)
    return NULL;
  json_object_object_add(e, "mediaType", json_object_new_string(media_type));
  json_object_object_add(e, "digest", json_object_new_string(digest));
  json_object_object_add(e, "size", json_object_new_int64((int64_t)size));
  return e;
}

int oci_build_disk_entry(const struct oci_descriptor *via, const char *buf, size_t len, const char *declared,
                         const char *digest, json_object **out, lib_error *err) {
  _cleanup_free_ char *mt = NULL;
  int r = oci_doc_media_type(buf, len, declared, &mt, err);
  if (r < 0)
    return r;
  json_object *e = oci_build_descriptor(mt, digest, len);
  if (!e)
    return error_oom(err);
  *out = e;
  if (via->architecture || via->os) {
    json_object *p = json_object_new_object();
    json_object_object_add(p, "architecture", json_string_or_null(via->architecture ? via->architecture : ""));
    json_object_object_add(p, "os", json_string_or_null(via->os ? via->os : "linux"));
    if (via->variant)
      json_object_object_add(p, "variant", json_string_or_null(via->variant));
    json_object_object_add(e, "platform", p);
  }
  if (via->disktype) {
    json_object *a = json_object_new_object();
    json_object_object_add(a, OCI_ANNOTATION_DISKTYPE, json_string_or_null(via->disktype));
    json_object_object_add(e, "annotations", a);
  }
  return 0;
}

const char *oci_layer_media_type(const char *name) {
  static const struct {
    const char *suffix, *type;
  } types[] = {{".zst", "application/zstd"},    {".xz", "application/x-xz"}, {".gz", "application/gzip"},
               {".bz2", "application/x-bzip2"}, {".zip", "application/zip"}, {".lzma", "application/x-lzma"},
               {".lz", "application/x-lzip"}};
  for (size_t i = 0; i < ARRAY_SIZE(types); i++)
    if (ends_with_ci(name, types[i].suffix))
      return types[i].type;
  return "application/octet-stream";
}

json_object *oci_build_artifact_manifest(const char *config_digest, uint64_t config_size, const char *config_type,
                                         const char *layer_type, const char *layer_digest, uint64_t layer_size,
                                         const char *title) {
  _cleanup_json_ json_object *man = json_object_new_object();
  json_object *cfg = oci_build_descriptor(config_type, config_digest, config_size);
  json_object *l = oci_build_descriptor(layer_type, layer_digest, layer_size);
  json_object *layers = json_object_new_array();
  json_object *ann = json_object_new_object();
  if (!man || !cfg || !l || !layers || !ann) {
    json_object_put(cfg);
    json_object_put(l);
    json_object_put(layers);
    json_object_put(ann);
    return NULL;
  }
  json_object_object_add(ann, OCI_ANNOTATION_TITLE, json_object_new_string(title));
  json_object_object_add(l, "annotations", ann);
  json_object_array_add(layers, l);
  json_object_object_add(man, "schemaVersion", json_object_new_int(2));
  json_object_object_add(man, "mediaType", json_object_new_string(OCI_MT_MANIFEST));
  json_object_object_add(man, "config", cfg);
  json_object_object_add(man, "layers", layers);
  return TAKE_PTR(man);
}

json_object *oci_build_artifact_index(const char *manifest_digest, uint64_t manifest_size, const char *arch,
                                      const char *disktype) {
  _cleanup_json_ json_object *index = json_object_new_object();
  json_object *e = oci_build_descriptor(OCI_MT_MANIFEST, manifest_digest, manifest_size);
  json_object *list = json_object_new_array();
  json_object *plat = json_object_new_object();
  json_object *eann = json_object_new_object();
  if (!index || !e || !list || !plat || !eann) {
    json_object_put(e);
    json_object_put(list);
    json_object_put(plat);
    json_object_put(eann);
    return NULL;
  }
  json_object_object_add(plat, "architecture", json_object_new_string(arch));
  json_object_object_add(plat, "os", json_object_new_string("linux"));
  json_object_object_add(e, "platform", plat);
  json_object_object_add(eann, OCI_ANNOTATION_DISKTYPE, json_object_new_string(disktype));
  json_object_object_add(e, "annotations", eann);
  json_object_array_add(list, e);
  json_object_object_add(index, "schemaVersion", json_object_new_int(2));
  json_object_object_add(index, "mediaType", json_object_new_string(OCI_MT_INDEX));
  json_object_object_add(index, "manifests", list);
  return TAKE_PTR(index);
}
