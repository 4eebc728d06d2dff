/* SPDX-License-Identifier: Apache-2.0 */
/* What the fetch floor needs to know of one call: where the cache is and how it may be used. The
 * api floor fills it from the public options (api/options.c), defaults applied. */
#ifndef VMPULL_FETCH_SETTINGS_H
#define VMPULL_FETCH_SETTINGS_H

#include "base/hooks.h"

struct fetch_settings {
  const char *cache_dir;       /* NULL or "": no cache */
  int no_cache;                /* --no-cache */
  int offline;                 /* only the cache answers */
  int keep_uncompressed;       /* also keep decoded disks */
  int refresh;                 /* --refresh: a cached copy never stands in for a server that cannot be reached */
  const char *expected_digest; /* --digest: a cached blob by this digest is a hit, or NULL */
  unsigned connections;        /* --connections: at most this many per download (1: one streaming request) */
  struct call_hooks hooks;     /* warnings */
};

#endif
