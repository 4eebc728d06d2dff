/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gzip: ISA-L igzip inflate as the fast path, zlib where ISA-L is missing.
 * Multi-member files and zero padding after the last member are accepted, as
 * `gzip -d` does. ISA-L 2.30 fails when a member header arrives split across
 * input buffers (intel/isa-l#224), so each header is first gathered whole in
 * the input buffer, parsed with isal_read_gzip_header, and only then is the
 * body inflated (with the trailer checked: ISAL_GZIP_NO_HDR_VER).
 */
#include "base/error.h"
#include "base/util.h"
#include "pipeline/decode.h"

#ifdef HAVE_ISAL
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif

struct inbuf {
  uint8_t *buf;
  size_t pos, len;
  int eof;
};

/* Keep unread bytes, append more; returns 0 with eof set when the source ended. */
static int inbuf_refill(struct inbuf *b, struct byte_source *in, lib_error *err) {
  if (b->pos > 0) {
    memmove(b->buf, b->buf + b->pos, b->len - b->pos);
    b->len -= b->pos;
    b->pos = 0;
  }
  if (b->len == DECODE_IN_BUF || b->eof)
    return 0;
  size_t got = 0;
  int r = source_read(in, b->buf + b->len, DECODE_IN_BUF - b->len, &got, err);
  if (r < 0)
    return r;
  if (got == 0)
    b->eof = 1;
  b->len += got;
  return 0;
}

/* Between members: 0 = another member follows, 1 = clean end (EOF or zero padding).
 * Once padding starts, every byte up to EOF must be zero: it is not a new member. */
static int next_member(struct inbuf *b, struct byte_source *in, int first, lib_error *err) {
  int padding = 0;
  for (;;) {
    if (b->pos == b->len) {
      int r = inbuf_refill(b, in, err);
      if (r < 0)
        return r;
      if (b->pos == b->len)
        return first ? error_set(err, VMPULL_E_CORRUPT, "gzip: unexpected end of input") : 1;
    }
    if (first || (!padding && b->buf[b->pos] != 0))
      return 0;
    padding = 1;
    while (b->pos < b->len) {
      if (b->buf[b->pos] != 0)
        return error_set(err, VMPULL_E_CORRUPT, "gzip: trailing garbage after the compressed data");
      b->pos++;
    }
  }
}

/* Input for a member's body: more only once all of it is used and the last call did not stop on a full
 * output buffer; the source ending here cuts the member short. */
static int body_input(struct inbuf *b, struct byte_source *in, int out_full, lib_error *err) {
  if (b->pos < b->len || out_full)
    return 0;
  int r = inbuf_refill(b, in, err);
  if (r < 0)
    return r;
  if (b->pos == b->len)
    return error_set(err, VMPULL_E_CORRUPT, "gzip: unexpected end of input");
  return 0;
}

#ifdef HAVE_ISAL
static int isal_error(lib_error *err, int ret) {
  switch (ret) {
  case ISAL_INCORRECT_CHECKSUM: return error_set(err, VMPULL_E_CORRUPT, "gzip: CRC or length check failed");
  case ISAL_UNSUPPORTED_METHOD: return error_set(err, VMPULL_E_UNSUPPORTED, "gzip: unsupported compression method");
  case ISAL_INVALID_WRAPPER: return error_set(err, VMPULL_E_CORRUPT, "gzip: not in gzip format");
  default: return error_set(err, VMPULL_E_CORRUPT, "gzip: compressed data is corrupt (%d)", ret);
  }
}

int decode_gzip(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err) {
  (void)o;
  _cleanup_free_ uint8_t *inmem = malloc(DECODE_IN_BUF);
  _cleanup_free_ struct inflate_state *st = malloc(sizeof(*st)); /* ~40 KiB: not on the stack */
  if (!inmem || !st)
    return error_oom(err);
  struct inbuf b = {.buf = inmem};
  for (int first = 1;; first = 0) {
    int r = next_member(&b, in, first, err);
    if (r < 0)
      return r;
    if (r == 1)
      return 0;
    /* Header: retry from the member start until it is whole in the buffer. */
    for (;;) {
      struct isal_gzip_header hdr;
      isal_gzip_header_init(&hdr);
      isal_inflate_init(st);
      st->next_in = b.buf + b.pos;
      st->avail_in = (uint32_t)(b.len - b.pos);
      int ret = isal_read_gzip_header(st, &hdr);
      if (ret == ISAL_DECOMP_OK) {
        b.pos = b.len - st->avail_in;
        break;
      }
      if (ret != ISAL_END_INPUT)
        return isal_error(err, ret);
      if (b.eof)
        return error_set(err, VMPULL_E_CORRUPT, "gzip: unexpected end of input in a member header");
      if (b.pos == 0 && b.len == DECODE_IN_BUF)
        return error_set(err, VMPULL_E_LIMIT, "gzip: member header larger than %u bytes", DECODE_IN_BUF);
      r = inbuf_refill(&b, in, err);
      if (r < 0)
        return r;
    }
    st->crc_flag = ISAL_GZIP_NO_HDR_VER;
    /* Body and trailer. A call that filled the output may hold decoded bits
     * back, so input is only fetched when the last call wanted more. */
    for (int out_full = 0;;) {
      r = body_input(&b, in, out_full, err);
      if (r < 0)
        return r;
      st->next_in = b.buf + b.pos;
      st->avail_in = (uint32_t)(b.len - b.pos);
      st->next_out = sink_buffer(out);
      st->avail_out = DECODE_OUT_BUF;
      int ret = isal_inflate(st);
      b.pos = b.len - st->avail_in;
      if (ret < 0)
        return isal_error(err, ret);
      r = sink_submit(out, DECODE_OUT_BUF - st->avail_out, err);
      if (r < 0)
        return r;
      if (st->block_state == ISAL_BLOCK_FINISH)
        break;
      out_full = st->avail_out == 0;
    }
  }
}
#else
static inline void inflate_endp(z_stream *z) {
  inflateEnd(z);
}

int decode_gzip(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err) {
  (void)o;
  _cleanup_free_ uint8_t *inmem = malloc(DECODE_IN_BUF);
  if (!inmem)
    return error_oom(err);
  struct inbuf b = {.buf = inmem};
  _cleanup_(inflate_endp) z_stream z = {0};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
    return error_set(err, VMPULL_E_IO, "gzip: cannot initialise zlib");
  for (int first = 1;; first = 0) {
    int r = next_member(&b, in, first, err);
    if (r < 0)
      return r;
    if (r == 1)
      return 0;
    inflateReset(&z);
    for (int out_full = 0;;) {
      r = body_input(&b, in, out_full, err);
      if (r < 0)
        return r;
      z.next_in = b.buf + b.pos;
      z.avail_in = (uInt)(b.len - b.pos);
      z.next_out = sink_buffer(out);
      z.avail_out = DECODE_OUT_BUF;
      int ret = inflate(&z, Z_NO_FLUSH);
      b.pos = b.len - z.avail_in;
      if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
        return error_set(err, VMPULL_E_CORRUPT, "gzip: %s", z.msg ? z.msg : "compressed data is corrupt");
      r = sink_submit(out, DECODE_OUT_BUF - z.avail_out, err);
      if (r < 0)
        return r;
      if (ret == Z_STREAM_END)
        break;
      out_full = z.avail_out == 0;
    }
  }
}
#endif
