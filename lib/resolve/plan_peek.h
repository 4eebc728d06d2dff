/* SPDX-License-Identifier: Apache-2.0 */
/* The first bytes of a plan's image, for inspect: what pull would detect, without fetching the image. */
#ifndef VMPULL_PLAN_PEEK_H
#define VMPULL_PLAN_PEEK_H

#include "fetch/resolved.h"

#include <stddef.h>
#include <stdint.h>

/* Up to cap bytes from the start of r's image into buf (*got: how many; fewer only for a smaller image)
 * and *size, the whole image's size when known (a file's, a 206's Content-Range total, a 200's
 * Content-Length), else UINT64_MAX. A file is read from its start; a URL is asked for its first cap bytes
 * only (Range: bytes=0-(cap-1), one request, not through the cache): a server that ignores the range and
 * sends the whole body has its first cap bytes read and the connection closed. Blob plans are not
 * peeked here (inspect walks OCI stores itself). */
int resolved_peek(const struct resolved *r, uint8_t *buf, size_t cap, size_t *got, uint64_t *size, lib_error *err);

#endif
