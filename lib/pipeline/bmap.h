/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The block map of a disk (--bmap, issue 18), in the XML format 2.0 that bmap-tools reads
 * (`bmaptool copy --bmap FILE IMAGE DEVICE` writes only the mapped blocks, checking each range's
 * checksum): the ranges of the disk's 4 KiB blocks that hold a non-zero byte, each with the
 * sha256 of its bytes, and the file's own checksum (BmapFileChecksum: the sha256 of the file
 * with that field's value all "0"), as bmap-tools' BmapCreate.py writes them. Built by the
 * sink's writer from the runs its hole scan finds, hashed from the buffers it writes: the output
 * is never read back.
 */
#ifndef VMPULL_BMAP_H
#define VMPULL_BMAP_H

#include <stddef.h>
#include <stdint.h>

#define BMAP_BLOCK 4096u

struct bmap_builder;
struct bmap_builder *bmap_builder_new(void);
void bmap_builder_free(struct bmap_builder *b);
/* The disk's next len bytes, in order: data (zero = 0: hashed into the range it starts or
 * continues) or zeros (zero = 1: a hole, which ends the range). Data runs start on a block
 * boundary; only the disk's last one may end off it. A failure (out of memory) only makes
 * bmap_builder_finish fail. */
void bmap_add(struct bmap_builder *b, const uint8_t *buf, size_t len, int zero);
/* The bmap's text for everything added (*len bytes, NUL-terminated): NULL when out of memory. */
char *bmap_builder_finish(struct bmap_builder *b, size_t *len);

#endif
