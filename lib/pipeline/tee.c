/* SPDX-License-Identifier: Apache-2.0 */
#include "pipeline/tee.h"

#include "base/error.h"
#include "base/progress.h"
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
  pthread_mutex_t mu;
  pthread_cond_t more; /* bytes queued, or stop */
  pthread_cond_t room; /* bytes hashed */
  uint8_t *ring;
  size_t head, len; /* queued bytes: ring[head .. head+len) modulo HASH_RING */
  int stop;
  int failed;     /* EVP_DigestUpdate failed in the thread */
  EVP_MD_CTX *md; /* the tee's: only the thread touches it while started and bytes are queued */
};

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
  struct hasher h;
};

static void *hash_thread(void *arg) {
  struct hasher *h = arg;
  pthread_mutex_lock(&h->mu);
  for (;;) {
    while (h->len == 0 && !h->stop)
      pthread_cond_wait(&h->more, &h->mu);
    if (h->stop)
      break;
    size_t n = MIN(MIN(h->len, (size_t)HASH_RING - h->head), (size_t)HASH_CHUNK);
    const uint8_t *p = h->ring + h->head;
    pthread_mutex_unlock(&h->mu);
    int ok = h->failed || EVP_DigestUpdate(h->md, p, n) == 1;
    pthread_mutex_lock(&h->mu);
    if (!ok)
      h->failed = 1;
    h->head = (h->head + n) % HASH_RING;
    h->len -= n;
    pthread_cond_signal(&h->room);
  }
  pthread_mutex_unlock(&h->mu);
  return NULL;
}

/* One CPU, or no thread to be had: hash inline, as if there were no ring. */
static void hasher_start(struct hasher *h, EVP_MD_CTX *md) {
  h->md = md;
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
    return;
  h->ring = malloc(HASH_RING);
  if (!h->ring)
    return;
  pthread_mutex_init(&h->mu, NULL);
  pthread_cond_init(&h->more, NULL);
  pthread_cond_init(&h->room, NULL);
  /* Signals belong to the caller's thread. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  h->started = pthread_create(&h->thread, NULL, hash_thread, h) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (!h->started) {
    pthread_cond_destroy(&h->room);
    pthread_cond_destroy(&h->more);
    pthread_mutex_destroy(&h->mu);
    free(TAKE_PTR(h->ring));
  }
}

static void hasher_stop(struct hasher *h) {
  if (!h->started)
    return;
  pthread_mutex_lock(&h->mu);
  h->stop = 1;
  pthread_cond_signal(&h->more);
  pthread_mutex_unlock(&h->mu);
  pthread_join(h->thread, NULL);
  pthread_cond_destroy(&h->room);
  pthread_cond_destroy(&h->more);
  pthread_mutex_destroy(&h->mu);
  free(TAKE_PTR(h->ring));
  h->started = 0;
}

static int hasher_update(struct hasher *h, const uint8_t *buf, size_t len, vmpull_error *err) {
  if (!h->started) {
    if (EVP_DigestUpdate(h->md, buf, len) != 1)
      return error_set(err, VMPULL_E_IO, "sha256 update failed");
    return 0;
  }
  while (len > 0) {
    pthread_mutex_lock(&h->mu);
    while (h->len == HASH_RING)
      pthread_cond_wait(&h->room, &h->mu);
    size_t tail = (h->head + h->len) % HASH_RING;
    size_t n = MIN(len, MIN((size_t)HASH_RING - h->len, (size_t)HASH_RING - tail));
    pthread_mutex_unlock(&h->mu);
    /* Only this thread writes the free part of the ring; the hash thread reads the queued part. */
    memcpy(h->ring + tail, buf, n);
    pthread_mutex_lock(&h->mu);
    h->len += n;
    pthread_cond_signal(&h->more);
    pthread_mutex_unlock(&h->mu);
    buf += n;
    len -= n;
  }
  return 0;
}

/* Wait until every queued byte is hashed; then the context is the caller's to read. */
static int hasher_drain(struct hasher *h, vmpull_error *err) {
  int failed = 0;
  if (h->started) {
    pthread_mutex_lock(&h->mu);
    while (h->len > 0)
      pthread_cond_wait(&h->room, &h->mu);
    failed = h->failed;
    pthread_mutex_unlock(&h->mu);
  }
  if (failed)
    return error_set(err, VMPULL_E_IO, "sha256 update failed");
  return 0;
}

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
      return error_set(err, VMPULL_E_DIGEST, "%s: size %llu, expected %llu", s->name, (unsigned long long)t->bytes,
                       (unsigned long long)t->o.expected_size);
    return 0;
  }
  r = hasher_update(&t->h, buf, *got, err);
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
  hasher_start(&t->h, t->md);
  *out = &t->base;
  return 0;
}

int tee_prime(struct byte_source *s, const uint8_t *buf, size_t len, vmpull_error *err) {
  struct tee *t = (struct tee *)s;
  int r = hasher_update(&t->h, buf, len, err);
  if (r < 0)
    return r;
  t->bytes += len;
  return 0;
}

uint64_t tee_bytes(struct byte_source *s) {
  return ((struct tee *)s)->bytes;
}

int tee_digest(struct byte_source *s, char out[80], vmpull_error *err) {
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
  static const char hex[] = "0123456789abcdef";
  char *p = out + sprintf(out, "sha256:");
  for (unsigned i = 0; i < len; i++) {
    *p++ = hex[md[i] >> 4];
    *p++ = hex[md[i] & 15];
  }
  *p = '\0';
  return 0;
}
