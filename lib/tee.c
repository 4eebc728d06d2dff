/* SPDX-License-Identifier: Apache-2.0 */
#include "tee.h"

#include <openssl/evp.h>

#include "error.h"
#include "progress.h"
#include "util.h"

static inline void evp_md_ctx_freep(EVP_MD_CTX **c) {
  if (*c)
    EVP_MD_CTX_free(*c);
}
#define _cleanup_evp_md_ctx_ __attribute__((cleanup(evp_md_ctx_freep)))

struct tee {
  struct byte_source base;
  struct byte_source *inner;
  EVP_MD_CTX *md;
  uint64_t bytes;
  struct tee_options o;
};

static int tee_read(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, vmpull_error *err) {
  struct tee *t = (struct tee *)s;
  int r = progress_check_cancel(t->o.progress, err);
  if (r < 0)
    return r;
  r = source_read(t->inner, buf, cap, got, err);
  if (r < 0)
    return r;
  if (*got == 0) {
    if (t->o.expected_size != UINT64_MAX && t->bytes != t->o.expected_size)
      return error_set(err, VMPULL_E_DIGEST, "%s: size %llu, expected %llu", s->name,
                       (unsigned long long)t->bytes, (unsigned long long)t->o.expected_size);
    return 0;
  }
  if (EVP_DigestUpdate(t->md, buf, *got) != 1)
    return error_set(err, VMPULL_E_IO, "sha256 update failed");
  if (t->o.cache_fd >= 0) {
    int w = pwrite_all(t->o.cache_fd, buf, *got, t->o.cache_offset);
    if (w < 0 && !t->o.cache_failed)
      return error_set_errno(err, VMPULL_E_IO, -w, "write cache for %s", s->name);
    if (w < 0) {
      t->o.cache_fd = -1; /* the callback may close it */
      t->o.cache_failed(t->o.cache_failed_data, -w);
    }
    t->o.cache_offset += *got;
  }
  t->bytes += *got;
  if (t->o.expected_size != UINT64_MAX && t->bytes > t->o.expected_size)
    return error_set(err, VMPULL_E_DIGEST, "%s: more than the expected %llu bytes", s->name,
                     (unsigned long long)t->o.expected_size);
  if (t->o.progress) {
    t->o.progress->ev.fetched += *got;
    return progress_report(t->o.progress, 0, err);
  }
  return 0;
}

static void tee_free(struct byte_source *s) {
  struct tee *t = (struct tee *)s;
  source_free(t->inner);
  EVP_MD_CTX_free(t->md);
  free(t);
}

static const struct byte_source_ops tee_ops = {.read = tee_read, .free = tee_free};

int tee_new(struct byte_source *inner, const struct tee_options *o, struct byte_source **out, vmpull_error *err) {
  _cleanup_evp_md_ctx_ EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
    return error_set(err, VMPULL_E_IO, "sha256: cannot initialise");
  struct tee *t = calloc(1, sizeof(*t));
  if (!t)
    return error_oom(err);
  t->base.ops = &tee_ops;
  t->base.name = inner->name;
  t->base.size = inner->size;
  t->inner = inner;
  t->md = TAKE_PTR(md);
  t->o = *o;
  *out = &t->base;
  return 0;
}

int tee_prime(struct byte_source *s, const uint8_t *buf, size_t len, vmpull_error *err) {
  struct tee *t = (struct tee *)s;
  if (EVP_DigestUpdate(t->md, buf, len) != 1)
    return error_set(err, VMPULL_E_IO, "sha256 update failed");
  t->bytes += len;
  return 0;
}

uint64_t tee_bytes(struct byte_source *s) { return ((struct tee *)s)->bytes; }

int tee_digest(struct byte_source *s, char out[80], vmpull_error *err) {
  struct tee *t = (struct tee *)s;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  /* Finalise a copy so the digest can be asked for more than once. */
  _cleanup_evp_md_ctx_ EVP_MD_CTX *copy = EVP_MD_CTX_new();
  if (!copy || EVP_MD_CTX_copy_ex(copy, t->md) != 1 || EVP_DigestFinal_ex(copy, md, &len) != 1)
    return error_set(err, VMPULL_E_IO, "sha256: cannot finalise");
  static const char hex[] = "0123456789abcdef";
  char *p = out + sprintf(out, "sha256:");
  for (unsigned i = 0; i < len; i++) {
    *p++ = hex[md[i] >> 4];
    *p++ = hex[md[i] & 15];
  }
  *p = '\0';
  return 0;
}
