/* SPDX-License-Identifier: Apache-2.0 */
/* Decoder dispatch and the identity decoder for uncompressed images. */
#include "pipeline/decode.h"

#include "base/error.h"
#include "base/platform.h"
#include "base/util.h"

#include <stdarg.h>
#include <unistd.h>

decode_fn decoder_for(enum format f) {
  switch (f) {
  case FORMAT_NONE: return decode_none;
  case FORMAT_XZ: return decode_xz;
  case FORMAT_LZMA: return decode_lzma;
  case FORMAT_LZIP: return decode_lzip;
  case FORMAT_GZIP: return decode_gzip;
  case FORMAT_ZSTD: return decode_zstd;
  case FORMAT_BZIP2: return decode_bzip2;
  case FORMAT_ZIP: return decode_zip;
  }
  return NULL;
}

unsigned decode_threads(const struct decode_options *o) {
  if (o && o->threads)
    return o->threads;
  long n = plat_cpu_count();
  return n > 0 ? (unsigned)n : 1;
}

/* The sink's writer thread takes the hole scan and write() off a decoder that keeps one core
 * busy. A multi-block xz (sizes in its block headers) already decodes on every core, and there the
 * thread only competes with it (bench: 0.4-0.7 s slower on 2 cores), so it writes inline. */
int decode_leaves_a_core(struct byte_source *stream, enum format format, const struct decode_options *d) {
  if (format != FORMAT_XZ || decode_threads(d) < 2)
    return 1;
  const uint8_t *head;
  size_t len;
  lib_error ignored = {0};
  if (source_peek(stream, 14, &head, &len, &ignored) < 0 || len < 14)
    return 1;
  /* The first block header: its size byte (0 would be the index), then its flags, whose two top
   * bits say both sizes are present, which liblzma's threaded decoder needs. */
  return head[12] == 0 || (head[13] & 0xC0) != 0xC0;
}

int decode_none(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err) {
  (void)o;
  for (;;) {
    uint8_t *buf = sink_buffer(out);
    size_t got = 0;
    /* Fill the whole buffer so the sink sees block-aligned chunks and finds every hole. */
    int r = source_read_full(in, buf, DECODE_OUT_BUF, &got, err);
    if (r < 0)
      return r;
    if (got == 0)
      return 0;
    r = sink_submit(out, got, err);
    if (r < 0)
      return r;
    if (got < DECODE_OUT_BUF)
      return 0;
  }
}
