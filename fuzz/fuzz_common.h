/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the libFuzzer targets: an in-memory byte source and a scratch folder. */
#ifndef VMPULL_FUZZ_COMMON_H
#define VMPULL_FUZZ_COMMON_H

#include "pipeline/source.h"

#include <stddef.h>
#include <stdint.h>

/* A byte source over data (borrowed). Reads come back in varying short sizes, so that
 * every consumer meets headers and records split across reads, as a network delivers them. */
struct byte_source *fuzz_mem_source(const uint8_t *data, size_t size);

/* A private folder for this fuzzing process (on tmpfs when there is one), created once. */
const char *fuzz_scratch_dir(void);

/* data as a NUL-terminated string (embedded NULs cut it short, as a C caller would see it). */
char *fuzz_strndup(const uint8_t *data, size_t size);

#endif
