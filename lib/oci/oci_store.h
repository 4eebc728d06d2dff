/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An OCI content store the resolvers walk: a local image layout (oci-dir://)
 * or a registry (docker://). Each opens its root document, fetches
 * manifests by digest (verified) and opens blobs as byte sources; the walk
 * and the choice of layer (oci_manifest.h) are shared, so pull and inspect
 * resolve both kinds of source the same way.
 */
#ifndef VMPULL_OCI_STORE_H
#define VMPULL_OCI_STORE_H

#include "base/util.h"
#include "fetch/resolved.h"
#include "oci/oci_settings.h"
#include "oci/oci_walk.h"

struct docker_ref;

struct oci_store {
  struct oci_walk walk; /* root document, selection, fetch callback (userdata: the store) */
  char *display;        /* the source for messages, credentials redacted */
  char *root;           /* the root document (walk.root points here) */
  /* Opens the blob d names (size checked where the store knows it). */
  int (*open_blob)(struct oci_store *s, const struct oci_descriptor *d, struct byte_source **out, lib_error *err);
  /* Remote stores only (NULL for a local layout): open the blob from byte offset on; *status is
   * the HTTP status (206: the range was honoured). The cache resumes blobs with it (fetch.h: fetch_blob). */
  int (*open_blob_at)(struct oci_store *s, const struct oci_descriptor *d, uint64_t offset, long *status,
                      struct byte_source **out, lib_error *err);
  /* Registries only (NULL: none): where ranges of blob d go, for a segmented download (blob_target_fn,
   * fetch/resolved.h). */
  int (*blob_target)(struct oci_store *s, const struct oci_descriptor *d, int renew, struct blob_target *t,
                     lib_error *err);
  /* Registries only (NULL for a layout): the manifest tagged tag in the same repository, at the host
   * that served the root document: 0 and the document (within OCI_DOC_MAX; its digest checked when
   * the registry names one) in *buf, *len and its Content-Type in *media_type (may be NULL); 1 when
   * the registry has no such tag (404); else an error. For sigstore attachments (sigstore_attach.h). */
  int (*fetch_tag)(struct oci_store *s, const char *tag, char **buf, size_t *len, char **media_type, lib_error *err);
  /* Local layouts only (NULL for a registry): the small regular file name of the layout, outside blobs/
   * (signatures/<alg>-<hex>/signature-N), at most max bytes, NUL-terminated: 1 read, 0 not there, or an
   * error (VMPULL_E_LIMIT when larger). */
  int (*read_file)(struct oci_store *s, const char *name, size_t max, char **buf, size_t *len, lib_error *err);
  /* Registries only (NULL for a layout): the registry and repository of the host that serves the image
   * now (a mirror's, or registries.conf's location; else the reference's own): containers/image's
   * physicalRef, whose registries.d scope says where its signatures are (policy_eval.h). */
  const struct docker_ref *(*serving_ref)(struct oci_store *s);
  /* The reference pinned to a manifest digest, for results ("docker://r/repo@sha256:..."). */
  char *(*pinned_reference)(struct oci_store *s, const char *manifest_digest);
  void (*free)(struct oci_store *s);
  struct pull_cache *cache; /* the pull's cache (borrowed), or NULL */
  char *mirror;             /* the registry mirror that served the root document, or NULL (oci_mirror.h) */
  unsigned extra_refs;      /* holders besides the opener (a blob transfer that may need to re-authenticate) */
};

/* Another holder; each oci_store_free drops one, the last frees. */
static inline struct oci_store *oci_store_ref(struct oci_store *s) {
  s->extra_refs++;
  return s;
}
void oci_store_free(struct oci_store *s);
static inline void oci_store_freep(struct oci_store **s) {
  oci_store_free(*s);
}
#define _cleanup_oci_store_ _cleanup_(oci_store_freep)

/* oci-dir://PATH[:REF] (source), walked with want's selection. */
int oci_dir_store_open(const char *source, const struct oci_selection *want, struct oci_store **out, lib_error *err);
/* The registry ref names (with its tag or digest), reached and authenticated as set says (set is
 * copied; its strings are borrowed for the store's life). given: the source as the caller spelt
 * it, shown in messages (NULL: they name ref). pc (may be NULL): manifests known by digest come
 * from the cache; a tag costs one request, except with --offline, where the cache's last answer
 * for it stands. */
int oci_registry_store_open(const struct oci_settings *set, const struct docker_ref *ref, const char *given,
                            struct pull_cache *pc, struct oci_store **out, lib_error *err);
/* oci-archive://FILE[:REF]: a layout as one tar, read in place (store_archive.c). */
int oci_archive_store_open(const char *source, const struct oci_selection *want, struct oci_store **out,
                           lib_error *err);
/* A registry store's retry budget (mirrors are first tried without retries, oci_mirror.c). */
void oci_registry_store_set_retries(struct oci_store *s, int retries);
/* The content of an oci-layout file must say imageLayoutVersion 1.0.0 (path names the layout). */
int oci_layout_file_check(const char *buf, size_t len, const char *path, lib_error *err);
/* Plan the target's layer (opened later by resolved_open, holding a reference to s) and fill what pull
 * needs (name, digest, size, tar flag). */
int oci_resolve_target(struct oci_store *s, const struct oci_target *t, struct resolved *r, lib_error *err);

/* A fetched document must have the descriptor's size and digest (what names it in messages). */
int oci_check_document(const struct oci_descriptor *d, const char *buf, size_t len, const char *what, lib_error *err);

/* Shared by the local layout stores (oci-dir://, oci-archive://). */
/* A document d names may be at most OCI_DOC_MAX bytes; kind ("index", "manifest") names it. */
int oci_layout_doc_size_check(const struct oci_descriptor *d, const char *kind, lib_error *err);
/* The document read for d (len bytes of *data) must match d; then it is handed to *buf and *buf_len. */
int oci_layout_doc_take(const struct oci_descriptor *d, const char *kind, char **data, size_t len, char **buf,
                        size_t *buf_len, lib_error *err);
/* Walk s->root (root_len bytes, the layout's index.json) with want's selection, fetching through fetch. */
int oci_layout_walk_init(struct oci_store *s, const struct oci_selection *want, size_t root_len, oci_fetch_fn fetch,
                         void *userdata, const char *ref_name, lib_error *err);
/* pinned_reference for a layout: the manifest digest alone. */
char *oci_layout_pinned_reference(struct oci_store *s, const char *manifest_digest);

#endif
