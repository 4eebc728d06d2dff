/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one decision of a pull, made after resolving and before a byte of the image moves: copy a
 * kept disk, or open the plan's bytes (resolved_open: fetch_url/fetch_blob then read a cached blob,
 * revalidate, resume a partial, download, or fail under --offline, by fetch.c's decide_url and
 * decide_blob). A kept disk is chosen without opening anything when the source's digest is known
 * without asking a server (the OCI descriptor, fcos stream metadata, --digest, the --checksums
 * list, or under --offline the cache's record of the URL); a URL whose digest only its server can
 * confirm is revalidated first, as any cached copy is. A local file whose first bytes name no
 * compression is copied (a reflink, or its data extents) rather than read and decoded, hashed only
 * when a digest is to be checked; not when the cache keeps decoded disks (keep_uncompressed keeps
 * one for a local file as for any source, which needs the map the sink records while writing).
 */
#ifndef VMPULL_PULL_PLAN_H
#define VMPULL_PULL_PLAN_H

#include "api/options.h"
#include "fetch/cache_session.h"
#include "fetch/resolved.h"

enum pull_way {
  PULL_WAY_SOURCE,     /* decode the plan's bytes: rs->src is open */
  PULL_WAY_KEPT_DISK,  /* copy the disk kept for kept_digest (api/pull_kept_disk.c) */
  PULL_WAY_LOCAL_COPY, /* a local file that is already the disk: copy (or clone) local_fd (api/pull_local.c) */
};

struct pull_decision {
  enum pull_way way;
  const char *kept_digest; /* KEPT_DISK: the source digest whose kept disk makes the output (owned by
                              the decision or the plan) */
  int source_behind;       /* KEPT_DISK: should the disk fail, the source can be decoded instead (not
                              --offline without its bytes) */
  int opened;              /* the plan's bytes were opened (resolved_open ran) */
  int check_source;        /* KEPT_DISK: rs->src (the cached blob) is read through the signature check,
                              not decoded, before the disk is handed out */
  char *listed_digest;     /* --checksums: the list's entry for the image (owned), looked up first */
  char *known_digest;      /* the digest that chose the kept disk before opening (owned) */
  int local_fd;            /* LOCAL_COPY: the file, open (owned) */
  uint64_t local_size;     /* LOCAL_COPY: its size */
  int local_hash;          /* LOCAL_COPY: hash while copying (a digest is to be checked or reported) */
};
#define PULL_DECISION_INIT                                                                                             \
  { .way = PULL_WAY_SOURCE, .local_fd = -1 }
void pull_decision_clear(struct pull_decision *d);

/* Decide how the pull makes its output (see above); d->way says which, and for PULL_WAY_SOURCE
 * the bytes are open (rs->src). must_read: the bytes themselves must pass (a signature over them is
 * checked as they stream), so no kept disk stands in for them: it is the way only when they are the
 * cached blob, read through the check (check_source) and not decoded. */
int pull_plan_decide(const struct pull_config *o, struct pull_cache *pc, struct resolved *rs, int must_read,
                     struct pull_decision *d, lib_error *err);
/* The kept disk could not be used (and the decision said its source is behind it): open the
 * plan's bytes after all, unless they already are. */
int pull_plan_open_source(struct resolved *rs, struct pull_decision *d, lib_error *err);

#endif
