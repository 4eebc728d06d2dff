/* SPDX-License-Identifier: Apache-2.0 */
/* The cache session of one pull: the cache it opened, the entry it locks and fills, the bytes it
 * replays from an interrupted download, and what it files at the end (cache_session.h). */
#include "fetch/cache_session.h"

#include "base/error.h"
#include "base/platform.h"
#include "base/progress.h"
#include "base/util.h"
#include "pipeline/record_source.h"
#include "pipeline/tee.h"
#include "store/lock.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

void pull_cache_warn(const struct pull_cache *pc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  hooks_vwarn(pc->set ? &pc->set->hooks : NULL, fmt, ap);
  va_end(ap);
}

const struct call_hooks *pull_cache_hooks(const struct pull_cache *pc) {
  return pc && pc->set ? &pc->set->hooks : NULL;
}

int pull_cache_init(struct pull_cache *pc, const struct fetch_settings *set, struct progress_state *progress,
                    int *distrust, lib_error *err) {
  *pc = (struct pull_cache)PULL_CACHE_INIT;
  pc->set = set;
  pc->progress = progress;
  pc->err = err;
  pc->distrust = distrust;
  if (set->expected_digest) {
    pc->want_digest = strdup(set->expected_digest);
    if (!pc->want_digest)
      return error_oom(err);
  }
  if (set->no_cache || !set->cache_dir || !*set->cache_dir) {
    if (set->offline)
      return error_set(err, VMPULL_E_USAGE, "--offline needs the cache (it was %s)",
                       set->no_cache ? "turned off with --no-cache" : "not given");
    return 0;
  }
  lib_error cerr;
  int refused = 0;
  int r = cache_open(set->cache_dir, 1, &pc->cache, &refused, &cerr);
  if (r < 0) {
    /* A link below the cache folder is someone's doing, not an unusable cache: stop. */
    if (set->offline || refused) {
      *err = cerr;
      return r;
    }
    pull_cache_warn(pc, "not using the cache: %s", cerr.message);
  }
  return 0;
}

void pull_cache_http_config(const struct pull_cache *pc, const struct http_config *base, struct http_config *c) {
  *c = *base;
  c->progress = pc ? pc->progress : NULL;
}

/* Give up the entry. An empty partial is only a lock: it goes (we hold it). */
static void release(struct pull_cache *pc, int drop) {
  if (pc->fd < 0)
    return;
  struct stat st;
  if (drop || (fstat(pc->fd, &st) == 0 && st.st_size == 0 && !pc->filling)) {
    cache_partial_forget(pc->cache, pc->name);
    plat_unlinkat(pc->cache->partial_fd, pc->name, 0);
  }
  closep(&pc->fd);
  pc->filling = 0;
}

void pull_cache_done(struct pull_cache *pc) {
  int code = pc->err ? pc->err->code : VMPULL_OK;
  /* Damaged bytes from the cache cost one more attempt, never a bad disk. */
  int bad = !pc->committed && pc->used_cached_bytes &&
            (code == VMPULL_E_DIGEST || code == VMPULL_E_CORRUPT || code == VMPULL_E_UNSUPPORTED);
  if (pc->cache) {
    /* A blob that still hashes to its name is not what failed (a wrong --digest, bad content
     * upstream): keep it, and fetching it again would change nothing. */
    if (bad && pc->served_blob && !pc->filling) {
      if (cache_blob_verify(pc->cache, pc->served_blob) == 1)
        bad = 0;
      else
        cache_blob_remove(pc->cache, pc->served_blob);
    }
    /* A failed download keeps its bytes for the next pull to resume, unless
     * they are the reason it failed (a digest or decoder error). */
    int drop = pc->filling && (code == VMPULL_E_DIGEST || code == VMPULL_E_CORRUPT || code == VMPULL_E_UNSUPPORTED ||
                               code == VMPULL_E_SIGNATURE);
    if (pc->filling && pc->resume_from == 0 && !drop) {
      struct stat st;
      drop = fstat(pc->fd, &st) == 0 && st.st_size == 0;
    }
    release(pc, drop);
  }
  if (bad && pc->err && pc->cache)
    error_wrap(pc->err, "%s in %s", pc->served_blob ? "cached copy" : "interrupted download", pc->cache->dir);
  if (bad && pc->distrust && !*pc->distrust && !(pc->set && pc->set->offline))
    *pc->distrust = 1;
  cache_free(pc->cache);
  cache_ref_clear(&pc->ref);
  http_restart_clear(&pc->restart);
  free(pc->want_digest);
  free(pc->served_blob);
  free(pc->seg_key);
  *pc = (struct pull_cache)PULL_CACHE_INIT;
}

/* The cache only saves time: when writing into it fails (read-only, full, damaged), say so
 * once and go on without it, dropping what this pull had put into partial/. */
void pull_cache_give_up(struct pull_cache *pc, const char *why) {
  if (!pc->cache)
    return;
  pull_cache_warn(pc, "cache disabled for this pull: %s", why);
  release(pc, 1);
  cache_free(pc->cache);
  pc->cache = NULL;
}

/* While waiting for another pull's lock, the caller's progress callback runs as in any other wait
 * (throttled as ever): returning non-zero from it cancels the wait. */
static int lock_wait_tick(void *data, lib_error *err) {
  return progress_report(data, 0, err);
}

/* 1: the entry is ours to fill; 0: the cache could not take it and is off for this pull. */
int pull_cache_lock_entry(struct pull_cache *pc, const char *key, const char *shown, lib_error *err) {
  cache_key_name(key, pc->name);
  struct lock_wait w = {
      .what = shown,
      .warning = pc->set->hooks.warning,
      .warning_data = pc->set->hooks.warning_data,
      .cancel = pc->set->hooks.cancel,
      .tick = pc->progress ? lock_wait_tick : NULL,
      .tick_data = pc->progress,
  };
  int r = lock_file(pc->cache->partial_fd, pc->name, &w, &pc->fd, err);
  if (r == 0)
    return 1;
  if (err->code == VMPULL_E_CANCELLED || pc->set->offline)
    return r;
  pull_cache_give_up(pc, err->message);
  error_clear(err);
  return 0;
}

void pull_cache_fill_failed(struct pull_cache *pc, int errnum) {
  if (!pc->cache)
    return;
  char why[VMPULL_ERROR_MAX];
  snprintf(why, sizeof(why), "write %s/partial/%s: %s", pc->cache->dir, pc->name, strerror(errnum));
  pull_cache_give_up(pc, why);
}

static void fill_failed(void *data, int errnum) {
  pull_cache_fill_failed(data, errnum);
}

/* Bytes read from the cache count as "resumed" in the progress events. */
struct cached_source {
  struct byte_source base;
  struct byte_source *inner;
  struct progress_state *progress;
};

static int cached_read(struct byte_source *src, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  struct cached_source *s = (struct cached_source *)src;
  int r = source_read(s->inner, buf, cap, got, err);
  if (r == 0 && s->progress)
    s->progress->ev.resumed += *got;
  return r;
}

static void cached_free(struct byte_source *src) {
  struct cached_source *s = (struct cached_source *)src;
  source_free(s->inner);
  free(s);
}

static const struct byte_source_ops cached_ops = {.read = cached_read, .free = cached_free};

/* Serve the bytes from blobs/; the entry's lock is not needed for that. */
int pull_cache_use_blob(struct pull_cache *pc, const char *digest, struct byte_source **out, lib_error *err) {
  struct byte_source *file = NULL;
  int r = cache_blob_open(pc->cache, digest, &file, err);
  if (r < 0)
    return r;
  struct cached_source *s = calloc(1, sizeof(*s));
  if (!s) {
    source_free(file);
    return error_oom(err);
  }
  s->base.ops = &cached_ops;
  s->base.name = file->name;
  s->base.size = file->size;
  s->inner = file;
  s->progress = pc->progress;
  *out = &s->base;
  free(pc->served_blob);
  pc->served_blob = strdup(digest);
  if (!pc->served_blob)
    return error_oom(err);
  pc->used_cached_bytes = 1;
  /* A partial of the same thing is of no use any more. */
  release(pc, 1);
  return 0;
}

/* Start filling the entry from byte 0 with this response (or, when the cache cannot take it, go on without). */
void pull_cache_start_fill(struct pull_cache *pc, const char *key, const struct http_response *resp) {
  if (ftruncate(pc->fd, 0) < 0) {
    lib_error why;
    error_set_errno(&why, VMPULL_E_IO, errno, "truncate %s/partial/%s", pc->cache->dir, pc->name);
    pull_cache_give_up(pc, why.message);
    return;
  }
  struct cache_partial meta = {
      .key = (char *)key,
      .etag = resp ? resp->etag : NULL,
      .last_modified = resp ? resp->last_modified : NULL,
      .digest = pc->want_digest,
      .total = resp ? resp->content_length : UINT64_MAX,
  };
  lib_error why;
  if (cache_partial_put(pc->cache, pc->name, &meta, &why) < 0) {
    pull_cache_give_up(pc, why.message);
    return;
  }
  pc->filling = 1;
  pc->resume_from = 0;
}

int pull_cache_record(struct pull_cache *pc, struct byte_source **src, lib_error *err) {
  if (!pc || !pc->filling || !*src)
    return 0;
  struct record_options o = {.fd = pc->fd, .offset = pc->resume_from, .failed = fill_failed, .failed_data = pc};
  return record_source_new(TAKE_PTR(*src), &o, src, err);
}

/* ---- replay: the partial's bytes first, hashed and decoded like fresh ones ---- */

struct replay_source {
  struct byte_source base;
  struct byte_source *tee;
  int fd; /* borrowed from the pull_cache */
  uint64_t off, end;
  struct progress_state *progress;
};

static int replay_read(struct byte_source *src, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  struct replay_source *s = (struct replay_source *)src;
  if (s->off >= s->end)
    return source_read(s->tee, buf, cap, got, err);
  int r = progress_check_cancel(s->progress, err);
  if (r < 0)
    return r;
  for (;;) {
    ssize_t n = plat_pread(s->fd, buf, (size_t)MIN((uint64_t)cap, s->end - s->off), s->off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return error_set_errno(err, VMPULL_E_IO, errno, "read the interrupted download of %s", s->base.name);
    if (n == 0)
      return error_set(err, VMPULL_E_IO, "the interrupted download of %s shrank", s->base.name);
    s->off += (uint64_t)n;
    *got = (size_t)n;
    break;
  }
  r = tee_prime(s->tee, buf, *got, err);
  if (r < 0)
    return r;
  if (s->progress) {
    s->progress->ev.fetched += *got;
    s->progress->ev.resumed += *got;
    return progress_report(s->progress, 0, err);
  }
  return 0;
}

static void replay_free(struct byte_source *src) {
  struct replay_source *s = (struct replay_source *)src;
  source_free(s->tee);
  free(s);
}

static const struct byte_source_ops replay_ops = {.read = replay_read, .free = replay_free};

int pull_cache_replay(struct pull_cache *pc, struct byte_source *tee, struct byte_source **top, lib_error *err) {
  if (!pc->filling || pc->resume_from == 0) {
    *top = tee;
    return 0;
  }
  struct replay_source *s = calloc(1, sizeof(*s));
  if (!s) {
    source_free(tee);
    return error_oom(err);
  }
  s->base.ops = &replay_ops;
  s->base.name = tee->name;
  s->base.size = tee->size;
  s->tee = tee;
  s->fd = pc->fd;
  s->end = pc->resume_from;
  s->progress = pc->progress;
  *top = &s->base;
  return 0;
}

int pull_cache_commit(struct pull_cache *pc, const char *digest, lib_error *err) {
  if (!pc->cache)
    return 0;
  if (pc->served_blob && strcmp(pc->served_blob, digest) != 0)
    return error_set(err, VMPULL_E_DIGEST, "cached copy %s/blobs/sha256/%s is damaged (it hashes to %s)",
                     pc->cache->dir, pc->served_blob + 7, digest);
  if (!pc->filling)
    return 0;
  if (pc->want_digest && strcmp(pc->want_digest, digest) != 0)
    return 0; /* the pull itself fails on this; keep nothing */
  lib_error cerr;
  int r = cache_commit_partial(pc->cache, pc->name, pc->fd, digest, &cerr);
  if (r == 0 && pc->ref.key) {
    pc->ref.digest = strdup(digest);
    struct stat st;
    pc->ref.size = fstat(pc->fd, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
    r = pc->ref.digest ? cache_ref_put(pc->cache, &pc->ref, &cerr) : error_oom(&cerr);
  }
  pc->committed = 1;
  pc->filling = 0;
  closep(&pc->fd); /* renamed away: nothing to unlink */
  if (r < 0)
    pull_cache_warn(pc, "could not keep the download in the cache: %s", cerr.message);
  return 0;
}
