/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resolving a source string into what to fetch: a plan of how to open the bytes, which
 * image file name (for the naming rule), and what the bytes must hash to.
 * Each kind of source has one resolver; pull.c only calls resolve_source().
 */
#ifndef VMPULL_RESOLVE_H
#define VMPULL_RESOLVE_H

#include "base/naming.h"
#include "fetch/resolved.h"
#include "oci/oci_settings.h"
#include "oci/oci_store.h"
#include "trust/keyring_load.h"

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
int source_classify(const char *source, enum source_kind *kind, lib_error *err);
const char *source_kind_name(enum source_kind kind);

/* Where the output goes: output, else the naming rule under data_dir. */
struct output_naming {
  const char *output;       /* exact output path, or NULL */
  const char *data_dir;     /* folder for the naming rule, or NULL */
  const char *machine_name; /* the naming rule's prefix; NULL: podman-machine-default */
};

/* What the resolvers need to know of one call, typed (the api floor fills it once). */
struct resolve_settings {
  const char *source; /* as given: a path, an http(s) URL, oci-dir://, docker://, fcos://... */
  struct output_naming naming;
  const char *checksums;   /* SHA256SUMS file (path or URL) to look the image up in, or NULL */
  const char *stream_url;  /* fcos:// stream metadata URL; NULL or "": builds.coreos.fedoraproject.org */
  struct http_config http; /* defaults applied */
  struct call_hooks hooks;
  struct oci_settings oci;     /* OCI sources (its selection serves fcos:// too) */
  struct trust_settings trust; /* fcos:// and checksum lists: which keys, which signature */
};

/* Before anything is fetched: n->machine_name follows the naming rule, and n->output (or n->data_dir)
 * prints as it is, on one line (no control character, no invalid UTF-8). */
int output_naming_check(const struct output_naming *n, lib_error *err);
/* Where a pull of image_name writes: n->output as given, else the naming rule under n->data_dir
 * (machine n->machine_name or podman-machine-default); *out is NULL when neither is set. */
int pull_output_path(const struct output_naming *n, const char *image_name, const char *strip_suffix, char **out,
                     lib_error *err);

/* The one dispatch on the kind of source (resolve_source.c). With store: the OCI store s->source names
 * (owned by the caller; a source that holds no OCI image is a usage error). Without: resolve the one
 * image the source names into r (whose cache becomes pc; pc may be NULL). */
int resolve_source(const struct resolve_settings *s, struct pull_cache *pc, struct oci_store **store,
                   struct resolved *r, lib_error *err);

/* Open the bytes r's plan names into r->src (plan_open.c): a file; a URL or a registry's blob
 * through r->cache (reused, revalidated, resumed, or a new download recorded into the cache;
 * r->cached_digest names the cached blob it reads, if it does). The only place the image's bytes
 * start to move; the pull calls it only when it decided to (api/pull_plan.c). */
int resolved_open(struct resolved *r, lib_error *err);

/* The resolvers of plain images, one per kind (each in its own file); resolve_source() calls them. */
int resolve_file(const struct resolve_settings *s, const char *path, struct resolved *r, lib_error *err);
/* url: s->source, or a URL another resolver found (fcos://). */
int resolve_http(const struct resolve_settings *s, const char *url, struct resolved *r, lib_error *err);
int resolve_fcos(const struct resolve_settings *s, struct resolved *r, lib_error *err);

#endif
