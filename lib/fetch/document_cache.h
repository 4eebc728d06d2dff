/* SPDX-License-Identifier: Apache-2.0 */
/* Small documents (manifests, indexes) kept in the pull's cache, by digest and by the reference
 * that resolved to them. */
#ifndef VMPULL_DOCUMENT_CACHE_H
#define VMPULL_DOCUMENT_CACHE_H

#include "fetch/cache_session.h"

#include <stddef.h>

/* Documents named by digest (manifests): 1 and the cached bytes (their digest
 * checked), or 0. By reference (a tag): what it resolved to last time, for
 * --offline. put keeps a document, and with key what key resolved to; a
 * failure there only costs a later cache hit. */
int cache_document_by_digest(struct pull_cache *pc, const char *digest, char **buf, size_t *len);
int cache_document_by_ref(struct pull_cache *pc, const char *key, char **buf, size_t *len, char **digest,
                          char **media_type);
void cache_document_put(struct pull_cache *pc, const char *key, const char *media_type, const char *buf, size_t len);

#endif
