/* SPDX-License-Identifier: Apache-2.0 */
/* The unit in which the sink finds holes and the kept-disk map finds zero chunks. */
#ifndef VMPULL_ZERO_BLOCK_H
#define VMPULL_ZERO_BLOCK_H

#include <stdint.h>

#define ZERO_BLOCK 4096u

/* Is this ZERO_BLOCK-sized block (any alignment) all zero? */
int block_is_zero(const uint8_t *p);

#endif
