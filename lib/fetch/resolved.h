/* SPDX-License-Identifier: Apache-2.0 */
/* What a resolver hands the pull: the bytes to fetch and what they must be. The fetch floor fills
 * it for a cached or remote blob (a resolver above it fills the rest). */
#ifndef VMPULL_RESOLVED_H
#define VMPULL_RESOLVED_H

#include "pipeline/source.h"

#include <stdint.h>

struct pull_cache;

struct resolved {
  struct byte_source *src;   /* the bytes as fetched (owned) */
  char *image_name;          /* file name for naming and suffix rules (owned) */
  char *display;             /* source for messages/result, credentials redacted (owned) */
  char *expected_digest;     /* "sha256:..."/"sha512:..." the bytes must hash to, or NULL (owned) */
  uint64_t expected_size;    /* UINT64_MAX: unknown */
  int tar_layer;             /* the bytes are a tar holding the image: unwrap first */
  char *reference;           /* resolved OCI reference / manifest digest, or NULL (owned) */
  char *content_disposition; /* reported only (owned) */
  struct pull_cache *cache;  /* set by pull.c before resolving (borrowed): resolvers fetch through it */
  char *mirror;              /* the registry mirror that served the reference, or NULL (owned) */
};

void resolved_clear(struct resolved *r);

#endif
