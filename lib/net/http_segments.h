/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Segmented downloads: one file fetched as byte ranges over several connections, read back as
 * the one contiguous stream the hash and the decoder need (http_segments.c).
 *
 * The file is cut into pieces (http_segments_piece_size: 4 to 16 MiB by the file's size, so a
 * resume cuts it the same way). The first connection is the ordinary request the caller opened
 * (`first`, a retrying body): the reader takes its bytes as they come, and it goes on through the
 * pieces until it reaches one another connection took. The others are byte ranges, exact
 * (`Range: bytes=a-b` with If-Range), on one curl multi handle driven by one thread; each always
 * takes the lowest piece nobody has, so the contiguous prefix grows first. Their bytes land in fd
 * at their offsets; the reader returns bytes of the prefix [0, prefix) as it grows, waiting for
 * it otherwise, so the pull streams and ends when the last byte lands.
 *
 * Connections are added like a congestion window in slow start: a second one only when the
 * reader waits for the network a quarter of the time (the decoder is not the slower side). It is
 * a probe: it takes pieces from the end, so the first connection streams on; if the bytes per
 * second do not rise by half (a link that caps each connection nearly doubles on two), the first
 * connection carries the rest alone. Otherwise twice as many each quarter second while the bytes
 * per second over all of them rise by 12 % or more (measured once every connection delivers, so
 * a far server's handshakes do not count against it), up to max_connections; the first addition
 * that does not pay ends the growth.
 *
 * Every range response is checked: 206 with the Content-Range asked for (start, end, the file's
 * length); anything else is an error naming the URL, retried like a broken body (http_retry.h)
 * from the piece's high-water mark, never written. A 200 to If-Range means the file changed on
 * the server: the read then fails with "changed on the server during the download", after
 * handing the new version (a fresh request from byte 0) to c->restart while it takes one, as a
 * retrying body does. A 401, 403 or 410 (a signed URL that expired) sends the next request to
 * the URL first asked (url_first), which the same checks hold to the same length and validator.
 *
 * The landing is what saves time, not what the pull needs: a write into fd that fails (a full
 * disk, a quota, EIO), or a record that cannot be made, stops the ranges and the rest comes over
 * one connection from the reader's byte (land_failed, http_segments_rest.c).
 */
#ifndef VMPULL_HTTP_SEGMENTS_H
#define VMPULL_HTTP_SEGMENTS_H

#include "net/http.h"

#include <stddef.h>
#include <stdint.h>

#define SEGMENTS_DEFAULT_MAX 8u /* connections when the caller says 0 (README: Performance) */

/* A byte range [start, end) of the file. */
struct seg_extent {
  uint64_t start, end;
};

struct http_segments_options {
  const char *url;                  /* pinned: where the first request ended after its redirects */
  const char *url_first;            /* the URL asked for, again on 401/403/410; NULL: url */
  const struct curl_slist *headers; /* sent with every range */
  const char *validator;            /* strong ETag or Last-Modified, sent as If-Range; NULL: none (a blob
                                       by digest: the pull checks the digest) */
  uint64_t total;                   /* the file's length */
  uint64_t start;                   /* first's first byte: the bytes before it are the caller's */
  int fd;                           /* the pieces land here at their offsets (owned: closed at the end) */
  int first_into_fd;                /* the first connection's bytes are written there too (a cache entry) */
  unsigned max_connections;         /* >= 2 */
  const struct seg_extent *have;    /* bytes already in fd (a resumed entry); pieces they cover are not asked */
  size_t n_have;
  /* With a cache entry: make what fd holds durable and record it (called about every second and
   * at the end, on the transfer thread or the reader's; the extents are sorted, merged, and only
   * name bytes written before the call). 0, or -errno with why filled: the entry cannot be kept
   * up, which is a failed landing (below). */
  int (*checkpoint)(void *data, const struct seg_extent *extents, size_t n, lib_error *why);
  void *checkpoint_data;
  /* A write into fd failed (errnum; why: the checkpoint's error, NULL for a write): called once, on
   * the reader's thread, after the ranges stopped and fd was closed, so that nothing writes into
   * fd or its record any more. The caller drops what fd held (a cache entry and its record: it
   * can be neither filed nor resumed from). The reader then goes on from the byte it reached over
   * one connection whose bytes land nowhere: the first, if it still streams there, else a request
   * from that byte (Range: bytes=POS- with If-Range, held to the same checks). NULL: nothing to drop. */
  void (*land_failed)(void *data, int errnum, const lib_error *why);
  void *land_failed_data;
  uint64_t *network_bytes; /* += every byte received, added on the reader's thread (may be NULL) */
  /* On 401/403/410 (NULL: ask url_first instead): a fresh URL and headers for the ranges (a
   * registry blob's new token or signed storage URL), called on the reader's thread; 0 or an
   * error. renew_free(renew_data) when the reader goes (may be NULL). */
  int (*renew)(void *data, char **url, struct curl_slist **headers, lib_error *err);
  void *renew_data;
  void (*renew_free)(void *data);
};

/* The piece size for a file of total bytes. */
uint64_t http_segments_piece_size(uint64_t total);
/* Worth splitting: at least two pieces. */
int http_segments_worth(uint64_t total);

/* The reader over first (taken, also on failure, as are fd and renew_data) and the ranges; (*out)->size is total -
 * start. The transfer thread starts at once; closing *out stops it (and closes fd). */
int http_segments_open(const struct http_config *c, const struct http_segments_options *o, struct byte_source *first,
                       struct byte_source **out, lib_error *err);

/* The pure parts, for the unit tests: the contiguous bytes of [from, total) that extents hold
 * (merged), and each piece's high-water mark from them (a piece counts only its bytes from its
 * start). */
uint64_t seg_prefix_of(const struct seg_extent *extents, size_t n, uint64_t from);
uint64_t seg_piece_mark(const struct seg_extent *extents, size_t n, uint64_t piece_start, uint64_t piece_end);

#endif
