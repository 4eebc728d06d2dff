/* SPDX-License-Identifier: Apache-2.0 */
/* keep_uncompressed: a kept disk as a producer, and keeping one (pull_kept_disk.c). */
#ifndef VMPULL_PULL_KEPT_DISK_H
#define VMPULL_PULL_KEPT_DISK_H

#include "api/options.h"
#include "api/pull_plan.h"
#include "base/progress.h"
#include "fetch/cache_session.h"
#include "pipeline/detect.h"

struct sink;

/* A decoded disk kept for the source's digest, opened with its record. */
struct kept_disk {
  int fd;
  struct cache_disk record;
  enum format format;     /* the record's format */
  const char *digest;     /* the source digest it was decoded from (borrowed) */
  const char *image_name; /* the output's image name (borrowed: the record's or the resolver's) */
  int source_behind;      /* should the disk fail, the source is decoded instead (the decision's) */
};
#define KEPT_DISK_INIT                                                                                                 \
  {                                                                                                                    \
    .fd = -1, .record = {.size = UINT64_MAX }                                                                          \
  }
void kept_disk_clear(struct kept_disk *kd);

/* Is a decoded disk for the digest the pull's decision names cached (and that digest the one
 * --digest and a checksums list want, when they say)? 1: kd is open; 0: decode the source (a disk
 * without a valid record is removed with a warning); < 0 an error, also when there is no source to
 * decode instead (--offline, the blob is gone). */
int kept_disk_find(struct pull_cache *pc, const struct pull_config *cfg, const struct resolved *rs,
                   const struct pull_decision *d, struct kept_disk *kd, lib_error *err);
/* The kept disk as a producer: write it into sink (reflink or sparse copy), proving it against its
 * record's map in the same read; the pull then ends as any other (commit, verify, result). 1 the
 * sink holds the disk; 0 the disk proved bad (removed, one warning): decode the source instead;
 * < 0 an error (also a bad disk without a source). */
int kept_disk_copy(struct pull_cache *pc, const struct kept_disk *kd, struct sink *sink,
                   struct progress_state *progress, lib_error *err);

/* Will this pull keep its disk? Then the sink builds the disk's map as it writes
 * (sink_options.chunk_map). */
int pull_cache_keeps_disks(const struct pull_cache *pc);
/* After the output is committed: keep a copy of it with the sink's map (warning on failure). */
void pull_cache_keep_disk(struct pull_cache *pc, const char *digest, struct sink *sink, const char *format,
                          const char *image_name, uint64_t fetched);

#endif
