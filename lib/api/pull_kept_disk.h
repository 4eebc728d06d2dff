/* SPDX-License-Identifier: Apache-2.0 */
/* keep_uncompressed: the output made from a kept disk, and keeping one (pull_kept_disk.c). */
#ifndef VMPULL_PULL_KEPT_DISK_H
#define VMPULL_PULL_KEPT_DISK_H

#include "api/options.h"
#include "base/progress.h"
#include "fetch/cache_session.h"

/* When a decoded disk for the source's digest is cached (and that digest is the one --digest and
 * a checksums list want, when they say), write the output from it (reflink or sparse copy),
 * proving it against its record's map in the same read, and fill res. A disk that fails is
 * removed with a warning and 0 is returned: the source is decoded instead (rs->src is only
 * released on success). Without a source (--offline, the blob is gone) that is an error naming
 * the disk. Returns 1 done, 0 not applicable, < 0 error. */
int pull_cache_from_disk(struct pull_cache *pc, const struct pull_config *cfg, struct resolved *rs,
                         const char *listed_digest, struct progress_state *progress, vmpull_result *res,
                         vmpull_error *err);
/* Will this pull keep its disk? Then the sink builds the disk's map as it writes
 * (sink_options.chunk_map). */
int pull_cache_keeps_disks(const struct pull_cache *pc);
struct sink;
/* After the output is committed: keep a copy of it with the sink's map (warning on failure). */
void pull_cache_keep_disk(struct pull_cache *pc, const char *digest, struct sink *sink, const char *format,
                          const char *image_name, uint64_t fetched);

#endif
