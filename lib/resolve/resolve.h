/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resolving a source string into what to fetch: which byte source, which
 * image file name (for the naming rule), and what the bytes must hash to.
 * Each kind of source has one resolver; pull.c only calls resolve_source().
 */
#ifndef VMPULL_RESOLVE_H
#define VMPULL_RESOLVE_H

#include "base/naming.h"
#include "fetch/resolved.h"
#include "oci/oci_store.h"

enum source_kind {
  SOURCE_FILE,
  SOURCE_HTTP,
  SOURCE_OCI_DIR,
  SOURCE_DOCKER,
  SOURCE_FCOS,
  SOURCE_OCI_ARCHIVE,
};

/* Classify a source string. Unknown "scheme://" prefixes are a usage error;
 * anything without one (C:\img.vhdx, name:with:colons) is a local path. */
int source_classify(const char *source, enum source_kind *kind, vmpull_error *err);
const char *source_kind_name(enum source_kind kind);

/* Before anything is fetched: o->machine_name follows the naming rule, and o->output (or o->data_dir)
 * prints as it is, on one line (no control character, no invalid UTF-8). */
int output_options_check(const vmpull_pull_options *o, vmpull_error *err);
/* Where a pull of image_name writes: o->output as given, else the naming rule under o->data_dir
 * (machine o->machine_name or podman-machine-default); *out is NULL when neither is set. */
int pull_output_path(const vmpull_pull_options *o, const char *image_name, const char *strip_suffix, char **out,
                     vmpull_error *err);

/* One resolver per kind of source (each in its own file). */
int resolve_file(const vmpull_pull_options *o, const char *path, struct resolved *r, vmpull_error *err);
int resolve_http(const vmpull_pull_options *o, struct resolved *r, vmpull_error *err);
int resolve_oci_dir(const vmpull_pull_options *o, struct resolved *r, vmpull_error *err);
int resolve_docker(const vmpull_pull_options *o, struct resolved *r, vmpull_error *err);
int resolve_oci_archive(const vmpull_pull_options *o, struct resolved *r, vmpull_error *err);
int resolve_fcos(const vmpull_pull_options *o, struct resolved *r, vmpull_error *err);

/* The OCI store a source names, by its scheme (resolve_oci.c). */
int oci_store_open(const vmpull_pull_options *o, struct oci_store **out, vmpull_error *err);
/* The same, fetching through the pull's cache (pc may be NULL). */
int oci_store_open_cached(const vmpull_pull_options *o, struct pull_cache *pc, struct oci_store **out,
                          vmpull_error *err);

#endif
