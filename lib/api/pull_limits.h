/* SPDX-License-Identifier: Apache-2.0 */
/* The output size limit a pull applies, read from its options in one place. */
#ifndef VMPULL_PULL_LIMITS_H
#define VMPULL_PULL_LIMITS_H

#include "vmpull.h"

#include <stdint.h>

/* o->max_size, or the default when it is 0. */
static inline uint64_t pull_max_size(const vmpull_pull_options *o) {
  return o->max_size ? o->max_size : VMPULL_DEFAULT_MAX_SIZE;
}

#endif
