/* SPDX-License-Identifier: Apache-2.0 */
/* A download over several connections, where its ranges land (fetch_segments.h). */
#include "fetch/fetch_segments.h"

#include "base/error.h"
#include "base/platform.h"
#include "base/util.h"
#include "net/http_segments.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

uint64_t fetch_segments_prefix(const struct cache_partial *meta) {
  /* struct cache_extent and struct seg_extent are the same two numbers; copy rather than alias. */
  uint64_t from = 0;
  for (size_t i = 0; i < meta->n_extents && meta->extents[i].start <= from; i++)
    from = MAX(from, meta->extents[i].end);
  return from;
}

/* The entry's record names the bytes fd holds: synced first, then the record (durably). */
static int checkpoint_entry(void *data, const struct seg_extent *extents, size_t n, lib_error *why) {
  struct pull_cache *pc = data;
  if (!pc->cache || pc->fd < 0 || !pc->filling || !pc->seg_key)
    return error_set(why, VMPULL_E_IO, "the cache entry is gone");
  if (plat_fdatasync(pc->fd) < 0)
    return error_set_errno(why, VMPULL_E_IO, errno, "write %s/partial/%s", pc->cache->dir, pc->name);
  _cleanup_free_ struct cache_extent *e = calloc(n ? n : 1, sizeof(*e));
  if (!e)
    return error_oom(why);
  for (size_t i = 0; i < n; i++)
    e[i] = (struct cache_extent){extents[i].start, extents[i].end};
  struct cache_partial meta = {
      .key = pc->seg_key,
      .etag = pc->ref.etag,
      .last_modified = pc->ref.last_modified,
      .digest = pc->want_digest,
      .total = pc->total,
      .segmented = 1,
      .extents = e,
      .n_extents = n,
  };
  return cache_partial_put(pc->cache, pc->name, &meta, why) < 0 ? -EIO : 0;
}

/* The entry cannot take the bytes (checkpoint_entry's error, or a write that failed with errnum):
 * the cache only saves time, the pull goes on without it (the ranges have stopped). */
static void entry_land_failed(void *data, int errnum, const lib_error *why) {
  struct pull_cache *pc = data;
  if (why)
    pull_cache_give_up(pc, why->message);
  else
    pull_cache_fill_failed(pc, errnum);
}

/* The same for the temporary file of a download no entry takes: only the ranges stop. */
static void tmpfile_land_failed(void *data, int errnum, const lib_error *why) {
  (void)why;
  pull_cache_warn(data, "ranges disabled for this pull: write a temporary file in %s: %s; going on over one connection",
                  plat_temp_dir(), strerror(errnum));
}

/* An unlinked file in $TMPDIR (else the system's temporary folder) for the ranges of a download no
 * cache entry takes. */
static int unlinked_tmpfile(lib_error *err) {
  const char *dir = plat_temp_dir();
  int fd = plat_tmpfile_open(AT_FDCWD, dir, 0600);
  if (fd >= 0)
    return fd;
  _cleanup_free_ char *path = xasprintf("%s/vmpull-ranges-XXXXXX", dir);
  if (!path)
    return error_oom(err);
  fd = mkostemp(path, O_CLOEXEC);
  if (fd < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "create a temporary file in %s", dir);
  unlink(path);
  return fd;
}

/* Open the reader for o (url, headers, validator, total, start and renew filled by the caller),
 * taking *out as its first connection: the ranges land in the entry pc fills (key: its record's)
 * or in an unlinked temporary file. */
static int segments_start(struct pull_cache *pc, const struct http_config *c, struct http_segments_options *o,
                          const char *key, const struct cache_partial *resumed, unsigned max, struct byte_source **out,
                          lib_error *err) {
  int into_entry = pc->cache && pc->filling && pc->fd >= 0 && key;
  if (into_entry) {
    free(pc->seg_key);
    if (!(pc->seg_key = strdup(key)))
      return error_oom(err);
  }
  int fd = into_entry ? plat_dup_cloexec(pc->fd, 3) : unlinked_tmpfile(err);
  if (fd < 0)
    return into_entry ? error_set_errno(err, VMPULL_E_IO, errno, "duplicate a file descriptor") : fd;
  _cleanup_free_ struct seg_extent *have = NULL;
  size_t n_have = 0;
  if (resumed && resumed->segmented && resumed->n_extents && o->start > 0) {
    have = calloc(resumed->n_extents, sizeof(*have));
    if (!have) {
      close(fd);
      return error_oom(err);
    }
    for (size_t i = 0; i < resumed->n_extents; i++)
      have[n_have++] = (struct seg_extent){resumed->extents[i].start, resumed->extents[i].end};
  }
  o->fd = fd;
  o->first_into_fd = into_entry;
  o->max_connections = max;
  o->have = have;
  o->n_have = n_have;
  o->checkpoint = into_entry ? checkpoint_entry : NULL;
  o->checkpoint_data = pc;
  o->land_failed = into_entry ? entry_land_failed : tmpfile_land_failed;
  o->land_failed_data = pc;
  o->network_bytes = pc->facts ? &pc->facts->bytes_transferred : NULL;
  uint64_t size = (*out)->size; /* a resume's counts the replayed bytes too */
  struct byte_source *seg = NULL;
  int r = http_segments_open(c, o, TAKE_PTR(*out), &seg, err);
  if (r < 0)
    return r;
  seg->size = size;
  *out = seg;
  pc->self_recording = 1;
  pc->total = o->total;
  return 0;
}

static unsigned max_connections(const struct pull_cache *pc) {
  unsigned max = pc && pc->set ? pc->set->connections : 1;
  return max == 0 ? SEGMENTS_DEFAULT_MAX : max;
}

int fetch_segmented(struct pull_cache *pc, const struct http_config *c, const struct http_request *req,
                    const struct http_response *resp, const char *key, const struct cache_partial *resumed,
                    struct byte_source **out, lib_error *err) {
  unsigned max = max_connections(pc);
  if (!pc || !*out || max == 1)
    return 0;
  uint64_t total, start;
  if (resp->status == 200 && resp->accept_ranges) {
    total = resp->content_length;
    start = 0;
  } else if (resp->status == 206 && resumed) {
    total = resp->content_range_total;
    start = resp->content_range_start;
  } else {
    return 0;
  }
  const char *validator = http_etag_strong(resp->etag) ? resp->etag : resp->last_modified;
  if (!validator || !*validator || !http_segments_worth(total) || start >= total)
    return 0;
  /* The ranges go where the first request ended (a mirror redirector would send each to another
   * mirror). That is the URL curl followed under its own rules, so it carries only the
   * credentials curl would have sent there. */
  struct http_segments_options o = {
      .url = resp->effective_url && *resp->effective_url ? resp->effective_url : req->url,
      .url_first = req->url,
      .headers = req->headers,
      .validator = validator,
      .total = total,
      .start = start,
  };
  return segments_start(pc, c, &o, key, resp->status == 206 ? resumed : NULL, max, out, err);
}

struct blob_renew {
  blob_target_fn target;
  void *ctx;
};

static int blob_renew(void *data, char **url, struct curl_slist **headers, lib_error *err) {
  struct blob_renew *b = data;
  _cleanup_(blob_target_clear) struct blob_target t = {0};
  int r = b->target(b->ctx, 1, &t, err);
  if (r < 0)
    return r;
  *url = TAKE_PTR(t.url);
  *headers = TAKE_PTR(t.headers);
  return 0;
}

int fetch_segmented_blob(struct pull_cache *pc, blob_target_fn target, void *ctx, const char *key,
                         const struct cache_partial *resumed, struct byte_source **out, lib_error *err) {
  unsigned max = max_connections(pc);
  if (!pc || !*out || !target || max == 1)
    return 0;
  /* By digest, the bytes cannot change: its length (the descriptor's) is all a range needs. */
  uint64_t total = (*out)->size, start = pc->filling ? pc->resume_from : 0;
  if (!http_segments_worth(total) || start >= total)
    return 0;
  _cleanup_(blob_target_clear) struct blob_target t = {0};
  int r = target(ctx, 0, &t, err);
  if (r < 0)
    return r;
  struct blob_renew *renew = malloc(sizeof(*renew));
  if (!renew)
    return error_oom(err);
  *renew = (struct blob_renew){target, ctx};
  struct http_segments_options o = {
      .url = t.url,
      .headers = t.headers,
      .total = total,
      .start = start,
      .renew = blob_renew,
      .renew_data = renew,
      .renew_free = free,
  };
  return segments_start(pc, &t.http, &o, key, start > 0 ? resumed : NULL, max, out, err);
}
