/* SPDX-License-Identifier: Apache-2.0 */
#include "fetch/document_cache.h"

#include "base/util.h"

int cache_document_by_digest(struct pull_cache *pc, const char *digest, char **buf, size_t *len) {
  if (!pc || !pc->cache || !cache_digest_hex(digest) || !cache_blob_exists(pc->cache, digest))
    return 0;
  lib_error ignored;
  return cache_blob_read(pc->cache, digest, 16u << 20, buf, len, &ignored) == 0;
}

int cache_document_by_ref(struct pull_cache *pc, const char *key, char **buf, size_t *len, char **digest,
                          char **media_type) {
  if (!pc || !pc->cache)
    return 0;
  _cleanup_(cache_ref_clear) struct cache_ref ref = {.size = UINT64_MAX};
  if (!cache_ref_get(pc->cache, key, &ref) || !cache_document_by_digest(pc, ref.digest, buf, len))
    return 0;
  free(*digest);
  *digest = TAKE_PTR(ref.digest);
  free(*media_type);
  *media_type = TAKE_PTR(ref.media_type);
  return 1;
}

void cache_document_put(struct pull_cache *pc, const char *key, const char *media_type, const char *buf, size_t len) {
  if (!pc || !pc->cache)
    return;
  char digest[80];
  lib_error ignored;
  if (cache_blob_write(pc->cache, buf, len, digest, &ignored) < 0 || !key)
    return;
  struct cache_ref ref = {.key = (char *)key, .digest = digest, .media_type = (char *)media_type, .size = len};
  (void)cache_ref_put(pc->cache, &ref, &ignored);
}
