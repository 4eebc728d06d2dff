/* SPDX-License-Identifier: Apache-2.0 */
/* Generic byte-source helpers and the peek wrapper used by format detection. */
#include "pipeline/source.h"

#include "base/error.h"
#include "base/util.h"

int source_read_full(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  size_t total = 0;
  while (total < cap) {
    size_t n = 0;
    int r = source_read(s, buf + total, cap - total, &n, err);
    if (r < 0)
      return r;
    if (n == 0)
      break;
    total += n;
  }
  *got = total;
  return 0;
}

void source_free(struct byte_source *s) {
  if (s)
    s->ops->free(s);
}

struct peek_source {
  struct byte_source base;
  struct byte_source *inner;
  uint8_t *buf;
  size_t len, off;
};

static int peek_read(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  struct peek_source *p = (struct peek_source *)s;
  if (p->off < p->len) {
    size_t n = MIN(cap, p->len - p->off);
    memcpy(buf, p->buf + p->off, n);
    p->off += n;
    *got = n;
    return 0;
  }
  return source_read(p->inner, buf, cap, got, err);
}

static void peek_free(struct byte_source *s) {
  struct peek_source *p = (struct peek_source *)s;
  source_free(p->inner);
  free(p->buf);
  free(p);
}

static const struct byte_source_ops peek_ops = {.read = peek_read, .free = peek_free};

struct byte_source *source_peek_new(struct byte_source *inner) {
  struct peek_source *p = calloc(1, sizeof(*p));
  if (!p)
    return NULL;
  p->base.ops = &peek_ops;
  p->base.name = inner->name;
  p->base.size = inner->size;
  p->inner = inner;
  return &p->base;
}

int source_peek(struct byte_source *s, size_t want, const uint8_t **data, size_t *len, lib_error *err) {
  struct peek_source *p = (struct peek_source *)s;
  if (p->len - p->off < want) {
    uint8_t *nb = realloc(p->buf, want);
    if (!nb)
      return error_oom(err);
    memmove(nb, nb + p->off, p->len - p->off);
    p->buf = nb;
    p->len -= p->off;
    p->off = 0;
    size_t got = 0;
    int r = source_read_full(p->inner, p->buf + p->len, want - p->len, &got, err);
    if (r < 0)
      return r;
    p->len += got;
  }
  *data = p->buf + p->off;
  *len = p->len - p->off;
  return 0;
}
