/* SPDX-License-Identifier: Apache-2.0 */
#include "pipeline/disk_map.h"

#include "base/digest.h"
#include "base/util.h"
#include "pipeline/zero_block.h"

#include <openssl/evp.h>

void disk_map_clear(struct disk_map *m) {
  free(m->zero);
  free(m->sha256);
  *m = (struct disk_map){0};
}

int disk_map_is_zero(const uint8_t *p, size_t len) {
  size_t i = 0;
  for (; i + ZERO_BLOCK <= len; i += ZERO_BLOCK)
    if (!block_is_zero(p + i))
      return 0;
  for (; i < len; i++)
    if (p[i])
      return 0;
  return 1;
}

static int map_alloc(struct disk_map *m, uint64_t count) {
  /* calloc(0) may return NULL: one spare entry keeps NULL meaning "out of memory". */
  if (count > SIZE_MAX / DISK_MAP_SHA256 - 1)
    return -ENOMEM;
  m->zero = calloc((size_t)count + 1, 1);
  m->sha256 = calloc((size_t)count + 1, DISK_MAP_SHA256);
  if (!m->zero || !m->sha256) {
    disk_map_clear(m);
    return -ENOMEM;
  }
  m->count = count;
  return 0;
}

char *disk_map_format(const struct disk_map *m) {
  uint64_t data = 0;
  for (uint64_t i = 0; i < m->count; i++)
    data += !m->zero[i];
  uint64_t len = (m->count - data) + data * 2 * DISK_MAP_SHA256;
  if (len >= SIZE_MAX)
    return NULL;
  char *out = malloc((size_t)len + 1), *p = out;
  if (!out)
    return NULL;
  for (uint64_t i = 0; i < m->count; i++) {
    if (m->zero[i]) {
      *p++ = 'z';
      continue;
    }
    const uint8_t *d = m->sha256 + i * DISK_MAP_SHA256;
    hex_lower_format(d, DISK_MAP_SHA256, p); /* its NUL is overwritten next, or ends the text */
    p += 2 * DISK_MAP_SHA256;
  }
  *p = '\0';
  return out;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1; /* upper case too: the form has one spelling */
}

int disk_map_parse(const char *text, size_t len, uint64_t size, struct disk_map *out) {
  *out = (struct disk_map){0};
  uint64_t count = disk_map_chunks(size);
  /* Bounds before any allocation: at least one character and at most 64 per chunk. */
  if (len < count || len / (2 * DISK_MAP_SHA256) > count)
    return -EINVAL;
  struct disk_map m = {0};
  int r = map_alloc(&m, count);
  if (r < 0)
    return r;
  m.size = size;
  size_t pos = 0;
  for (uint64_t i = 0; i < count; i++) {
    if (pos < len && text[pos] == 'z') {
      m.zero[i] = 1;
      pos++;
      continue;
    }
    if (len - pos < 2 * DISK_MAP_SHA256) {
      disk_map_clear(&m);
      return -EINVAL;
    }
    uint8_t *d = m.sha256 + i * DISK_MAP_SHA256;
    for (unsigned j = 0; j < DISK_MAP_SHA256; j++) {
      int hi = hex_value(text[pos + 2 * j]), lo = hex_value(text[pos + 2 * j + 1]);
      if (hi < 0 || lo < 0) {
        disk_map_clear(&m);
        return -EINVAL;
      }
      d[j] = (uint8_t)(hi << 4 | lo);
    }
    pos += 2 * DISK_MAP_SHA256;
  }
  if (pos != len) {
    disk_map_clear(&m);
    return -EINVAL;
  }
  *out = m;
  return 0;
}

/* ---- building ---- */

struct disk_map_builder {
  struct disk_map map; /* count: chunks finished so far */
  uint64_t cap;
  EVP_MD *sha256;
  EVP_MD_CTX *md;
  uint64_t in_chunk; /* bytes of the current chunk taken so far */
  int data;          /* the current chunk holds data: md has all of its in_chunk bytes */
  int failed;        /* -errno */
};

struct disk_map_builder *disk_map_builder_new(void) {
  struct disk_map_builder *b = calloc(1, sizeof(*b));
  if (!b)
    return NULL;
  b->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  b->md = EVP_MD_CTX_new();
  if (!b->sha256 || !b->md) {
    disk_map_builder_free(b);
    return NULL;
  }
  return b;
}

void disk_map_builder_free(struct disk_map_builder *b) {
  if (!b)
    return;
  disk_map_clear(&b->map);
  EVP_MD_CTX_free(b->md);
  EVP_MD_free(b->sha256);
  free(b);
}

static void hash(struct disk_map_builder *b, const uint8_t *p, size_t len) {
  if (!b->failed && EVP_DigestUpdate(b->md, p, len) != 1)
    b->failed = -EIO;
}

/* The first data in a chunk: hash the zeros that came before it in the chunk. */
static void start_data(struct disk_map_builder *b) {
  static const uint8_t zeros[64 << 10];
  if (!b->failed && EVP_DigestInit_ex(b->md, b->sha256, NULL) != 1)
    b->failed = -EIO;
  for (uint64_t left = b->in_chunk; left > 0;) {
    size_t n = (size_t)MIN(left, (uint64_t)sizeof(zeros));
    hash(b, zeros, n);
    left -= n;
  }
  b->data = 1;
}

static void end_chunk(struct disk_map_builder *b) {
  struct disk_map *m = &b->map;
  if (!b->failed && m->count == b->cap) {
    uint64_t cap = b->cap ? b->cap * 2 : 1024;
    uint8_t *zero = cap < SIZE_MAX / DISK_MAP_SHA256 ? realloc(m->zero, (size_t)cap) : NULL;
    if (zero)
      m->zero = zero;
    uint8_t *sha = zero ? realloc(m->sha256, (size_t)cap * DISK_MAP_SHA256) : NULL;
    if (sha) {
      m->sha256 = sha;
      b->cap = cap;
    } else {
      b->failed = -ENOMEM;
    }
  }
  if (!b->failed) {
    m->zero[m->count] = !b->data;
    memset(m->sha256 + m->count * DISK_MAP_SHA256, 0, DISK_MAP_SHA256);
    unsigned len = 0;
    if (b->data &&
        (EVP_DigestFinal_ex(b->md, m->sha256 + m->count * DISK_MAP_SHA256, &len) != 1 || len != DISK_MAP_SHA256))
      b->failed = -EIO;
    m->count++;
  }
  b->in_chunk = 0;
  b->data = 0;
}

void disk_map_add(struct disk_map_builder *b, const uint8_t *buf, size_t len, int zero) {
  b->map.size += len;
  while (len > 0) {
    size_t n = (size_t)MIN((uint64_t)len, DISK_MAP_CHUNK - b->in_chunk);
    if (!zero && !b->data)
      start_data(b);
    if (b->data)
      hash(b, buf, n);
    b->in_chunk += n;
    if (b->in_chunk == DISK_MAP_CHUNK)
      end_chunk(b);
    buf += n;
    len -= n;
  }
}

int disk_map_builder_finish(struct disk_map_builder *b, struct disk_map *out) {
  *out = (struct disk_map){0};
  if (b->in_chunk)
    end_chunk(b);
  if (b->failed)
    return b->failed;
  if (b->map.count != disk_map_chunks(b->map.size))
    return -EIO;
  *out = b->map;
  b->map = (struct disk_map){0};
  b->cap = 0;
  return 0;
}
