/* SPDX-License-Identifier: Apache-2.0 */
#include "oci/oci_manifest.h"

#include "base/error.h"
#include "base/json_util.h"
#include "base/naming.h"
#include "base/platform.h"
#include "base/util.h"
#include "oci/oci_digest.h"
#include "oci/oci_settings.h"

#include <ctype.h>
#include <json-c/json.h>

#define LIST_MAX 1024 /* bytes of "what exists" listed in a no-match message */

void oci_descriptor_clear(struct oci_descriptor *d) {
  free(d->media_type);
  free(d->digest);
  free(d->os);
  free(d->architecture);
  free(d->variant);
  free(d->disktype);
  free(d->title);
  free(d->ref_name);
  *d = (struct oci_descriptor){0};
}

static int dup_field(char **dst, const char *src) {
  *dst = NULL;
  if (!src)
    return 0;
  *dst = strdup(src);
  return *dst ? 0 : -1;
}

int oci_descriptor_copy(struct oci_descriptor *dst, const struct oci_descriptor *src) {
  *dst = (struct oci_descriptor){.size = src->size};
  if (dup_field(&dst->media_type, src->media_type) < 0 || dup_field(&dst->digest, src->digest) < 0 ||
      dup_field(&dst->os, src->os) < 0 || dup_field(&dst->architecture, src->architecture) < 0 ||
      dup_field(&dst->variant, src->variant) < 0 || dup_field(&dst->disktype, src->disktype) < 0 ||
      dup_field(&dst->title, src->title) < 0 || dup_field(&dst->ref_name, src->ref_name) < 0) {
    oci_descriptor_clear(dst);
    return -1;
  }
  return 0;
}

void oci_doc_clear(struct oci_doc *d) {
  for (size_t i = 0; i < d->n_items; i++)
    oci_descriptor_clear(&d->items[i]);
  free(d->items);
  free(d->media_type);
  *d = (struct oci_doc){0};
}

int oci_media_is_index(const char *mt) {
  return mt && (!strcmp(mt, OCI_MT_INDEX) || !strcmp(mt, DOCKER_MT_LIST));
}

int oci_media_is_manifest(const char *mt) {
  return mt && (!strcmp(mt, OCI_MT_MANIFEST) || !strcmp(mt, DOCKER_MT_MANIFEST));
}

int oci_media_is_tar_layer(const char *mt) {
  static const char *const tar_types[] = {
      "application/vnd.oci.image.layer.v1.tar",
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",
      "application/vnd.oci.image.layer.nondistributable.v1.tar",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
      "application/vnd.docker.image.rootfs.diff.tar",
      "application/vnd.docker.image.rootfs.diff.tar.gzip",
      "application/vnd.docker.image.rootfs.diff.tar.zstd",
      "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  };
  for (size_t i = 0; mt && i < ARRAY_SIZE(tar_types); i++)
    if (!strcmp(mt, tar_types[i]))
      return 1;
  return 0;
}

int oci_media_is_document(const char *mt) {
  return oci_media_is_index(mt) || oci_media_is_manifest(mt);
}

/* --- parsing --- */

/* An optional string member: absent is fine, another type is not. */
static int get_string(json_object *obj, const char *key, const char *where, char **out, lib_error *err) {
  *out = NULL;
  json_object *v;
  if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
    return 0;
  if (!json_object_is_type(v, json_type_string))
    return error_set(err, VMPULL_E_MANIFEST, "%s: \"%s\" is not a string", where, key);
  *out = strdup(json_object_get_string(v));
  return *out ? 0 : error_oom(err);
}

/* RFC 6838 type/subtype, as the OCI schema's mediaType pattern. */
static int media_type_valid(const char *mt) {
  static const char extra[] = "!#$&^_.+-";
  const char *slash = strchr(mt, '/');
  if (!slash)
    return 0;
  for (int part = 0; part < 2; part++) {
    const char *p = part ? slash + 1 : mt;
    size_t len = part ? strlen(p) : (size_t)(slash - mt);
    if (len == 0 || len > 127 || !isalnum((unsigned char)p[0]))
      return 0;
    for (size_t i = 1; i < len; i++)
      if (!isalnum((unsigned char)p[i]) && !strchr(extra, p[i]))
        return 0;
  }
  return 1;
}

static int parse_descriptor(json_object *o, const char *where, struct oci_descriptor *d, lib_error *err) {
  *d = (struct oci_descriptor){0};
  if (!json_object_is_type(o, json_type_object))
    return error_set(err, VMPULL_E_MANIFEST, "%s: not a JSON object", where);
  int r = get_string(o, "mediaType", where, &d->media_type, err);
  if (r < 0)
    return r;
  if (!d->media_type)
    return error_set(err, VMPULL_E_MANIFEST, "%s: no mediaType", where);
  if (!media_type_valid(d->media_type))
    return error_set(err, VMPULL_E_MANIFEST, "%s: mediaType '%.100s' is not a media type", where, d->media_type);
  r = get_string(o, "digest", where, &d->digest, err);
  if (r < 0)
    return r;
  if (!d->digest)
    return error_set(err, VMPULL_E_MANIFEST, "%s: no digest", where);
  if (!oci_digest_valid(d->digest))
    return error_set(err, VMPULL_E_MANIFEST,
                     "%s: digest '%.100s' is not sha256:<64 lowercase hex> or sha512:<128 lowercase hex>", where,
                     d->digest);
  json_object *size;
  if (!json_object_object_get_ex(o, "size", &size) || !json_object_is_type(size, json_type_int))
    return error_set(err, VMPULL_E_MANIFEST, "%s: no integer size", where);
  errno = 0;
  int64_t sz = json_object_get_int64(size);
  if (sz < 0 || errno == ERANGE)
    return error_set(err, VMPULL_E_MANIFEST, "%s: size out of range", where);
  d->size = (uint64_t)sz;

  json_object *platform;
  if (json_object_object_get_ex(o, "platform", &platform) && !json_object_is_type(platform, json_type_null)) {
    if (!json_object_is_type(platform, json_type_object))
      return error_set(err, VMPULL_E_MANIFEST, "%s: platform is not an object", where);
    if ((r = get_string(platform, "architecture", where, &d->architecture, err)) < 0 ||
        (r = get_string(platform, "os", where, &d->os, err)) < 0 ||
        (r = get_string(platform, "variant", where, &d->variant, err)) < 0)
      return r;
    if (!d->architecture || !d->os)
      return error_set(err, VMPULL_E_MANIFEST, "%s: platform without architecture and os", where);
  }
  json_object *ann;
  if (json_object_object_get_ex(o, "annotations", &ann) && !json_object_is_type(ann, json_type_null)) {
    if (!json_object_is_type(ann, json_type_object))
      return error_set(err, VMPULL_E_MANIFEST, "%s: annotations is not an object", where);
    json_object_object_foreach(ann, key, val) {
      if (!json_object_is_type(val, json_type_string))
        return error_set(err, VMPULL_E_MANIFEST, "%s: annotation \"%.100s\" is not a string", where, key);
    }
    if ((r = get_string(ann, OCI_ANNOTATION_DISKTYPE, where, &d->disktype, err)) < 0 ||
        (r = get_string(ann, OCI_ANNOTATION_TITLE, where, &d->title, err)) < 0 ||
        (r = get_string(ann, OCI_ANNOTATION_REF_NAME, where, &d->ref_name, err)) < 0)
      return r;
  }
  return 0;
}

int oci_doc_parse(const char *buf, size_t len, const char *declared_type, struct oci_doc *out, lib_error *err) {
  *out = (struct oci_doc){0};
  if (len > OCI_DOC_MAX)
    return error_set(err, VMPULL_E_LIMIT, "document is %zu bytes, more than the %u MiB limit", len, OCI_DOC_MAX >> 20);
  if (memchr(buf, '\0', len))
    return error_set(err, VMPULL_E_MANIFEST, "not JSON (contains a NUL byte)");

  _cleanup_json_ json_object *root = NULL;
  const char *why;
  enum json_parse_status st = json_parse_strict(buf, len, NULL, &root, &why);
  if (st == JSON_PARSE_NO_MEMORY)
    return error_oom(err);
  if (st != JSON_PARSE_OK)
    return error_set(err, VMPULL_E_MANIFEST, "not valid JSON: %s", why);
  if (!json_object_is_type(root, json_type_object))
    return error_set(err, VMPULL_E_MANIFEST, "not a JSON object");

  json_object *sv;
  if (!json_object_object_get_ex(root, "schemaVersion", &sv) || !json_object_is_type(sv, json_type_int))
    return error_set(err, VMPULL_E_MANIFEST, "no schemaVersion");
  if (json_object_get_int64(sv) != 2)
    return error_set(err, VMPULL_E_MANIFEST, "schemaVersion %lld is not supported (only 2)",
                     (long long)json_object_get_int64(sv));

  _cleanup_free_ char *media_type = NULL;
  int r = get_string(root, "mediaType", "document", &media_type, err);
  if (r < 0)
    return r;
  json_object *manifests = NULL, *layers = NULL;
  int has_manifests = json_object_object_get_ex(root, "manifests", &manifests);
  int has_layers = json_object_object_get_ex(root, "layers", &layers);
  if (has_manifests == has_layers)
    return error_set(err, VMPULL_E_MANIFEST, "%s",
                     has_manifests ? "both \"manifests\" and \"layers\": neither an index nor a manifest"
                                   : "no \"manifests\" or \"layers\": neither an index nor a manifest");
  enum oci_doc_kind kind = has_manifests ? OCI_DOC_INDEX : OCI_DOC_MANIFEST;
  json_object *list = has_manifests ? manifests : layers;
  const char *list_name = has_manifests ? "manifests" : "layers";
  if (!json_object_is_type(list, json_type_array))
    return error_set(err, VMPULL_E_MANIFEST, "\"%s\" is not an array", list_name);

  if (media_type && oci_media_is_document(media_type) && (kind == OCI_DOC_INDEX) != oci_media_is_index(media_type))
    return error_set(err, VMPULL_E_MANIFEST, "mediaType %s does not fit a document with \"%s\"", media_type, list_name);
  if (media_type && declared_type && oci_media_is_document(declared_type) && strcmp(media_type, declared_type) != 0)
    return error_set(err, VMPULL_E_MANIFEST, "mediaType %s, but it was referred to as %s", media_type, declared_type);
  if (!media_type && declared_type && oci_media_is_document(declared_type) &&
      (kind == OCI_DOC_INDEX) != oci_media_is_index(declared_type))
    return error_set(err, VMPULL_E_MANIFEST, "referred to as %s, but it holds \"%s\"", declared_type, list_name);

  /* Descriptors we do not follow must still be descriptors. */
  json_object *extra_desc;
  if (json_object_object_get_ex(root, "subject", &extra_desc)) {
    _cleanup_(oci_descriptor_clear) struct oci_descriptor d = {0};
    if ((r = parse_descriptor(extra_desc, "subject", &d, err)) < 0)
      return r;
  }
  if (kind == OCI_DOC_MANIFEST) {
    if (!json_object_object_get_ex(root, "config", &extra_desc))
      return error_set(err, VMPULL_E_MANIFEST, "manifest without config");
    _cleanup_(oci_descriptor_clear) struct oci_descriptor d = {0};
    if ((r = parse_descriptor(extra_desc, "config", &d, err)) < 0)
      return r;
  }

  size_t n = json_object_array_length(list);
  if (n > OCI_ENTRIES_MAX)
    return error_set(err, VMPULL_E_LIMIT, "%zu %s, more than the limit of %u", n, list_name, OCI_ENTRIES_MAX);
  struct oci_doc doc = {.kind = kind};
  doc.items = calloc(n ? n : 1, sizeof(*doc.items));
  if (!doc.items)
    return error_oom(err);
  for (size_t i = 0; i < n; i++) {
    char where[64];
    snprintf(where, sizeof(where), "%s[%zu]", list_name, i);
    r = parse_descriptor(json_object_array_get_idx(list, i), where, &doc.items[i], err);
    doc.n_items = i + 1;
    if (r < 0) {
      oci_doc_clear(&doc);
      return r;
    }
  }
  if (media_type)
    doc.media_type = TAKE_PTR(media_type);
  else if (declared_type && oci_media_is_document(declared_type))
    doc.media_type = strdup(declared_type);
  else
    doc.media_type = strdup(kind == OCI_DOC_INDEX ? OCI_MT_INDEX : OCI_MT_MANIFEST);
  if (!doc.media_type) {
    oci_doc_clear(&doc);
    return error_oom(err);
  }
  *out = doc;
  return 0;
}

/* --- selection --- */

const char *oci_arch_normalize(const char *arch) {
  if (!arch)
    return NULL;
  if (!strcmp(arch, "amd64") || !strcmp(arch, "x86-64"))
    return "x86_64";
  if (!strcmp(arch, "arm64"))
    return "aarch64";
  return arch;
}

const char *oci_provider_disktype(const char *provider) {
  static const struct {
    const char *provider, *disktype;
  } map[] = {{"qemu", "qemu"}, {"applehv", "applehv"}, {"libkrun", "applehv"}, {"hyperv", "hyperv"}, {"wsl", "wsl"}};
  for (size_t i = 0; provider && i < ARRAY_SIZE(map); i++)
    if (!strcmp(provider, map[i].provider))
      return map[i].disktype;
  return NULL;
}

int oci_select_init(struct oci_select *sel, const struct oci_selection *want, lib_error *err) {
  const char *provider = want->provider && *want->provider ? want->provider : "qemu";
  sel->disktype = oci_provider_disktype(provider);
  if (!sel->disktype)
    return error_set(err, VMPULL_E_USAGE, "unknown provider '%s' (qemu, applehv, libkrun, hyperv, wsl)", provider);
  sel->os = "linux";
  if (want->arch && *want->arch) {
    for (const char *p = want->arch; *p; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
        return error_set(err, VMPULL_E_USAGE, "architecture '%s' is not valid (x86_64/amd64, aarch64/arm64, ...)",
                         want->arch);
    sel->arch = oci_arch_normalize(want->arch);
    return 0;
  }
  if (plat_machine(sel->host_arch, sizeof(sel->host_arch)) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "uname");
  sel->arch = oci_arch_normalize(sel->host_arch);
  return 0;
}

int oci_index_has_disks(const struct oci_doc *index) {
  for (size_t i = 0; i < index->n_items; i++)
    if (index->items[i].disktype)
      return 1;
  return 0;
}

static int os_matches(const struct oci_descriptor *d, const struct oci_select *sel) {
  return !d->os || !*d->os || !strcmp(d->os, sel->os);
}

static int arch_matches(const struct oci_descriptor *d, const struct oci_select *sel) {
  return d->architecture && !strcmp(oci_arch_normalize(d->architecture), sel->arch);
}

/* Append "item" to a ", "-separated list unless it is there already; stops quietly when full. */
static void list_add(char *list, size_t cap, const char *item) {
  size_t len = strlen(list), ilen = strlen(item);
  for (const char *p = list; (p = strstr(p, item)); p += ilen)
    if ((p == list || p[-1] == ' ') && (p[ilen] == ',' || p[ilen] == '\0'))
      return;
  if (len + ilen + 8 >= cap) {
    if (!strstr(list, ", ..."))
      snprintf(list + len, cap - len, ", ...");
    return;
  }
  snprintf(list + len, cap - len, "%s%s", len ? ", " : "", item);
}

int oci_index_select(const struct oci_doc *index, const struct oci_select *sel, size_t *chosen, lib_error *err) {
  char have[LIST_MAX] = "";
  if (oci_index_has_disks(index)) {
    for (size_t i = 0; i < index->n_items; i++) {
      const struct oci_descriptor *d = &index->items[i];
      if (!d->disktype)
        continue; /* a container image next to the disks */
      if (!strcmp(d->disktype, sel->disktype) && arch_matches(d, sel) && os_matches(d, sel)) {
        *chosen = i;
        return 0;
      }
      char pair[160];
      snprintf(pair, sizeof(pair), "%.60s/%.60s", d->disktype,
               d->architecture ? oci_arch_normalize(d->architecture) : "(no arch)");
      list_add(have, sizeof(have), pair);
    }
    return error_set(err, VMPULL_E_NO_MATCH, "no disk for disktype %s and arch %s (the index has %s)", sel->disktype,
                     sel->arch, have);
  }

  size_t without_platform = 0, first_without = 0;
  for (size_t i = 0; i < index->n_items; i++) {
    const struct oci_descriptor *d = &index->items[i];
    if (!oci_media_is_document(d->media_type))
      continue; /* signatures, SBOMs, anything that is not an image */
    if (!d->architecture || !*d->architecture) {
      if (!without_platform++)
        first_without = i;
      continue;
    }
    if (arch_matches(d, sel) && os_matches(d, sel)) {
      *chosen = i;
      return 0;
    }
    char plat[200];
    snprintf(plat, sizeof(plat), "%.60s/%.60s%s%.40s", d->os ? d->os : "?", d->architecture, d->variant ? "/" : "",
             d->variant ? d->variant : "");
    list_add(have, sizeof(have), plat);
  }
  if (without_platform == 1) {
    *chosen = first_without;
    return 0;
  }
  if (without_platform > 1) {
    char names[LIST_MAX] = "";
    for (size_t i = 0; i < index->n_items; i++)
      if (index->items[i].ref_name && oci_media_is_document(index->items[i].media_type) &&
          (!index->items[i].architecture || !*index->items[i].architecture))
        list_add(names, sizeof(names), index->items[i].ref_name);
    if (*names)
      return error_set(err, VMPULL_E_NO_MATCH, "the index has %zu entries without a platform; name one (%s)",
                       without_platform, names);
    return error_set(err, VMPULL_E_NO_MATCH, "the index has %zu entries without a platform or disktype to choose by",
                     without_platform);
  }
  if (!index->n_items)
    return error_set(err, VMPULL_E_NO_MATCH, "the index is empty");
  return error_set(err, VMPULL_E_NO_MATCH, "no entry for %s/%s (the index has %s)", sel->os, sel->arch, have);
}

int oci_index_find_ref(const struct oci_doc *index, const char *ref, size_t *chosen, lib_error *err) {
  char names[LIST_MAX] = "";
  for (size_t i = 0; i < index->n_items; i++) {
    const char *name = index->items[i].ref_name;
    if (!name)
      continue;
    if (!strcmp(name, ref)) {
      *chosen = i;
      return 0;
    }
    list_add(names, sizeof(names), name);
  }
  if (!*names)
    return error_set(err, VMPULL_E_NOT_FOUND, "no entry named '%s' (the index names none)", ref);
  return error_set(err, VMPULL_E_NOT_FOUND, "no entry named '%s' (the index has %s)", ref, names);
}

int oci_manifest_layer(const struct oci_doc *m, size_t *layer, int *tar, lib_error *err) {
  if (m->n_items != 1)
    return error_set(err, VMPULL_E_MANIFEST, "%zu layers; a disk image has exactly one", m->n_items);
  const struct oci_descriptor *l = &m->items[0];
  *layer = 0;
  *tar = oci_media_is_tar_layer(l->media_type);
  if (*tar)
    return 0;
  if (!l->title)
    return error_set(err, VMPULL_E_MANIFEST,
                     "layer %s (%.100s) has no " OCI_ANNOTATION_TITLE " annotation to name the disk file", l->digest,
                     l->media_type);
  int r = image_name_check(l->title, err);
  if (r < 0) {
    err->code = VMPULL_E_MANIFEST; /* not the user's mistake: the manifest's */
    return error_wrap(err, "layer %s title", l->digest);
  }
  return 0;
}
