/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A local file that is already the disk (its first bytes name no compression: raw, qcow2, ...)
 * as a producer of the pull's output: a reflink (FICLONE) where the filesystem shares blocks, else
 * its data extents (SEEK_DATA/SEEK_HOLE: holes stay holes and are never read) read once and their
 * non-zero blocks written (zero blocks become holes, as the decoders' sink makes them). Nothing is
 * hashed unless a digest is to be checked (--digest, a checksums entry, or the 0.1 call's result,
 * which promises one); then the data is hashed from the buffer it is written from, and the holes
 * as zeros without reading them.
 */
#ifndef VMPULL_PULL_LOCAL_H
#define VMPULL_PULL_LOCAL_H

#include "base/error.h"
#include "base/hooks.h"
#include "base/progress.h"
#include "fetch/resolved.h"

#include <stdint.h>

struct sink;

/* Is the plan a local regular file whose first bytes detect as no compression? 1: *fd is open on
 * it and *size its size; 0: decode it the usual way (not a regular file, empty, unreadable,
 * compressed: that way reports what is wrong). */
int local_copy_probe(const struct resolved *rs, const struct call_hooks *hooks, int *fd, uint64_t *size);
/* Copy fd's size bytes into sink (a file, not a stream), reporting progress and polling the
 * cancel flag per extent; with hash, digest gets "sha256:HEX" of the bytes, else it is left as it
 * is. Only the sink's commit is left to do. */
int local_copy(int fd, uint64_t size, const char *display, struct sink *sink, struct progress_state *progress, int hash,
               char digest[80], lib_error *err);

#endif
