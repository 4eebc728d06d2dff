/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI/Docker index and manifest documents, and the choice of one disk layer.
 * Parsing and selection are pure functions over a buffer (no I/O), so a fuzz
 * target and unit tests can drive them; oci_walk() strings them together with
 * a fetch callback that the layout and registry resolvers provide.
 *
 * Two image formats are told apart by what the documents hold:
 *  - machine-OS artifacts: index entries annotated `disktype`, chosen by
 *    provider and architecture; the manifest has one layer with a title;
 *  - single-layer tar images: a manifest (maybe chosen from an index by
 *    platform) whose one layer is a tar holding the disk.
 */
#ifndef VMPULL_OCI_MANIFEST_H
#define VMPULL_OCI_MANIFEST_H

#include "base/error.h"

#include <stddef.h>
#include <stdint.h>

#define OCI_DOC_MAX (4u << 20) /* manifests and indexes larger than this are refused */
#define OCI_ENTRIES_MAX 10000u /* index entries or manifest layers */
#define OCI_NESTING_MAX 4      /* nested indexes followed below the first one */

#define OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define DOCKER_MT_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MT_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
/* What a registry's Accept header lists. */
#define OCI_MANIFEST_ACCEPT OCI_MT_INDEX ", " OCI_MT_MANIFEST ", " DOCKER_MT_LIST ", " DOCKER_MT_MANIFEST

#define OCI_ANNOTATION_TITLE "org.opencontainers.image.title"
#define OCI_ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"
#define OCI_ANNOTATION_DISKTYPE "disktype"

struct oci_descriptor {
  char *media_type;
  char *digest; /* validated: sha256/sha512 with lowercase hex */
  uint64_t size;
  char *os; /* platform, as written (NULL when absent) */
  char *architecture;
  char *variant;
  char *disktype; /* annotation `disktype` */
  char *title;    /* annotation org.opencontainers.image.title */
  char *ref_name; /* annotation org.opencontainers.image.ref.name */
};

enum oci_doc_kind { OCI_DOC_INDEX, OCI_DOC_MANIFEST };

struct oci_doc {
  enum oci_doc_kind kind;
  char *media_type;             /* the document's own, or the one it was declared as */
  struct oci_descriptor *items; /* index: manifests[]; manifest: layers[] */
  size_t n_items;
};

void oci_descriptor_clear(struct oci_descriptor *d);
int oci_descriptor_copy(struct oci_descriptor *dst, const struct oci_descriptor *src);
void oci_doc_clear(struct oci_doc *d);

/* 1 for the OCI index / Docker list media types, 0 otherwise. */
int oci_media_is_index(const char *mt);
/* 1 for the OCI / Docker v2 image manifest media types. */
int oci_media_is_manifest(const char *mt);
/* 1 for an index or an image manifest media type (a document a walk can follow). */
int oci_media_is_document(const char *mt);
/* 1 for tar layer media types (OCI tar, +gzip, +zstd, Docker rootfs diff and its foreign form). */
int oci_media_is_tar_layer(const char *mt);

/* Parse an index or manifest. declared_type is what the referring descriptor
 * or the Content-Type said (NULL: unknown); the document's own mediaType must
 * agree with it. Errors are VMPULL_E_MANIFEST or VMPULL_E_LIMIT. */
int oci_doc_parse(const char *buf, size_t len, const char *declared_type, struct oci_doc *out, lib_error *err);

/* What to pick. */
struct oci_select {
  const char *disktype; /* from the provider */
  const char *arch;     /* normalised: x86_64, aarch64, ... */
  const char *os;       /* "linux" */
  char host_arch[65];   /* storage for the host's architecture (uname) */
};

struct oci_selection;
/* Fill sel from what the caller wants: provider -> disktype, arch (or the host's). */
int oci_select_init(struct oci_select *sel, const struct oci_selection *want, lib_error *err);
/* amd64 -> x86_64, arm64 -> aarch64; anything else as it is. */
const char *oci_arch_normalize(const char *arch);
/* The disktype a provider pulls (qemu, applehv, hyperv, wsl), or NULL for an unknown provider. */
const char *oci_provider_disktype(const char *provider);

/* 1 when some entry of the index carries a disktype annotation (machine-OS format). */
int oci_index_has_disks(const struct oci_doc *index);
/* Choose one entry of an index: by disktype and arch when entries carry
 * disktypes, else by platform. Errors list what exists (VMPULL_E_NO_MATCH). */
int oci_index_select(const struct oci_doc *index, const struct oci_select *sel, size_t *chosen, lib_error *err);
/* The entry named ref (annotation org.opencontainers.image.ref.name), or VMPULL_E_NOT_FOUND listing the names. */
int oci_index_find_ref(const struct oci_doc *index, const char *ref, size_t *chosen, lib_error *err);
/* The one layer of a manifest: *tar set for tar layers; other layers need a title. */
int oci_manifest_layer(const struct oci_doc *manifest, size_t *layer, int *tar, lib_error *err);

#endif
