/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cache as one pull sees it, its session (pull.c holds one struct pull_cache):
 *   - pull_cache_init() opens the cache fetch_settings name (or none: --no-cache);
 *   - the fetch functions (fetch.h) lock the entry they fill, or serve a blob from it;
 *   - pull_cache_record() has the fetched source write its bytes into the entry;
 *   - pull_cache_replay() puts the bytes of a resumed download in front of
 *     the network's, through the same hash and decoder;
 *   - pull_cache_commit() files the entry under its digest once it checked;
 *   - keep_uncompressed: api/pull_kept_disk.h, on the api floor.
 * Manifests kept by digest are document_cache.h's.
 */
#ifndef VMPULL_CACHE_SESSION_H
#define VMPULL_CACHE_SESSION_H

#include "fetch/fetch_settings.h"
#include "fetch/pull_facts.h"
#include "fetch/resolved.h"
#include "net/http.h"
#include "net/http_retry.h"
#include "pipeline/source.h"
#include "store/cache.h"

struct pull_cache {
  const struct fetch_settings *set; /* borrowed: a pull_cache lives within one vmpull call */
  struct cache *cache;              /* NULL: not caching */
  struct progress_state *progress;
  lib_error *err;    /* how the pull ended, read at cleanup */
  int *distrust;     /* set to 1 when cached bytes proved bad (vmpull_pull tries once more) */
  char *want_digest; /* the bytes must hash to this: a blob by that digest is a hit */

  /* The entry this pull fills: partial/<name>, which is also its lock. */
  int fd;
  char name[65];
  int filling;          /* the fetched source records its bytes into fd from resume_from on */
  uint64_t resume_from; /* bytes already in fd, replayed before the network's */
  struct cache_ref ref; /* filed at commit: key, validators, content disposition */
  int self_recording;   /* the fetched source writes fd itself (a segmented download, fetch_segments.c) */
  uint64_t total;       /* its length, for the records it writes */
  char *seg_key;        /* ... and the entry's key they name */

  char *served_blob;     /* this pull reads blobs/sha256/<this> (its own checks: commit, distrust) */
  int used_cached_bytes; /* a cached blob or a partial fed this pull */
  int committed;

  struct pull_facts *facts; /* what the outcome reports, filled where it happens (borrowed; NULL: not asked) */

  /* A URL's file that changed on the server during the download: its new version, for the pull to
   * start over with (fetch_url_restart); restart.left: how many more times (0: none). */
  struct http_restart restart;
};

#define PULL_CACHE_INIT                                                                                                \
  {                                                                                                                    \
    .fd = -1, .ref = {.size = UINT64_MAX }                                                                             \
  }

/* Open the cache set names (creating it) unless set->no_cache. A cache
 * that cannot be opened is a warning, except with --offline; so is one that
 * cannot be written later in the pull (the pull then goes on without it). */
int pull_cache_init(struct pull_cache *pc, const struct fetch_settings *set, struct progress_state *progress,
                    int *distrust, lib_error *err);
/* Release the entry; after a failure caused by cached bytes, remove them and set *distrust. */
void pull_cache_done(struct pull_cache *pc);

/* base, plus the pull's progress state (pc may be NULL): retry waits call the caller's progress
 * callback, whose non-zero return cancels them. */
void pull_cache_http_config(const struct pull_cache *pc, const struct http_config *base, struct http_config *c);

/* When this pull fills an entry: wrap *src (taking it) in a source that writes each read into the
 * entry from the resume point on, from the reader's own buffer. A write that fails costs the cache
 * (one warning, the partial file goes), not the pull. Without an entry to fill *src stays. */
int pull_cache_record(struct pull_cache *pc, struct byte_source **src, lib_error *err);
/* Put the partial bytes in front of tee (which *top then owns); *top = tee when there are none. */
int pull_cache_replay(struct pull_cache *pc, struct byte_source *tee, struct byte_source **top, lib_error *err);
/* The pull verified digest: file the entry. A cached blob that hashed to
 * something else is an error (the pull is then retried without it). */
int pull_cache_commit(struct pull_cache *pc, const char *digest, lib_error *err);

/* For the fetch functions (fetch.c). Lock the entry key names (shown: how a wait names it): 1 the
 * entry is ours to fill, 0 the cache could not take it and is off for this pull, or an error. */
int pull_cache_lock_entry(struct pull_cache *pc, const char *key, const char *shown, lib_error *err);
/* Serve the bytes of blob digest from the cache (counted as resumed); a partial of it goes. */
int pull_cache_use_blob(struct pull_cache *pc, const char *digest, struct byte_source **out, lib_error *err);
/* Start filling the locked entry from byte 0 with this response (or go on without the cache). */
void pull_cache_start_fill(struct pull_cache *pc, const char *key, const struct http_response *resp);
/* Writing into the entry failed (why: one line naming the file): say so once, drop the entry and
 * its record, and go on without the cache for this pull (nothing of it is filed). */
void pull_cache_give_up(struct pull_cache *pc, const char *why);
/* The same for a write into the entry that failed with errnum. */
void pull_cache_fill_failed(struct pull_cache *pc, int errnum);
/* One warning line through the caller's callback. */
void pull_cache_warn(const struct pull_cache *pc, const char *fmt, ...) VMPULL_PRINTF(2, 3);
/* The caller's hooks (warning, log) this pull was set up with; NULL: none. */
const struct call_hooks *pull_cache_hooks(const struct pull_cache *pc);

#endif
