/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The map of a kept disk (--keep-uncompressed): the disk in fixed chunks of DISK_MAP_CHUNK
 * bytes, each either all zero or its sha256. The sink builds it as its writer writes (the hole
 * scan already knows which blocks are zero, so only data chunks are hashed: a raw disk is
 * mostly holes), the cache keeps it in the disk's record, and a reuse checks the kept disk
 * against it in the same read that copies it (disk_copy_checked, lib/store/disk_copy.c).
 *
 * Its text form, the record's "chunks": one entry per chunk in order, "z" for a chunk of
 * zeros, else the 64 lowercase hex digits of the chunk's sha256 (the last chunk may be short).
 */
#ifndef VMPULL_DISK_MAP_H
#define VMPULL_DISK_MAP_H

#include <stddef.h>
#include <stdint.h>

#define DISK_MAP_CHUNK (1u << 20)
#define DISK_MAP_SHA256 32

struct disk_map {
  uint64_t size;   /* bytes of the disk the map covers */
  uint64_t count;  /* chunks: size / DISK_MAP_CHUNK rounded up */
  uint8_t *zero;   /* count flags: 1 = the chunk is all zero */
  uint8_t *sha256; /* count * DISK_MAP_SHA256 bytes: each data chunk's digest (zero chunks: unused) */
};

void disk_map_clear(struct disk_map *m);
static inline uint64_t disk_map_chunks(uint64_t size) {
  return size / DISK_MAP_CHUNK + (size % DISK_MAP_CHUNK != 0);
}

/* The text form (NULL when out of memory). */
char *disk_map_format(const struct disk_map *m);
/* Parse the text form of exactly disk_map_chunks(size) entries, nothing else. 0, or -EINVAL for
 * anything malformed, -ENOMEM. */
int disk_map_parse(const char *text, size_t len, uint64_t size, struct disk_map *out);

/* Building the map from the bytes of a disk in order (the sink's writer thread). */
struct disk_map_builder;
struct disk_map_builder *disk_map_builder_new(void);
void disk_map_builder_free(struct disk_map_builder *b);
/* The next len bytes of the disk; zero: the caller already knows they are all zero (a hole).
 * Data passed with zero = 0 may contain zeros; it is hashed as it is. A failure (out of
 * memory) only makes disk_map_builder_finish fail: the map is an extra, not the pull. */
void disk_map_add(struct disk_map_builder *b, const uint8_t *buf, size_t len, int zero);
/* The map of everything added: 0, or -ENOMEM / -EIO when it could not be built. */
int disk_map_builder_finish(struct disk_map_builder *b, struct disk_map *out);

/* Is len bytes at p all zero? */
int disk_map_is_zero(const uint8_t *p, size_t len);

#endif
