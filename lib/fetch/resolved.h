/* SPDX-License-Identifier: Apache-2.0 */
/* What a resolver hands the pull: a plan of the bytes to fetch and what they must be. Nothing of
 * the image moves while resolving (manifests and stream metadata may: the plan is made from them);
 * resolved_open() (lib/resolve/plan_open.c) opens the bytes when the pull asks for them. */
#ifndef VMPULL_RESOLVED_H
#define VMPULL_RESOLVED_H

#include "net/http.h"
#include "pipeline/source.h"

#include <signal.h>
#include <stdint.h>

struct pull_cache;

/* A content-addressed blob (registry layer). open_at(ctx, offset, ...) opens
 * the network source from byte offset (0: all; for a later byte, a 200 that
 * ignores the range is fine, the caller sees status). */
typedef int (*blob_open_fn)(void *ctx, uint64_t offset, long *status, struct byte_source **out, lib_error *err);

/* Where the ranges of a blob's segmented download go (fetch_segments.h), and what they carry. */
struct blob_target {
  char *url;                  /* where the last open ended after its redirects (owned, wiped: a signed URL) */
  struct curl_slist *headers; /* the registry's credentials, only when url is the registry's own (owned) */
  struct http_config http;    /* the store's (its pointers borrowed from the store) */
};
void blob_target_clear(struct blob_target *t);
/* Fill t for ranges of the blob ctx names. renew: the last URL was refused (401, 403, 410: a token
 * or a signed storage URL that expired): open the blob again first (a fresh token, a new URL). */
typedef int (*blob_target_fn)(void *ctx, int renew, struct blob_target *t, lib_error *err);

/* How the image's bytes are opened. */
enum byte_plan_kind {
  BYTE_PLAN_NONE,
  BYTE_PLAN_FILE, /* a local file: location is its path */
  BYTE_PLAN_URL,  /* an http(s) URL: location, credentials and all, fetched through the cache */
  BYTE_PLAN_BLOB, /* a blob of an OCI store: digest, opened with open_at */
};

struct byte_plan {
  enum byte_plan_kind kind;
  char *location;                /* FILE: the path; URL: the URL (owned, wiped: it may hold a password) */
  volatile sig_atomic_t *cancel; /* FILE: the caller's cancel flag (borrowed) */
  struct http_config http;       /* URL: defaults applied (its pointers borrowed from the settings) */
  char *digest;                  /* BLOB: the blob's digest (owned) */
  const char *what;              /* BLOB: how messages name its store (owned by blob) */
  int remote;                    /* BLOB: a registry's, fetched through the cache by digest */
  blob_open_fn open_at;          /* BLOB */
  blob_target_fn target;         /* BLOB: where ranges go (a registry's), or NULL: one request only */
  void *blob;                    /* BLOB: open_at's context (owned, freed with blob_free) */
  void (*blob_free)(void *blob);
};

struct resolved {
  struct byte_plan plan;     /* how to open the bytes */
  struct byte_source *src;   /* the bytes, once resolved_open() opened them (owned) */
  char *image_name;          /* file name for naming and suffix rules (owned) */
  char *display;             /* source for messages/result, credentials redacted (owned) */
  char *expected_digest;     /* "sha256:..."/"sha512:..." the bytes must hash to, or NULL (owned) */
  uint64_t expected_size;    /* UINT64_MAX: unknown */
  int tar_layer;             /* the bytes are a tar holding the image: unwrap first */
  char *reference;           /* resolved OCI reference / manifest digest, or NULL (owned) */
  char *content_disposition; /* reported only (owned) */
  struct pull_cache *cache;  /* set before resolving (borrowed): documents and the bytes go through it */
  char *mirror;              /* the registry mirror that served the reference, or NULL (owned) */
  char *kept_disk_only;      /* --offline without the bytes (src NULL): the digest whose kept disk alone can make
                                the output, as the fetch decided (owned) */
  char *cached_digest;       /* src reads the cached blob of this digest (the one promised, or the URL's record,
                                current by a 304 or by --offline), as the fetch decided (owned) */
  const char *verified_type; /* what the signature policy verified (oci/policy_eval.h), or NULL (static) */
  char *verified_key;        /* ... and by which key (owned) */
  int signature_expected;    /* the bytes come with a detached OpenPGP signature to check (fcos://) */
  char *signature_url;       /* where that signature is, or NULL: the source names none (owned) */
};

void resolved_clear(struct resolved *r);

#endif
