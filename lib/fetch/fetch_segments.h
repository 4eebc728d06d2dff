/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When a download is worth several connections (fetch_segments.c): the first response (a 200
 * from byte 0, or a resume's 206) says the server takes ranges (Accept-Ranges: bytes, or the
 * 206 itself), gives a strong validator (strong ETag or Last-Modified) and a length of at least
 * two pieces; --connections is not 1. A registry blob by digest qualifies whenever its size is known. The
 * ranges land in the cache entry this pull fills, whose
 * record then lists the bytes it holds (durably, net/http_segments.h: checkpoint), or without an
 * entry in an unlinked temporary file in $TMPDIR, never in memory.
 */
#ifndef VMPULL_FETCH_SEGMENTS_H
#define VMPULL_FETCH_SEGMENTS_H

#include "fetch/cache_session.h"

/* *out (the first response's body, resp its headers, req the request) becomes a segmented
 * reader when it is worth it; otherwise it stays. key: the entry's (NULL: none); resumed: the
 * partial's record when resp is a resume's 206, else NULL. */
int fetch_segmented(struct pull_cache *pc, const struct http_config *c, const struct http_request *req,
                    const struct http_response *resp, const char *key, const struct cache_partial *resumed,
                    struct byte_source **out, lib_error *err);
/* The same for a registry blob by digest (*out its first response's body, from the entry's resume
 * point), its ranges sent where target says. */
int fetch_segmented_blob(struct pull_cache *pc, blob_target_fn target, void *ctx, const char *key,
                         const struct cache_partial *resumed, struct byte_source **out, lib_error *err);

/* The bytes a segmented partial holds from byte 0 on: where its resume starts. */
uint64_t fetch_segments_prefix(const struct cache_partial *meta);

#endif
