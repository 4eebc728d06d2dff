/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tar single-file extractor (a layer, maybe gzip/zstd compressed): find the
 * one file and read it to the end. A name it hands out must be a plain base name.
 */
#include "base/util.h"
#include "fuzz_common.h"
#include "pipeline/unwrap_tar.h"
#include "resolve/resolve.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_OUTPUT (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lib_error err;
  struct byte_source *file = NULL;
  _cleanup_free_ char *name = NULL;
  if (unwrap_tar_new(fuzz_mem_source(data, size), &file, &name, &err) < 0) {
    if (err.code <= VMPULL_OK || !err.message[0])
      abort();
    return 0;
  }
  _cleanup_source_ struct byte_source *src = file;
  if (!name || image_name_check(name, &err) < 0)
    abort();
  static uint8_t buf[65536];
  uint64_t total = 0;
  for (;;) {
    size_t got = 0;
    if (source_read(src, buf, sizeof(buf), &got, &err) < 0 || got == 0)
      break;
    total += got;
    if (total > FUZZ_MAX_OUTPUT)
      break; /* a gzip-compressed tar can be a bomb too; the sink limits that in a pull */
  }
  return 0;
}
