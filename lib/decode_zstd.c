/* SPDX-License-Identifier: Apache-2.0 */
/* zstd: libzstd streaming; several frames, skippable frames, and --long windows up to 2 GiB. */
#include <zstd.h>
#include <zstd_errors.h>

#include "decode.h"
#include "error.h"
#include "util.h"

static inline void zstd_freep(ZSTD_DCtx **d) { ZSTD_freeDCtx(*d); }

int decode_zstd(struct byte_source *in, struct sink *out, const struct decode_options *o, vmpull_error *err) {
  (void)o;
  __attribute__((cleanup(zstd_freep))) ZSTD_DCtx *d = ZSTD_createDCtx();
  _cleanup_free_ uint8_t *inbuf = malloc(DECODE_IN_BUF);
  _cleanup_free_ uint8_t *outbuf = malloc(DECODE_OUT_BUF);
  if (!d || !inbuf || !outbuf)
    return error_oom(err);
  /* 2^31: what `zstd --long=31` may need; the decoder only allocates what a frame asks for. */
  ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 31);
  ZSTD_inBuffer ib = {inbuf, 0, 0};
  size_t hint = 1; /* 0 once a frame is complete */
  for (;;) {
    if (ib.pos == ib.size) {
      size_t got = 0;
      int r = source_read(in, inbuf, DECODE_IN_BUF, &got, err);
      if (r < 0)
        return r;
      if (got == 0) {
        if (hint != 0)
          return error_set(err, VMPULL_E_CORRUPT, "zstd: unexpected end of input");
        return 0;
      }
      ib.size = got;
      ib.pos = 0;
    }
    ZSTD_outBuffer ob = {outbuf, DECODE_OUT_BUF, 0};
    hint = ZSTD_decompressStream(d, &ob, &ib);
    if (ZSTD_isError(hint)) {
      ZSTD_ErrorCode code = ZSTD_getErrorCode(hint);
      int vcode = code == ZSTD_error_frameParameter_windowTooLarge || code == ZSTD_error_memory_allocation
                      ? VMPULL_E_LIMIT
                      : VMPULL_E_CORRUPT;
      return error_set(err, vcode, "zstd: %s", ZSTD_getErrorName(hint));
    }
    int r = sink_write(out, outbuf, ob.pos, err);
    if (r < 0)
      return r;
  }
}
