/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resolving a source string into what to fetch: which byte source, which
 * image file name (for the naming rule), and what the bytes must hash to.
 * Each kind of source has one resolver; pull.c only calls resolve_source().
 */
#ifndef VMPULL_RESOLVE_H
#define VMPULL_RESOLVE_H

#include "pipeline/source.h"

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

/* Base name for the naming rule: rejects empty, ".", "..", "/", "\\", control characters and invalid
 * UTF-8 (whatever text_clean would change). */
int image_name_check(const char *name, vmpull_error *err);
/* podman's rule for a machine name, ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$; the message names the first
 * character refused. */
int machine_name_check(const char *name, vmpull_error *err);
/* Before anything is fetched: o->machine_name follows the rule above, and o->output (or o->data_dir)
 * prints as it is, on one line (no control character, no invalid UTF-8). */
int output_options_check(const vmpull_pull_options *o, vmpull_error *err);
/* Last path component of a local path (either separator). */
const char *path_base_name(const char *path);
/* <data_dir>/<machine>_<image_name without the format's suffix>. */
int naming_output_path(const char *data_dir, const char *machine, const char *image_name, const char *strip_suffix,
                       char **out, vmpull_error *err);
/* Where a pull of image_name writes: o->output as given, else the naming rule under o->data_dir
 * (machine o->machine_name or podman-machine-default); *out is NULL when neither is set. */
int pull_output_path(const vmpull_pull_options *o, const char *image_name, const char *strip_suffix, char **out,
                     vmpull_error *err);

struct resolved {
  struct byte_source *src;      /* the bytes as fetched (owned) */
  char *image_name;             /* file name for naming and suffix rules (owned) */
  char *display;                /* source for messages/result, credentials redacted (owned) */
  char *expected_digest;        /* "sha256:..."/"sha512:..." the bytes must hash to, or NULL (owned) */
  uint64_t expected_size;       /* UINT64_MAX: unknown */
  int tar_layer;                /* the bytes are a tar holding the image: unwrap first */
  char *reference;              /* resolved OCI reference / manifest digest, or NULL (owned) */
  char *content_disposition;    /* reported only (owned) */
  struct pull_cache *cache;     /* set by pull.c before resolving (borrowed): resolvers fetch through it */
  char *mirror;                 /* the registry mirror that served the reference, or NULL (owned) */
};

void resolved_clear(struct resolved *r);

/* One resolver per kind of source (each in its own file). */
int resolve_file(const vmpull_pull_options *o, const char *path, struct resolved *r, vmpull_error *err);
int resolve_http(const vmpull_pull_options *o, struct resolved *r, vmpull_error *err);
int resolve_oci_dir(const vmpull_pull_options *o, struct resolved *r, vmpull_error *err);
int resolve_docker(const vmpull_pull_options *o, struct resolved *r, vmpull_error *err);
int resolve_oci_archive(const vmpull_pull_options *o, struct resolved *r, vmpull_error *err);
int resolve_fcos(const vmpull_pull_options *o, struct resolved *r, vmpull_error *err);

#endif
