/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Format detection plus a decoder behind the real sink, writing into a scratch
 * folder. Built once per codec (FUZZ_FORMAT names the decoder, which then sees
 * every input) and once as "decode" (FUZZ_FORMAT undefined: the input goes
 * through detection first, as in a pull).
 */
#include "base/util.h"
#include "fuzz_common.h"
#include "pipeline/decode.h"
#include "pipeline/detect.h"
#include "pipeline/sink.h"

#include <stdlib.h>

/* Enough to cross several decoder output buffers; small enough that a bomb costs milliseconds. */
#define FUZZ_MAX_OUTPUT (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lib_error err;
  enum format format;
#ifdef FUZZ_FORMAT
  format = FUZZ_FORMAT;
#else
  /* The suffix rules only matter for zip and LZMA_Alone (no magic to go on); try them too. */
  static const char *const names[] = {NULL, "disk.zip", "disk.lzma", "disk.raw.xz", "disk.img"};
  for (size_t i = 1; i < ARRAY_SIZE(names); i++)
    (void)detect_format(data, MIN(size, (size_t)DETECT_PEEK), names[i], &format, &err);
  if (detect_format(data, MIN(size, (size_t)DETECT_PEEK), NULL, &format, &err) < 0)
    return 0;
#endif

  _cleanup_free_ char *path = xasprintf("%s/disk", fuzz_scratch_dir());
  if (!path)
    abort();
  struct sink_options so = {.max_size = FUZZ_MAX_OUTPUT};
  _cleanup_(sink_close) struct sink sink = SINK_INIT;
  if (sink_open(&sink, path, &so, &err) < 0)
    abort(); /* the scratch folder is ours: failing here is the harness's fault */

  _cleanup_source_ struct byte_source *in = fuzz_mem_source(data, size);
  /* One thread: fuzzing wants many executions per second, not one fast one. */
  struct decode_options o = {.threads = 1};
  int r = decoder_for(format)(in, &sink, &o, &err);
  if (r < 0 && (err.code <= VMPULL_OK || -r != err.code || !err.message[0]))
    abort(); /* every failure must come with its code and a message */
  return 0;
}
