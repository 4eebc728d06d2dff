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

/* The inflater, ISA-L's or zlib's, behind three calls: engine_init, engine_member (a member's header;
 * the next engine_step starts its body) and engine_step (inflate from b into out, DECODE_OUT_BUF bytes,
 * b->pos advanced; *produced bytes made, *finished at the end of the member's trailer). */
#ifdef HAVE_ISAL
static int isal_error(lib_error *err, int ret) {
  switch (ret) {
  case ISAL_INCORRECT_CHECKSUM: return error_set(err, VMPULL_E_CORRUPT, "gzip: CRC or length check failed");
  case ISAL_UNSUPPORTED_METHOD: return error_set(err, VMPULL_E_UNSUPPORTED, "gzip: unsupported compression method");
  case ISAL_INVALID_WRAPPER: return error_set(err, VMPULL_E_CORRUPT, "gzip: not in gzip format");
  default: return error_set(err, VMPULL_E_CORRUPT, "gzip: compressed data is corrupt (%d)", ret);
  }
}

struct engine {
  struct inflate_state *st; /* ~40 KiB: not on the stack */
};

static int engine_init(struct engine *e, lib_error *err) {
  e->st = malloc(sizeof(*e->st));
  return e->st ? 0 : error_oom(err);
}

static void engine_done(struct engine *e) {
  free(e->st);
}

/* Retry from the member start until its header is whole in the buffer. */
static int engine_member(struct engine *e, struct inbuf *b, struct byte_source *in, lib_error *err) {
  struct inflate_state *st = e->st;
  for (;;) {
    struct isal_gzip_header hdr;
    isal_gzip_header_init(&hdr);
    isal_inflate_init(st);
    st->next_in = b->buf + b->pos;
    st->avail_in = (uint32_t)(b->len - b->pos);
    int ret = isal_read_gzip_header(st, &hdr);
    if (ret == ISAL_DECOMP_OK) {
      b->pos = b->len - st->avail_in;
      st->crc_flag = ISAL_GZIP_NO_HDR_VER;
      return 0;
    }
    if (ret != ISAL_END_INPUT)
      return isal_error(err, ret);
    if (b->eof)
      return error_set(err, VMPULL_E_CORRUPT, "gzip: unexpected end of input in a member header");
    if (b->pos == 0 && b->len == DECODE_IN_BUF)
      return error_set(err, VMPULL_E_LIMIT, "gzip: member header larger than %u bytes", DECODE_IN_BUF);
    int r = inbuf_refill(b, in, err);
    if (r < 0)
      return r;
  }
}

static int engine_step(struct engine *e, struct inbuf *b, uint8_t *out, size_t *produced, int *finished,
                       lib_error *err) {
  struct inflate_state *st = e->st;
  st->next_in = b->buf + b->pos;
  st->avail_in = (uint32_t)(b->len - b->pos);
  st->next_out = out;
  st->avail_out = DECODE_OUT_BUF;
  int ret = isal_inflate(st);
  b->pos = b->len - st->avail_in;
  if (ret < 0)
    return isal_error(err, ret);
  *produced = DECODE_OUT_BUF - st->avail_out;
  *finished = st->block_state == ISAL_BLOCK_FINISH;
  return 0;
}
#else
struct engine {
  z_stream z; /* zlib keeps a pointer to it: the engine does not move once initialised */
  int ready;
};

static int engine_init(struct engine *e, lib_error *err) {
  if (inflateInit2(&e->z, 16 + MAX_WBITS) != Z_OK)
    return error_set(err, VMPULL_E_IO, "gzip: cannot initialise zlib");
  e->ready = 1;
  return 0;
}

static void engine_done(struct engine *e) {
  if (e->ready)
    inflateEnd(&e->z);
}

/* zlib reads the header itself, across buffers. */
static int engine_member(struct engine *e, struct inbuf *b, struct byte_source *in, lib_error *err) {
  (void)b, (void)in, (void)err;
  inflateReset(&e->z);
  return 0;
}

static int engine_step(struct engine *e, struct inbuf *b, uint8_t *out, size_t *produced, int *finished,
                       lib_error *err) {
  z_stream *z = &e->z;
  z->next_in = b->buf + b->pos;
  z->avail_in = (uInt)(b->len - b->pos);
  z->next_out = out;
  z->avail_out = DECODE_OUT_BUF;
  int ret = inflate(z, Z_NO_FLUSH);
  b->pos = b->len - z->avail_in;
  if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
    return error_set(err, VMPULL_E_CORRUPT, "gzip: %s", z->msg ? z->msg : "compressed data is corrupt");
  *produced = DECODE_OUT_BUF - z->avail_out;
  *finished = ret == Z_STREAM_END;
  return 0;
}
#endif

int decode_gzip(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err) {
  (void)o;
  _cleanup_free_ uint8_t *inmem = malloc(DECODE_IN_BUF);
  if (!inmem)
    return error_oom(err);
  struct inbuf b = {.buf = inmem};
  _cleanup_(engine_done) struct engine e = {0};
  int r = engine_init(&e, err);
  if (r < 0)
    return r;
  for (int first = 1;; first = 0) {
    r = next_member(&b, in, first, err);
    if (r < 0)
      return r;
    if (r == 1)
      return 0;
    r = engine_member(&e, &b, in, err);
    if (r < 0)
      return r;
    /* Body and trailer. A call that filled the output may hold decoded bits
     * back, so input is only fetched when the last call wanted more. */
    for (int out_full = 0, finished = 0; !finished;) {
      r = body_input(&b, in, out_full, err);
      if (r < 0)
        return r;
      size_t produced = 0;
      r = engine_step(&e, &b, sink_buffer(out), &produced, &finished, err);
      if (r < 0)
        return r;
      r = sink_submit(out, produced, err);
      if (r < 0)
        return r;
      out_full = produced == DECODE_OUT_BUF;
    }
  }
}
