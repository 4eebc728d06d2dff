/* SPDX-License-Identifier: Apache-2.0 */
/* bzip2: libbz2, several concatenated streams accepted (as pbzip2 writes them). */
#include "base/error.h"
#include "base/util.h"
#include "pipeline/decode.h"

#include <bzlib.h>

static inline void bz_endp(bz_stream *s) {
  BZ2_bzDecompressEnd(s);
}

int decode_bzip2(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err) {
  (void)o;
  _cleanup_free_ uint8_t *inbuf = malloc(DECODE_IN_BUF);
  if (!inbuf)
    return error_oom(err);
  _cleanup_(bz_endp) bz_stream bz = {0};
  if (BZ2_bzDecompressInit(&bz, 0, 0) != BZ_OK)
    return error_set(err, VMPULL_E_IO, "bzip2: cannot initialise");
  int in_stream = 1; /* inside a stream (the first one starts at once) */
  int eof = 0;
  int out_full = 0; /* a full output buffer may leave decoded bytes to flush without new input */
  for (;;) {
    if (bz.avail_in == 0 && !eof && !(in_stream && out_full)) {
      size_t got = 0;
      int r = source_read(in, inbuf, DECODE_IN_BUF, &got, err);
      if (r < 0)
        return r;
      bz.next_in = (char *)inbuf;
      bz.avail_in = (unsigned)got;
      eof = got == 0;
    }
    if (bz.avail_in == 0 && eof && !(in_stream && out_full)) {
      if (in_stream)
        return error_set(err, VMPULL_E_CORRUPT, "bzip2: unexpected end of input");
      return 0;
    }
    if (!in_stream) {
      /* Another stream follows. */
      BZ2_bzDecompressEnd(&bz);
      char *next = bz.next_in;
      unsigned avail = bz.avail_in;
      bz = (bz_stream){0};
      if (BZ2_bzDecompressInit(&bz, 0, 0) != BZ_OK)
        return error_set(err, VMPULL_E_IO, "bzip2: cannot initialise");
      bz.next_in = next;
      bz.avail_in = avail;
      in_stream = 1;
    }
    bz.next_out = (char *)sink_buffer(out);
    bz.avail_out = DECODE_OUT_BUF;
    int ret = BZ2_bzDecompress(&bz);
    if (ret != BZ_OK && ret != BZ_STREAM_END)
      return error_set(err, ret == BZ_MEM_ERROR ? VMPULL_E_IO : VMPULL_E_CORRUPT, "bzip2: %s",
                       ret == BZ_DATA_ERROR_MAGIC ? "not in bzip2 format"
                       : ret == BZ_MEM_ERROR      ? "out of memory"
                                                  : "compressed data is corrupt");
    int r = sink_submit(out, DECODE_OUT_BUF - bz.avail_out, err);
    if (r < 0)
      return r;
    out_full = bz.avail_out == 0;
    if (ret == BZ_STREAM_END)
      in_stream = 0;
  }
}
