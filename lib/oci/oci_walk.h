/* SPDX-License-Identifier: Apache-2.0 */
/* The walk from a root document down to one layer (oci_walk_one) or every disk (oci_walk_all),
 * shared by every store and by pull, inspect and save. */
#ifndef VMPULL_OCI_WALK_H
#define VMPULL_OCI_WALK_H

#include "oci/oci_manifest.h"

/* The outcome of a walk from a root document down to one layer. */
struct oci_target {
  char *index_digest;          /* the first index's digest, NULL when the root was a manifest */
  char *manifest_digest;       /* the chosen manifest */
  struct oci_descriptor entry; /* the index entry that led to the manifest (platform, disktype) */
  struct oci_descriptor layer; /* the disk (or tar) layer */
  int tar_layer;
};
void oci_target_clear(struct oci_target *t);

/* Fetches the document a descriptor points to, verified against its digest
 * and size and at most OCI_DOC_MAX bytes. *buf is freed by the walker. */
typedef int (*oci_fetch_fn)(void *userdata, const struct oci_descriptor *d, char **buf, size_t *len, lib_error *err);
/* Called for each target with --all; a negative return stops the walk. */
typedef int (*oci_target_fn)(void *userdata, const struct oci_target *t, lib_error *err);

struct oci_walk {
  const char *root; /* the first document */
  size_t root_len;
  const char *root_digest; /* its digest (NULL: computed as sha256) */
  const char *root_type;   /* Content-Type / declared media type, or NULL */
  const char *root_name;   /* how messages name the root ("index.json"); NULL: "index <digest>" */
  const char *ref_name;    /* oci-dir REF: picks the root index's entry by name, or NULL */
  int root_is_layout;      /* the root is a layout's index.json, not content: index_digest then
                              names the first index below it (when there is one) */
  struct oci_select sel;
  oci_fetch_fn fetch;
  void *userdata;
};

/* Walk to the one layer pull would fetch. */
int oci_walk_one(const struct oci_walk *w, struct oci_target *out, lib_error *err);
/* Walk to every disk the index offers (every disktype entry, or every platform
 * entry without them), calling fn for each. */
int oci_walk_all(const struct oci_walk *w, oci_target_fn fn, void *fn_data, lib_error *err);

#endif
