/* SPDX-License-Identifier: Apache-2.0 */
#include "pipeline/bmap.h"

#include "base/digest.h"
#include "base/util.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>

struct bmap_range {
  uint64_t first, last; /* blocks */
  char sha256[65];
};

struct bmap_builder {
  uint64_t size; /* bytes added so far */
  int open;      /* a range is being hashed: it started at block first */
  uint64_t first;
  EVP_MD *sha256;
  EVP_MD_CTX *md;
  struct bmap_range *ranges;
  size_t count, cap;
  uint64_t mapped; /* blocks in closed ranges */
  int failed;
};

struct bmap_builder *bmap_builder_new(void) {
  struct bmap_builder *b = calloc(1, sizeof(*b));
  if (!b)
    return NULL;
  b->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  b->md = EVP_MD_CTX_new();
  if (!b->sha256 || !b->md) {
    bmap_builder_free(b);
    return NULL;
  }
  return b;
}

void bmap_builder_free(struct bmap_builder *b) {
  if (!b)
    return;
  EVP_MD_CTX_free(b->md);
  EVP_MD_free(b->sha256);
  free(b->ranges);
  free(b);
}

static void range_end(struct bmap_builder *b) {
  if (!b->open)
    return;
  b->open = 0;
  if (b->failed)
    return;
  if (b->count == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    struct bmap_range *r = cap < SIZE_MAX / sizeof(*r) ? realloc(b->ranges, cap * sizeof(*r)) : NULL;
    if (!r) {
      b->failed = 1;
      return;
    }
    b->ranges = r;
    b->cap = cap;
  }
  struct bmap_range *r = &b->ranges[b->count];
  uint8_t d[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (EVP_DigestFinal_ex(b->md, d, &len) != 1 || len != 32) {
    b->failed = 1;
    return;
  }
  hex_lower_format(d, 32, r->sha256);
  r->first = b->first;
  r->last = (b->size - 1) / BMAP_BLOCK;
  b->mapped += r->last - r->first + 1;
  b->count++;
}

void bmap_add(struct bmap_builder *b, const uint8_t *buf, size_t len, int zero) {
  if (!len)
    return;
  if (zero) {
    range_end(b);
  } else {
    if (!b->open) {
      b->open = 1;
      b->first = b->size / BMAP_BLOCK;
      if (EVP_DigestInit_ex(b->md, b->sha256, NULL) != 1)
        b->failed = 1;
    }
    if (!b->failed && EVP_DigestUpdate(b->md, buf, len) != 1)
      b->failed = 1;
  }
  b->size += len;
}

/* bmap-tools' human_size (BmapHelpers.py), for the comments it writes. */
static void human_size(uint64_t size, char *out, size_t n) {
  if (size == 1) {
    snprintf(out, n, "1 byte");
    return;
  }
  if (size < 512) {
    snprintf(out, n, "%llu bytes", (unsigned long long)size);
    return;
  }
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = (double)size;
  for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
    v /= 1024.0;
    if (v < 1024) {
      snprintf(out, n, "%.1f %s", v, units[i]);
      return;
    }
  }
  snprintf(out, n, "%.1f EiB", v);
}

/* The bmap's text as it grows (Windows' C runtime has no open_memstream). */
struct text {
  char *s;
  size_t len, cap;
  int failed;
};

static VMPULL_PRINTF(2, 3) void text_add(struct text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = t->failed ? -1 : vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || t->len + (size_t)n + 1 > t->cap) {
    size_t cap = n < 0 ? 0 : MAX(t->cap * 2, t->len + (size_t)n + 1 + 4096);
    char *grown = cap ? realloc(t->s, cap) : NULL;
    if (!grown) {
      t->failed = 1;
      return;
    }
    t->s = grown;
    t->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

#define ZERO_CHECKSUM "0000000000000000000000000000000000000000000000000000000000000000"

char *bmap_builder_finish(struct bmap_builder *b, size_t *len) {
  range_end(b);
  if (b->failed)
    return NULL;
  struct text f = {0};
  uint64_t blocks = b->size / BMAP_BLOCK + (b->size % BMAP_BLOCK != 0);
  char image_h[32], mapped_h[32];
  human_size(b->size, image_h, sizeof(image_h));
  human_size(b->mapped * BMAP_BLOCK, mapped_h, sizeof(mapped_h));
  text_add(&f,
           "<?xml version=\"1.0\" ?>\n"
           /* (no two dashes in a row inside a comment: XML forbids them) */
           "<!-- The block map of a disk written by vmpull: the ranges of its 4 KiB blocks that hold\n"
           "     data, each with the checksum of its bytes. bmaptool copy, given this file as the\n"
           "     bmap, writes only these blocks onto a device (which must read as zeros elsewhere). -->\n\n"
           "<bmap version=\"2.0\">\n"
           "    <!-- Image size in bytes: %s -->\n"
           "    <ImageSize> %llu </ImageSize>\n\n"
           "    <!-- Size of a block in bytes -->\n"
           "    <BlockSize> %u </BlockSize>\n\n"
           "    <!-- Count of blocks in the image file -->\n"
           "    <BlocksCount> %llu </BlocksCount>\n\n"
           "    <!-- Count of mapped blocks: %s or %.1f%% -->\n"
           "    <MappedBlocksCount> %llu </MappedBlocksCount>\n\n"
           "    <!-- Type of checksum used in this file -->\n"
           "    <ChecksumType> sha256 </ChecksumType>\n\n"
           "    <!-- The checksum of this bmap file. When it is calculated, the value of\n"
           "         the checksum has be zero (all ASCII \"0\" symbols).  -->\n"
           "    <BmapFileChecksum> " ZERO_CHECKSUM " </BmapFileChecksum>\n\n"
           "    <!-- The block map which consists of elements which may either be a\n"
           "         range of blocks or a single block. The 'chksum' attribute\n"
           "         (if present) is the checksum of this blocks range. -->\n"
           "    <BlockMap>\n",
           image_h, (unsigned long long)b->size, BMAP_BLOCK, (unsigned long long)blocks, mapped_h,
           blocks ? (double)b->mapped * 100.0 / (double)blocks : 0.0, (unsigned long long)b->mapped);
  for (size_t i = 0; i < b->count; i++) {
    const struct bmap_range *r = &b->ranges[i];
    if (r->first != r->last)
      text_add(&f, "        <Range chksum=\"%s\"> %llu-%llu </Range>\n", r->sha256, (unsigned long long)r->first,
               (unsigned long long)r->last);
    else
      text_add(&f, "        <Range chksum=\"%s\"> %llu </Range>\n", r->sha256, (unsigned long long)r->first);
  }
  text_add(&f, "    </BlockMap>\n</bmap>\n");
  if (f.failed) {
    free(f.s);
    return NULL;
  }
  char *text = f.s;
  size_t text_len = f.len;
  /* BmapFileChecksum: the sha256 of the file as it is with zeros there, then put in their place. */
  uint8_t d[EVP_MAX_MD_SIZE];
  unsigned d_len = 0;
  char *field = strstr(text, ZERO_CHECKSUM);
  if (!field || EVP_Digest(text, text_len, d, &d_len, b->sha256, NULL) != 1 || d_len != 32) {
    free(text);
    return NULL;
  }
  char hex[65];
  hex_lower_format(d, 32, hex);
  memcpy(field, hex, 64);
  *len = text_len;
  return text;
}
