/* SPDX-License-Identifier: Apache-2.0 */
#include "pipeline/zero_block.h"

#include <stddef.h>

int block_is_zero(const uint8_t *p) {
  /* Words, not bytes; checking the first word alone rejects most data blocks at once. */
  typedef uint64_t __attribute__((may_alias, aligned(1))) word;
  const word *w = (const word *)(const void *)p;
  if (w[0])
    return 0;
  for (size_t i = 0; i < ZERO_BLOCK / 8; i += 8) {
    if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
      return 0;
  }
  return 1;
}
