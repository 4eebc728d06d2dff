/* SPDX-License-Identifier: Apache-2.0 */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mem_source {
  struct byte_source base;
  const uint8_t *data;
  size_t size, off;
  unsigned reads;
};

static int mem_read(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  (void)err;
  struct mem_source *m = (struct mem_source *)s;
  /* 1, 7, 4096 and "all you asked for", in turn: boundaries land everywhere. */
  static const size_t pattern[] = {1, 7, 4096, SIZE_MAX};
  size_t n = pattern[m->reads++ % (sizeof(pattern) / sizeof(pattern[0]))];
  if (n > cap)
    n = cap;
  if (n > m->size - m->off)
    n = m->size - m->off;
  memcpy(buf, m->data + m->off, n);
  m->off += n;
  *got = n;
  return 0;
}

static void mem_free(struct byte_source *s) {
  free(s);
}

static const struct byte_source_ops mem_ops = {.read = mem_read, .free = mem_free};

struct byte_source *fuzz_mem_source(const uint8_t *data, size_t size) {
  struct mem_source *m = calloc(1, sizeof(*m));
  if (!m)
    abort();
  m->base.ops = &mem_ops;
  m->base.name = "fuzz-input";
  m->base.size = size;
  m->data = data;
  m->size = size;
  return &m->base;
}

static char scratch[64];

static void remove_scratch(void) {
  rmdir(scratch);
}

const char *fuzz_scratch_dir(void) {
  char *dir = scratch;
  if (dir[0])
    return dir;
  const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(dir, sizeof(scratch), "%s/vmpull-fuzz-XXXXXX", base);
  if (!mkdtemp(dir))
    abort();
  atexit(remove_scratch);
  return dir;
}

char *fuzz_strndup(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s)
    abort();
  memcpy(s, data, size);
  s[size] = '\0';
  return s;
}
