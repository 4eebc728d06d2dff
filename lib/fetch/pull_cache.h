/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cache as one pull sees it (pull.c holds one struct pull_cache):
 *   - fetch_url(), fetch_blob() and fetch_document() are what resolvers call
 *     instead of opening the network directly. They answer from the cache
 *     (revalidating a URL with a conditional request), resume a partial
 *     download, or start a new one whose bytes the tee writes into the
 *     entry as they stream past;
 *   - pull_cache_replay() puts the bytes of a resumed download in front of
 *     the network's, through the same hash and decoder;
 *   - pull_cache_commit() files the entry under its digest once it checked;
 *   - keep_uncompressed: pull_cache_from_disk() / pull_cache_keep_disk().
 * Without a cache (--no-cache, or no cache folder) the fetch functions go
 * straight to the network, with retries.
 */
#ifndef VMPULL_PULL_CACHE_H
#define VMPULL_PULL_CACHE_H

#include "fetch/fetch_settings.h"
#include "fetch/resolved.h"
#include "net/http.h"
#include "store/cache.h"

struct pull_cache {
  const struct fetch_settings *set; /* borrowed: a pull_cache lives within one vmpull call */
  struct cache *cache;              /* NULL: not caching */
  struct progress_state *progress;
  vmpull_error *err; /* how the pull ended, read at cleanup */
  int *distrust;     /* set to 1 when cached bytes proved bad (vmpull_pull tries once more) */
  char *want_digest; /* the bytes must hash to this: a blob by that digest is a hit */

  /* The entry this pull fills: partial/<name>, which is also its lock. */
  int fd;
  char name[65];
  int filling;          /* the tee writes fetched bytes into fd from resume_from on */
  uint64_t resume_from; /* bytes already in fd, replayed before the network's */
  struct cache_ref ref; /* filed at commit: key, validators, content disposition */

  char *hit_digest;      /* the bytes come from blobs/sha256/<this> */
  char *disk_only;       /* --offline, no bytes: only the disk kept from this digest can make the output */
  int used_cached_bytes; /* a cached blob or a partial fed this pull */
  int committed;
};

#define PULL_CACHE_INIT                                                                                                \
  {                                                                                                                    \
    .fd = -1, .ref = {.size = UINT64_MAX }                                                                             \
  }

/* Open the cache set names (creating it) unless set->no_cache. A cache
 * that cannot be opened is a warning, except with --offline; so is one that
 * cannot be written later in the pull (the pull then goes on without it). */
int pull_cache_init(struct pull_cache *pc, const struct fetch_settings *set, struct progress_state *progress,
                    int *distrust, vmpull_error *err);
/* Release the entry; after a failure caused by cached bytes, remove them and set *distrust. */
void pull_cache_done(struct pull_cache *pc);

/* base, plus the pull's progress state (pc may be NULL): retry waits call the caller's progress
 * callback, whose non-zero return cancels them. */
void pull_cache_http_config(const struct pull_cache *pc, const struct http_config *base, struct http_config *c);

/* The main artifact at req->url (pc may be NULL). resp: the response's
 * headers, or for a cache hit the cached ones (content_disposition...). */
int fetch_url(struct pull_cache *pc, const struct http_config *c, const struct http_request *req,
              struct http_response *resp, struct byte_source **out, vmpull_error *err);

/* A content-addressed blob (registry layer). open_at(ctx, offset, ...) opens
 * the network source from byte offset (0: all; for a later byte, a 200 that
 * ignores the range is fine, the caller sees status). */
typedef int (*blob_open_fn)(void *ctx, uint64_t offset, long *status, struct byte_source **out, vmpull_error *err);
int fetch_blob(struct pull_cache *pc, const char *digest, const char *what, blob_open_fn open_at, void *ctx,
               struct byte_source **out, vmpull_error *err);

/* A small document (stream metadata, a manifest by tag): http_get through the
 * cache, revalidated; with --offline the cached copy. Same contract as http_get. */
int fetch_document(struct pull_cache *pc, const struct http_config *c, const struct http_request *req,
                   struct http_response *resp, vmpull_error *err);

/* Documents named by digest (manifests): 1 and the cached bytes (their digest
 * checked), or 0. By reference (a tag): what it resolved to last time, for
 * --offline. put keeps a document, and with key what key resolved to; a
 * failure there only costs a later cache hit. */
int cache_document_by_digest(struct pull_cache *pc, const char *digest, char **buf, size_t *len);
int cache_document_by_ref(struct pull_cache *pc, const char *key, char **buf, size_t *len, char **digest,
                          char **media_type);
void cache_document_put(struct pull_cache *pc, const char *key, const char *media_type, const char *buf, size_t len);

/* tee options for the entry being filled. */
int pull_cache_fill_fd(const struct pull_cache *pc);
uint64_t pull_cache_fill_offset(const struct pull_cache *pc);
/* The tee could not write into the entry (errnum): one warning, the partial file goes, and
 * the pull goes on without the cache (data: the struct pull_cache). */
void pull_cache_fill_failed(void *data, int errnum);
/* Put the partial bytes in front of tee (which *top then owns); *top = tee when there are none. */
int pull_cache_replay(struct pull_cache *pc, struct byte_source *tee, struct byte_source **top, vmpull_error *err);
/* The pull verified digest: file the entry. A cached blob that hashed to
 * something else is an error (the pull is then retried without it). */
int pull_cache_commit(struct pull_cache *pc, const char *digest, vmpull_error *err);

/* keep_uncompressed: the output from a kept disk is api/pull_kept_disk.h's. Will this pull keep its disk? Then the sink
 * builds the disk's map as it writes (sink_options.chunk_map). */
int pull_cache_keeps_disks(const struct pull_cache *pc);
struct sink;
/* After the output is committed: keep a copy of it with the sink's map (warning on failure). */
void pull_cache_keep_disk(struct pull_cache *pc, const char *digest, struct sink *sink, const char *format,
                          const char *image_name, uint64_t fetched);
/* One warning line through the caller's callback. */
void pull_cache_warn(const struct pull_cache *pc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
