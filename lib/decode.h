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

#include "detect.h"
#include "sink.h"
#include "source.h"

struct decode_options {
  unsigned threads;   /* 0: online CPUs */
};

/* Buffer sizes: large enough to amortise calls, small enough for the 64 MiB RSS budget. */
#define DECODE_IN_BUF (1u << 20)
#define DECODE_OUT_BUF (4u << 20)

typedef int (*decode_fn)(struct byte_source *in, struct sink *out, const struct decode_options *o, vmpull_error *err);

int decode_none(struct byte_source *in, struct sink *out, const struct decode_options *o, vmpull_error *err);
int decode_xz(struct byte_source *in, struct sink *out, const struct decode_options *o, vmpull_error *err);
int decode_lzma(struct byte_source *in, struct sink *out, const struct decode_options *o, vmpull_error *err);
int decode_lzip(struct byte_source *in, struct sink *out, const struct decode_options *o, vmpull_error *err);
int decode_gzip(struct byte_source *in, struct sink *out, const struct decode_options *o, vmpull_error *err);
int decode_zstd(struct byte_source *in, struct sink *out, const struct decode_options *o, vmpull_error *err);
int decode_bzip2(struct byte_source *in, struct sink *out, const struct decode_options *o, vmpull_error *err);
int decode_zip(struct byte_source *in, struct sink *out, const struct decode_options *o, vmpull_error *err);

/* The decoder for a detected format. */
decode_fn decoder_for(enum format f);

/* Threads to use: o->threads, else the online CPUs. */
unsigned decode_threads(const struct decode_options *o);

#endif
