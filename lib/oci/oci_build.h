/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI documents vmpull writes (save): descriptors, a disk's index entry, and the machine-OS
 * artifact (the empty config, one titled layer, a manifest, an index with platform and disktype)
 * that a plain file or URL is wrapped in; and what save reads of a manifest beyond the walk. */
#ifndef VMPULL_OCI_BUILD_H
#define VMPULL_OCI_BUILD_H

#include "oci/oci_manifest.h"

#include <json-c/json.h>
#include <stdint.h>

#define OCI_MT_EMPTY "application/vnd.oci.empty.v1+json"

/* The media type a document declares for itself (or declared, when it says nothing). */
int oci_doc_media_type(const char *buf, size_t len, const char *declared, char **out, lib_error *err);
/* The config descriptor of the manifest buf (digest names it in errors); not part of what the walk reads. */
int oci_manifest_config(const char *buf, size_t len, const char *digest, struct oci_descriptor *out, lib_error *err);
/* {mediaType, digest, size}; NULL when out of memory. */
json_object *oci_build_descriptor(const char *media_type, const char *digest, uint64_t size);
/* The index entry for one disk: its manifest (buf, len bytes, named digest), with the platform and
 * disktype of the entry (via) that led to it. */
int oci_build_disk_entry(const struct oci_descriptor *via, const char *buf, size_t len, const char *declared,
                         const char *digest, json_object **out, lib_error *err);
/* A layer's media type from its file name (the compression is what a reader needs to know). */
const char *oci_layer_media_type(const char *name);
/* The artifact manifest: the config, and one layer titled title; NULL when out of memory. */
json_object *oci_build_artifact_manifest(const char *config_digest, uint64_t config_size, const char *config_type,
                                         const char *layer_type, const char *layer_digest, uint64_t layer_size,
                                         const char *title);
/* The artifact index: one entry for the manifest, with its platform (linux/arch) and disktype. */
json_object *oci_build_artifact_index(const char *manifest_digest, uint64_t manifest_size, const char *arch,
                                      const char *disktype);

#endif
