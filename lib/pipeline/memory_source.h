/* SPDX-License-Identifier: Apache-2.0 */
/* A byte source over a buffer the caller keeps alive while it is read (a document already in
 * memory, written where a blob goes). */
#ifndef VMPULL_MEMORY_SOURCE_H
#define VMPULL_MEMORY_SOURCE_H

#include "pipeline/source.h"

/* The source is named "blob <digest>" in messages. */
int memory_source_new(const char *buf, size_t len, const char *digest, struct byte_source **out, lib_error *err);

#endif
