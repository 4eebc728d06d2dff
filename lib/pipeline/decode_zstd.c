/* SPDX-License-Identifier: Apache-2.0 */
/* zstd: libzstd streaming; several frames, skippable frames, and --long windows up to 2 GiB. */
#include "base/error.h"
#include "base/util.h"
#include "pipeline/decode.h"

#include <zstd.h>
#include <zstd_errors.h>

DEFINE_CLEANUP_FUNC(ZSTD_DCtx *, ZSTD_freeDCtx)

/* FRAME_HEADER_MAX, which zstd.h keeps in its static-linking-only part. */
#define FRAME_HEADER_MAX 18u

/* At a frame boundary: gather a whole frame header (it may arrive split across reads). */
static int fill_frame_header(struct byte_source *in, uint8_t *inbuf, ZSTD_inBuffer *ib, int *eof, lib_error *err) {
  if (ib->size - ib->pos >= FRAME_HEADER_MAX || *eof)
    return 0;
  memmove(inbuf, inbuf + ib->pos, ib->size - ib->pos);
  ib->size -= ib->pos;
  ib->pos = 0;
  while (ib->size < FRAME_HEADER_MAX) {
    size_t got = 0;
    int r = source_read(in, inbuf + ib->size, DECODE_IN_BUF - ib->size, &got, err);
    if (r < 0)
      return r;
    if (got == 0) {
      *eof = 1;
      break;
    }
    ib->size += got;
  }
  return 0;
}

int decode_zstd(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err) {
  (void)o;
  _cleanup_(ZSTD_freeDCtxp) ZSTD_DCtx *d = ZSTD_createDCtx();
  _cleanup_free_ uint8_t *inbuf = malloc(DECODE_IN_BUF);
  if (!d || !inbuf)
    return error_oom(err);
  /* 2^31: what `zstd --long=31` may need; the decoder only allocates what a frame asks for. */
  ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, DECODE_WINDOW_LOG_MAX);
  ZSTD_inBuffer ib = {inbuf, 0, 0};
  size_t hint = 1;  /* 0 once a frame is complete and flushed */
  int out_full = 0; /* a full output buffer may leave decoded bytes to flush without new input */
  int at_frame_start = 1, eof = 0;
  /* Sum of the content sizes the frames declare (libzstd checks each frame against its own);
   * declared_all: every frame so far declared one. */
  uint64_t declared = 0;
  int declared_all = 1;
  for (;;) {
    if (ib.pos == ib.size && !out_full) {
      size_t got = 0;
      if (!eof) {
        int r = source_read(in, inbuf, DECODE_IN_BUF, &got, err);
        if (r < 0)
          return r;
      }
      if (got == 0) {
        if (hint != 0)
          return error_set(err, VMPULL_E_CORRUPT, "zstd: unexpected end of input");
        if (declared_all)
          sink_declare_size(out, declared);
        return 0;
      }
      ib.size = got;
      ib.pos = 0;
    }
    if (at_frame_start) {
      /* A bomb that says what it is stops before a single byte is decoded. */
      at_frame_start = 0;
      int r = fill_frame_header(in, inbuf, &ib, &eof, err);
      if (r < 0)
        return r;
      unsigned long long fcs = ZSTD_getFrameContentSize((const uint8_t *)ib.src + ib.pos, ib.size - ib.pos);
      if (fcs == ZSTD_CONTENTSIZE_UNKNOWN) {
        declared_all = 0;
      } else if (fcs != ZSTD_CONTENTSIZE_ERROR) { /* an error: decompressing reports it */
        if (out->o.max_size != UINT64_MAX && fcs > out->o.max_size - MIN(out->o.max_size, out->accepted))
          return error_set(err, VMPULL_E_LIMIT,
                           "zstd: a frame declares %llu bytes, more than the size limit of %llu bytes (--max-size)",
                           fcs, (unsigned long long)out->o.max_size);
        declared += fcs;
      }
    }
    ZSTD_outBuffer ob = {sink_buffer(out), DECODE_OUT_BUF, 0};
    hint = ZSTD_decompressStream(d, &ob, &ib);
    if (ZSTD_isError(hint)) {
      ZSTD_ErrorCode code = ZSTD_getErrorCode(hint);
      if (code == ZSTD_error_frameParameter_windowTooLarge)
        return error_set(err, VMPULL_E_LIMIT,
                         "zstd: the frame needs a window larger than the decoder limit of %llu MiB",
                         (1ull << DECODE_WINDOW_LOG_MAX) >> 20);
      int vcode = code == ZSTD_error_frameParameter_windowTooLarge || code == ZSTD_error_memory_allocation
                      ? VMPULL_E_LIMIT
                      : VMPULL_E_CORRUPT;
      return error_set(err, vcode, "zstd: %s", ZSTD_getErrorName(hint));
    }
    int r = sink_submit(out, ob.pos, err);
    if (r < 0)
      return r;
    /* hint 0: the frame is complete and flushed, even when its last byte filled the buffer
     * exactly (every image whose size is a multiple of DECODE_OUT_BUF). */
    out_full = ob.pos == ob.size && hint != 0;
    if (hint == 0)
      at_frame_start = 1;
  }
}
