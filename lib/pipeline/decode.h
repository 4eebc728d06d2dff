/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoders: read compressed bytes from a byte source, write decoded bytes to
 * the sink. They know nothing of where the bytes come from or where they go.
 * Each one fails with VMPULL_E_CORRUPT (damaged data), VMPULL_E_UNSUPPORTED
 * (valid but unsupported feature) or what the source/sink reported, and the
 * message starts with the codec ("xz: compressed data is corrupt").
 */
#ifndef VMPULL_DECODE_H
#define VMPULL_DECODE_H

#include "base/hooks.h"
#include "pipeline/detect.h"
#include "pipeline/sink.h"
#include "pipeline/source.h"

struct decode_options {
  unsigned threads;               /* 0: online CPUs */
  const struct call_hooks *hooks; /* may be NULL: warnings (something decoded but not fully checked) */
};

/* Buffer sizes: large enough to amortise calls, small enough for the 64 MiB RSS budget. The
 * output buffer is decoded into, scanned for zeros and copied by write(): at 256 KiB it stays in
 * the CPU's L2 cache for all three (4 MiB did not: 2x the kernel's copy time, +10% wall time for
 * single-block xz; measured with bench/). */
#define DECODE_IN_BUF (1u << 20)
#define DECODE_OUT_BUF SINK_BUFFER_SIZE /* decoders write into the sink's buffers */
/* Memory a decoder may reserve on the stream's say-so (LZMA dictionary, zstd window): what
 * real encoders produce (xz: 1.5 GiB dictionaries; zstd --long=31: 2 GiB) and no more, so that
 * a 20-byte .lzma header cannot make vmpull reserve 4 GiB. Found by fuzz/ (decode_lzma). */
#ifndef DECODE_MEMLIMIT /* fuzz/ builds with less, to stay fast */
#define DECODE_MEMLIMIT (2ull << 30)
#endif
#define DECODE_WINDOW_LOG_MAX (63 - __builtin_clzll(DECODE_MEMLIMIT))

typedef int (*decode_fn)(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err);

int decode_none(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err);
int decode_xz(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err);
int decode_lzma(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err);
int decode_lzip(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err);
int decode_gzip(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err);
int decode_zstd(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err);
int decode_bzip2(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err);
int decode_zip(struct byte_source *in, struct sink *out, const struct decode_options *o, lib_error *err);

/* The decoder for a detected format. */
decode_fn decoder_for(enum format f);

/* Threads to use: o->threads, else the online CPUs. */
unsigned decode_threads(const struct decode_options *o);
/* 1 when the decoder of format over stream (a peek source) leaves a core free for the sink's
 * writer thread; 0 for a multi-block xz that liblzma decodes on every core. */
int decode_leaves_a_core(struct byte_source *stream, enum format format, const struct decode_options *d);

#endif
