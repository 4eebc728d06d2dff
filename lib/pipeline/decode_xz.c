/* SPDX-License-Identifier: Apache-2.0 */
/* xz (multi-threaded), LZMA_Alone and lzip, all through liblzma. */
#include "base/error.h"
#include "base/util.h"
#include "pipeline/decode.h"

#include <lzma.h>

static inline void lzma_endp(lzma_stream *s) {
  lzma_end(s);
}
#define _cleanup_lzma_ _cleanup_(lzma_endp)

static int lzma_error(lib_error *err, const char *codec, lzma_ret ret) {
  switch (ret) {
  case LZMA_MEM_ERROR: return error_set(err, VMPULL_E_IO, "%s: out of memory", codec);
  case LZMA_MEMLIMIT_ERROR:
    return error_set(err, VMPULL_E_LIMIT, "%s: the stream needs more memory than the decoder limit of %llu MiB", codec,
                     DECODE_MEMLIMIT >> 20);
  case LZMA_FORMAT_ERROR: return error_set(err, VMPULL_E_CORRUPT, "%s: file format not recognized", codec);
  case LZMA_OPTIONS_ERROR: return error_set(err, VMPULL_E_UNSUPPORTED, "%s: unsupported options", codec);
  case LZMA_DATA_ERROR: return error_set(err, VMPULL_E_CORRUPT, "%s: compressed data is corrupt", codec);
  case LZMA_BUF_ERROR: return error_set(err, VMPULL_E_CORRUPT, "%s: unexpected end of input", codec);
  case LZMA_UNSUPPORTED_CHECK: return error_set(err, VMPULL_E_UNSUPPORTED, "%s: unsupported integrity check", codec);
  default: return error_set(err, VMPULL_E_CORRUPT, "%s: decoder error %d", codec, (int)ret);
  }
}

/* trailing_ok: lzip allows (and lzip -d and xz ignore) data after the last member; with
 * LZMA_CONCATENATED liblzma stops there with LZMA_STREAM_END and leaves it unread. */
static int run_lzma(lzma_stream *strm, const char *codec, int trailing_ok, struct byte_source *in, struct sink *out,
                    const struct decode_options *o, lib_error *err) {
  _cleanup_free_ uint8_t *inbuf = malloc(DECODE_IN_BUF);
  uint8_t *outbuf = sink_buffer(out);
  if (!inbuf)
    return error_oom(err);
  lzma_action action = LZMA_RUN;
  strm->next_out = outbuf;
  strm->avail_out = DECODE_OUT_BUF;
  for (;;) {
    if (strm->avail_in == 0 && action == LZMA_RUN) {
      size_t got = 0;
      int r = source_read(in, inbuf, DECODE_IN_BUF, &got, err);
      if (r < 0)
        return r;
      strm->next_in = inbuf;
      strm->avail_in = got;
      if (got == 0)
        action = LZMA_FINISH;
    }
    lzma_ret ret = lzma_code(strm, action);
    if (strm->avail_out == 0 || ret == LZMA_STREAM_END) {
      int r = sink_submit(out, DECODE_OUT_BUF - strm->avail_out, err);
      if (r < 0)
        return r;
      outbuf = sink_buffer(out);
      strm->next_out = outbuf;
      strm->avail_out = DECODE_OUT_BUF;
    }
    if (ret == LZMA_STREAM_END) {
      if (trailing_ok)
        return 0;
      /* LZMA_CONCATENATED consumed every stream and the padding; anything after is garbage. */
      if (strm->avail_in != 0)
        return error_set(err, VMPULL_E_CORRUPT, "%s: trailing garbage after the compressed data", codec);
      size_t got = 0;
      int r = source_read(in, inbuf, DECODE_IN_BUF, &got, err);
      if (r < 0)
        return r;
      if (got != 0)
        return error_set(err, VMPULL_E_CORRUPT, "%s: trailing garbage after the compressed data", codec);
      return 0;
    }
    if (ret == LZMA_GET_CHECK || ret == LZMA_NO_CHECK)
      continue;
    if (ret == LZMA_UNSUPPORTED_CHECK) {
      /* As xz does: decode, and say that the check could not be verified. */
      hooks_warn(o ? o->hooks : NULL, "%s: %s: unsupported type of integrity check; not verifying its integrity",
                 in->name, codec);
      continue;
    }
    if (ret != LZMA_OK)
      return lzma_error(err, codec, ret);
  }
}

int decode_xz(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err) {
  _cleanup_lzma_ lzma_stream strm = LZMA_STREAM_INIT;
  lzma_mt mt = {
      .flags = LZMA_CONCATENATED | LZMA_TELL_UNSUPPORTED_CHECK,
      .threads = decode_threads(o),
      /* What the threads cost: liblzma's queue holds up to two decoded blocks per thread (each
       * its whole uncompressed size) plus each running thread's compressed block and dictionary.
       * With 2 threads and 64 MiB blocks that is about 320 MiB, which is also what xz -T2 -dc
       * reaches on the same file (bench/bench.py --sections xzmem: vmpull 1.02x of xz's peak RSS
       * on disk.raw.mb.xz, 1.07x on disk.qcow2.xz, at the same time). A lower limit is paid in
       * time, not saved: 200 MiB made the bench image 20% slower (one block waits for the queue),
       * 150 MiB nearly twice as slow (its larger blocks no longer fit twice: single-threaded).
       * 1 GiB leaves this machine's decoding exactly as xz's, and caps a machine with many cores
       * (xz's own default is a quarter of the RAM); above it a block is decoded on this thread
       * rather than failing. */
      .memlimit_threading = 1ull << 30,
      .memlimit_stop = DECODE_MEMLIMIT,
      .timeout = 0,
  };
  lzma_ret ret = lzma_stream_decoder_mt(&strm, &mt);
  if (ret != LZMA_OK)
    return lzma_error(err, "xz", ret);
  /* liblzma uses them for blocks whose sizes the stream records, within memlimit_threading. */
  hooks_log(o ? o->hooks : NULL, VMPULL_LOG_DEBUG, "xz: up to %u decoder threads", mt.threads);
  return run_lzma(&strm, "xz", 0, in, out, o, err);
}

int decode_lzma(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err) {
  _cleanup_lzma_ lzma_stream strm = LZMA_STREAM_INIT;
  lzma_ret ret = lzma_alone_decoder(&strm, DECODE_MEMLIMIT);
  if (ret != LZMA_OK)
    return lzma_error(err, "lzma", ret);
  return run_lzma(&strm, "lzma", 0, in, out, o, err);
}

int decode_lzip(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err) {
  _cleanup_lzma_ lzma_stream strm = LZMA_STREAM_INIT;
  lzma_ret ret = lzma_lzip_decoder(&strm, DECODE_MEMLIMIT, LZMA_CONCATENATED);
  if (ret != LZMA_OK)
    return lzma_error(err, "lzip", ret);
  return run_lzma(&strm, "lzip", 1, in, out, o, err);
}
