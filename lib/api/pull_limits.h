/* SPDX-License-Identifier: Apache-2.0 */
/* The output size limit a pull applies, read from its options in one place (lib/api/pull.c, beside
 * DEFAULT_MAX_SIZE, which tests/cli/test_docs_limits.py checks against docs/SECURITY.md). */
#ifndef VMPULL_PULL_LIMITS_H
#define VMPULL_PULL_LIMITS_H

#include "vmpull.h"

#include <stdint.h>

/* o->max_size, or the default when it is 0. */
uint64_t pull_max_size(const vmpull_pull_options *o);

#endif
