/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep_uncompressed: a kept disk as the producer of a pull's output (pull.c ends the pull), and keeping one. A kept
 * disk is only handed out once it proved to be the bytes the decoder wrote: its record names the source digest and
 * holds the map the sink recorded while writing it (lib/pipeline/disk_map.h), and the copy checks every chunk against
 * that map in the one read it makes anyway (disk_copy_checked).
 */
#include "api/pull_kept_disk.h"

#include "base/error.h"
#include "base/platform.h"
#include "base/progress.h"
#include "base/util.h"
#include "fetch/cache_session.h"
#include "pipeline/detect.h"
#include "pipeline/sink.h"
#include "resolve/resolve.h"
#include "store/disk_copy.h"

#include <sys/stat.h>

static int format_by_name(const char *name, enum format *out) {
  for (int f = FORMAT_NONE; f <= FORMAT_ZIP; f++) {
    if (strcmp(format_name((enum format)f), name) == 0) {
      *out = (enum format)f;
      return 0;
    }
  }
  return -1;
}

/* The kept disk cannot be used: the pull goes on with its source, if it has one. */
static int without_disk(const struct resolved *rs, int source_behind, lib_error *err) {
  if (source_behind)
    return 0;
  return error_set(err, VMPULL_E_NOT_FOUND, "%s is not in the cache (--offline)", rs->display);
}

/* The kept disk proved bad: it goes, and the source is decoded instead (one warning). */
static int drop_disk(struct pull_cache *pc, int source_behind, const char *digest, int fd, const char *why,
                     lib_error *err) {
  cache_disk_drop(pc->cache, digest, fd);
  if (!source_behind)
    return error_set(err, VMPULL_E_CORRUPT,
                     "kept disk %s/disks/sha256/%s %s (removed it), and its source is not in the cache (--offline)",
                     pc->cache->dir, digest + 7, why);
  pull_cache_warn(pc, "kept disk %s/disks/sha256/%s %s; removed it, decoding the source again", pc->cache->dir,
                  digest + 7, why);
  return 0;
}

/* Every byte of the kept disk, zeros included, through the sink (vmpull_pull_to_fd into a pipe). */
static int stream_disk(const struct kept_disk *kd, struct sink *sink, lib_error *err) {
  _cleanup_free_ uint8_t *buf = malloc(SINK_BUFFER_SIZE);
  if (!buf)
    return -ENOMEM;
  for (uint64_t off = 0; off < kd->record.size;) {
    ssize_t n = plat_pread(kd->fd, buf, (size_t)MIN((uint64_t)SINK_BUFFER_SIZE, kd->record.size - off), off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? -errno : -EIO;
    if (sink_write(sink, buf, (size_t)n, err) < 0)
      return -ECANCELED; /* err says why (cancelled, the size limit, a write that failed) */
    off += (uint64_t)n;
  }
  return 0;
}

void kept_disk_clear(struct kept_disk *kd) {
  closep(&kd->fd);
  cache_disk_clear(&kd->record);
}

int kept_disk_find(struct pull_cache *pc, const struct pull_config *o, const struct resolved *rs,
                   const struct pull_decision *d, struct kept_disk *kd, lib_error *err) {
  const char *digest = d->kept_digest;
  kd->source_behind = d->source_behind;
  if (!pc->cache || !digest)
    return without_disk(rs, kd->source_behind, err);
  /* Any disagreement is for the normal path to find and report. */
  const char *wants[] = {rs->expected_digest, o->expected_digest, d->listed_digest};
  for (size_t i = 0; i < ARRAY_SIZE(wants); i++)
    if (wants[i] && strcmp(wants[i], digest) != 0)
      return without_disk(rs, kd->source_behind, err);
  int r = cache_disk_open(pc->cache, digest, &kd->fd, &kd->record);
  if (r == 0)
    return without_disk(rs, kd->source_behind, err);
  if (r < 0 || format_by_name(kd->record.format, &kd->format) < 0)
    return drop_disk(pc, kd->source_behind, digest, kd->fd, "has no valid record", err);
  kd->digest = digest;
  kd->image_name = rs->tar_layer && kd->record.image_name ? kd->record.image_name : rs->image_name;
  if (kd->record.size > o->max_size)
    return error_set(err, VMPULL_E_LIMIT, "output exceeds the size limit of %llu bytes (--max-size)",
                     (unsigned long long)o->max_size);
  return 1;
}

/* The proof before a pipe is streamed writes nothing: it listens for a cancel, the written bytes
 * are counted by the stream after it. */
static int proof_poll(void *data, uint64_t done) {
  (void)done;
  struct progress_poll *p = data;
  return progress_report(p->progress, 0, p->err) < 0 ? -ECANCELED : 0;
}

int kept_disk_copy(struct pull_cache *pc, const struct kept_disk *kd, struct sink *sink,
                   struct progress_state *progress, lib_error *err) {
  /* A clone shares the kept disk's blocks: what is checked is the clone, the file handed out.
   * Elsewhere each data chunk is checked in the buffer it is copied from. */
  struct progress_poll poll = {.progress = progress, .err = err, .also_fetched = 0};
  uint64_t bad = UINT64_MAX;
  int r;
  /* a pipe takes bytes in order only, a device or a bmap sees each: prove the disk, then stream it */
  if (sink_takes_every_byte(sink))
    r = disk_copy_checked(kd->fd, -1, &kd->record.map, proof_poll, &poll, &bad);
  else if (sink->readable && disk_clone(kd->fd, sink->fd) == 0)
    r = disk_copy_checked(sink->fd, -1, &kd->record.map, progress_poll, &poll, &bad);
  else if (plat_ftruncate(sink->fd, 0) < 0) /* a clone that failed half way may have left blocks */
    r = -errno;
  else
    r = disk_copy_checked(kd->fd, sink->fd, &kd->record.map, progress_poll, &poll, &bad);
  if (r == -ECANCELED)
    return -err->code;
  if (r == 1 || r == -EIO) {
    char why[96];
    if (r == 1)
      snprintf(why, sizeof(why), "does not match its record at byte %llu", (unsigned long long)bad);
    else
      snprintf(why, sizeof(why), "cannot be read (%s)", strerror(EIO));
    return drop_disk(pc, kd->source_behind, kd->digest, kd->fd, why, err);
  }
  if (r < 0)
    return error_set_errno(err, VMPULL_E_IO, -r, "copy the kept disk %s/disks/sha256/%s to %s", pc->cache->dir,
                           kd->digest + 7, sink->path);
  if (sink_takes_every_byte(sink)) {
    /* Proved; once bytes are in the pipe there is no going back to the source: errors are errors. */
    r = stream_disk(kd, sink, err);
    if (r == -ECANCELED)
      return -err->code;
    if (r < 0)
      return error_set_errno(err, VMPULL_E_IO, -r, "copy the kept disk %s/disks/sha256/%s to %s", pc->cache->dir,
                             kd->digest + 7, sink->path);
  }
  sink->offset = kd->record.size;
  /* (a stale copy's disk is still stale: the server was not asked) */
  if (pc->facts && pc->facts->cache != VMPULL_CACHE_STALE)
    pc->facts->cache = VMPULL_CACHE_KEPT_DISK;
  return 1;
}

int pull_cache_keeps_disks(const struct pull_cache *pc) {
  return pc->cache && pc->set->keep_uncompressed;
}

void pull_cache_keep_disk(struct pull_cache *pc, const char *digest, struct sink *sink, const char *format,
                          const char *image_name, uint64_t fetched) {
  if (!pull_cache_keeps_disks(pc) || cache_disk_check(pc->cache, digest))
    return;
  struct cache_disk d = {
      .format = (char *)format, .image_name = (char *)image_name, .fetched = fetched, .size = sink->offset};
  int r = sink_take_map(sink, &d.map);
  lib_error cerr;
  if (r < 0)
    error_set_errno(&cerr, VMPULL_E_IO, -r, "the map of %s", sink->path);
  else
    r = cache_disk_store(pc->cache, digest, sink->fd, &d, &cerr);
  disk_map_clear(&d.map);
  if (r < 0)
    pull_cache_warn(pc, "could not keep the decoded disk in the cache: %s", cerr.message);
}
