/* SPDX-License-Identifier: Apache-2.0 */
#include "fetch/pull_facts.h"

#include "base/util.h"

void pull_facts_restart(struct pull_facts *f) {
  f->cache = VMPULL_CACHE_NONE;
  f->resumed_from = 0;
  free(f->mirror);
  f->mirror = NULL;
  free(f->signature_key);
  f->signature_key = NULL;
  f->signature_type = NULL;
}

void pull_facts_clear(struct pull_facts *f) {
  free(f->mirror);
  free(f->signature_key);
  *f = (struct pull_facts){0};
}

int pull_facts_signed(struct pull_facts *f, const char *type, const char *key) {
  char *copy = key ? strdup(key) : NULL;
  if (key && !copy)
    return -1;
  free(f->signature_key);
  f->signature_key = copy;
  f->signature_type = type;
  return 0;
}

/* Below the tee and the cache's recording: what the network delivered, counted once per byte read
 * (a retried request's continuation is counted as it arrives; a replayed partial is not network). */
struct count_source {
  struct byte_source base;
  struct byte_source *inner;
  uint64_t *count;
};

static int count_read(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  struct count_source *cs = (struct count_source *)s;
  int r = source_read(cs->inner, buf, cap, got, err);
  if (r == 0)
    *cs->count += *got;
  return r;
}

static void count_free(struct byte_source *s) {
  struct count_source *cs = (struct count_source *)s;
  source_free(cs->inner);
  free(cs);
}

static const struct byte_source_ops count_ops = {.read = count_read, .free = count_free};

int pull_facts_count(struct pull_facts *f, struct byte_source **src, lib_error *err) {
  if (!f || !*src)
    return 0;
  struct count_source *cs = calloc(1, sizeof(*cs));
  if (!cs)
    return error_oom(err);
  cs->base.ops = &count_ops;
  cs->base.name = (*src)->name;
  cs->base.size = (*src)->size;
  cs->inner = TAKE_PTR(*src);
  cs->count = &f->bytes_transferred;
  *src = &cs->base;
  return 0;
}
