/* SPDX-License-Identifier: Apache-2.0 */
#include "pipeline/memory_source.h"

#include "base/error.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

struct mem_source {
  struct byte_source base;
  const char *buf;
  size_t len, off;
};

static int mem_read(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  (void)err;
  struct mem_source *m = (struct mem_source *)s;
  *got = MIN(cap, m->len - m->off);
  memcpy(buf, m->buf + m->off, *got);
  m->off += *got;
  return 0;
}

static void mem_free(struct byte_source *s) {
  free(s->name);
  free(s);
}

static const struct byte_source_ops mem_ops = {.read = mem_read, .free = mem_free};

int memory_source_new(const char *buf, size_t len, const char *digest, struct byte_source **out, lib_error *err) {
  struct mem_source *m = calloc(1, sizeof(*m));
  if (!m)
    return error_oom(err);
  *m = (struct mem_source){.base = {.ops = &mem_ops, .size = len}, .buf = buf, .len = len};
  m->base.name = xasprintf("blob %s", digest);
  if (!m->base.name) {
    free(m);
    return error_oom(err);
  }
  *out = &m->base;
  return 0;
}
