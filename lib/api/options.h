/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one place that reads vmpull_pull_options (vmpull_pull, vmpull_inspect and vmpull_save take
 * it): it becomes this typed configuration, defaults applied (fields an older caller's struct does
 * not have included), and each floor below gets its own part of it. Nothing below lib/api/ sees
 * the public struct (scripts/check-floors refuses it).
 */
#ifndef VMPULL_API_OPTIONS_H
#define VMPULL_API_OPTIONS_H

#include "base/hooks.h"
#include "fetch/fetch_settings.h"
#include "resolve/resolve.h"

#include <stdint.h>

struct pull_config {
  struct call_hooks hooks;
  struct fetch_settings fetch;     /* the cache session */
  struct resolve_settings resolve; /* source, naming, checksums, network, OCI */
  const char *expected_digest;     /* --digest, or NULL */
  uint64_t max_size;               /* decoded output limit (default applied) */
  unsigned mode;                   /* output file mode; 0: 0644 */
  int replace;                     /* replace an existing output */
  int out_fd;                      /* vmpull_pull_to_fd: the caller's fd (borrowed); -1: a named file */
  unsigned threads;                /* decoder threads; 0: online CPUs */
  int assume_zeroed;               /* a block device output reads as zeros: its holes need no zeroing */
  const char *bmap_path;           /* write the disk's bmap here too, or NULL */
  int bmap_replace;                /* replace an existing bmap (the caller's replace, also with out_fd) */
  int output_device;               /* the output path is a block device (stat, links followed): written in place */
  int want_digest;                 /* the source digest is reported even where nothing checks it (the 0.1
                                      call's vmpull_result promises one): a local copy hashes too */
};

/* Fill c from o (checked by public_call_check: made by vmpull_pull_options_init). c borrows o's
 * strings: it lives within the call. */
void pull_config_from_options(const vmpull_pull_options *o, struct pull_config *c);

#endif
