/* SPDX-License-Identifier: Apache-2.0 */
#include "pipeline/tee.h"

#include "base/digest.h"
#include "base/error.h"
#include "base/evp_util.h"
#include "base/platform.h"
#include "base/progress.h"
#include "base/ring.h"
#include "base/thread.h"
#include "base/util.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

/*
 * SHA-256 runs on a thread of its own when there is a second CPU: without SHA
 * instructions it does about 400 MB/s, which was 15% of a zstd or gzip pull,
 * most of an uncompressed one, and enough to put single-block xz (whose
 * decoder cannot use the second core) behind `xz -dc` (bench/). The bytes are
 * copied into a ring the hash thread drains (a copy costs a tenth of the
 * hash). Order is kept: reads and tee_prime() both go through the ring.
 */
#define HASH_RING (4u << 20)
#define HASH_CHUNK (1u << 20) /* hashed per lock round trip */

struct hasher {
  pthread_t thread;
  int started;
  struct ring ring; /* in bytes of buf; closed: stop */
  uint8_t *buf;
  int failed;     /* EVP_DigestUpdate failed in the thread (read once it is joined) */
  EVP_MD_CTX *md; /* the tee's: only the thread touches it while started and bytes are queued */
};

struct tee {
  struct byte_source base;
  struct byte_source *inner;
  EVP_MD_CTX *md;
  uint64_t bytes;
  struct tee_options o;
  struct hasher h;
};

static void *hash_thread(void *arg) {
  struct hasher *h = arg;
  size_t at, n;
  while ((n = ring_peek(&h->ring, HASH_CHUNK, &at)) > 0) {
    if (!h->failed && EVP_DigestUpdate(h->md, h->buf + at, n) != 1)
      h->failed = 1;
    ring_release(&h->ring, n);
  }
  return NULL;
}

/* One CPU, or no thread to be had: hash inline, as if there were no ring. */
static void hasher_start(struct hasher *h, EVP_MD_CTX *md) {
  h->md = md;
  if (plat_cpu_count() < 2)
    return;
  h->buf = malloc(HASH_RING);
  if (!h->buf)
    return;
  if (ring_init(&h->ring, HASH_RING) != 0) {
    free(TAKE_PTR(h->buf));
    return;
  }
  h->started = worker_thread_start(&h->thread, hash_thread, h) == 0;
  if (!h->started) {
    ring_destroy(&h->ring);
    free(TAKE_PTR(h->buf));
  }
}

static void hasher_stop(struct hasher *h) {
  if (!h->started)
    return;
  ring_close(&h->ring); /* the thread hashes what is queued, then ends */
  pthread_join(h->thread, NULL);
  ring_destroy(&h->ring);
  free(TAKE_PTR(h->buf));
  h->started = 0;
}

static int hasher_update(struct hasher *h, const uint8_t *buf, size_t len, lib_error *err) {
  if (!h->started) {
    if (EVP_DigestUpdate(h->md, buf, len) != 1)
      return error_set(err, VMPULL_E_IO, "sha256 update failed");
    return 0;
  }
  while (len > 0) {
    size_t at;
    size_t n = ring_reserve(&h->ring, len, &at); /* never abandoned: the hash thread reads to the end */
    memcpy(h->buf + at, buf, n);
    ring_commit(&h->ring, n);
    buf += n;
    len -= n;
  }
  return 0;
}

/* Wait until every queued byte is hashed; then the context is the caller's to read. */
static int hasher_drain(struct hasher *h, lib_error *err) {
  int failed = 0;
  if (h->started) {
    ring_lock(&h->ring);
    ring_wait_empty_locked(&h->ring);
    failed = h->failed; /* set before the bytes it failed on were released */
    ring_unlock(&h->ring);
  }
  if (failed)
    return error_set(err, VMPULL_E_IO, "sha256 update failed");
  return 0;
}

static int tee_read(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  struct tee *t = (struct tee *)s;
  int r = progress_check_cancel(t->o.progress, err);
  if (r < 0)
    return r;
  r = source_read(t->inner, buf, cap, got, err);
  if (r < 0)
    return r;
  if (*got == 0) {
    if (t->o.expected_size != UINT64_MAX && t->bytes != t->o.expected_size)
      return error_set(err, VMPULL_E_DIGEST, "%s: size %llu, expected %llu", s->name, (unsigned long long)t->bytes,
                       (unsigned long long)t->o.expected_size);
    return 0;
  }
  r = hasher_update(&t->h, buf, *got, err);
  if (r == 0 && t->o.observe)
    r = t->o.observe(t->o.observe_data, buf, *got, err);
  if (r < 0)
    return r;
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
  hasher_stop(&t->h);
  source_free(t->inner);
  EVP_MD_CTX_free(t->md);
  free(t);
}

static const struct byte_source_ops tee_ops = {.read = tee_read, .free = tee_free};

int tee_new(struct byte_source *inner, const struct tee_options *o, struct byte_source **out, lib_error *err) {
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
  hasher_start(&t->h, t->md);
  *out = &t->base;
  return 0;
}

int tee_prime(struct byte_source *s, const uint8_t *buf, size_t len, lib_error *err) {
  struct tee *t = (struct tee *)s;
  int r = hasher_update(&t->h, buf, len, err);
  if (r == 0 && t->o.observe)
    r = t->o.observe(t->o.observe_data, buf, len, err);
  if (r < 0)
    return r;
  t->bytes += len;
  return 0;
}

uint64_t tee_bytes(struct byte_source *s) {
  return ((struct tee *)s)->bytes;
}

int tee_digest(struct byte_source *s, char out[80], lib_error *err) {
  struct tee *t = (struct tee *)s;
  int r = hasher_drain(&t->h, err);
  if (r < 0)
    return r;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  /* Finalise a copy so the digest can be asked for more than once. */
  _cleanup_evp_md_ctx_ EVP_MD_CTX *copy = EVP_MD_CTX_new();
  if (!copy || EVP_MD_CTX_copy_ex(copy, t->md) != 1 || EVP_DigestFinal_ex(copy, md, &len) != 1)
    return error_set(err, VMPULL_E_IO, "sha256: cannot finalise");
  memcpy(out, "sha256:", 7);
  hex_lower_format(md, len, out + 7);
  return 0;
}
