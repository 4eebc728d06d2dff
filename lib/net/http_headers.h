/* SPDX-License-Identifier: Apache-2.0 */
/* Response header lines into a struct http_response (http_types.h). */
#ifndef VMPULL_HTTP_HEADERS_H
#define VMPULL_HTTP_HEADERS_H

#include "net/http_types.h"

#include <stddef.h>

/* "HTTP/1.1 206 Partial Content": the status (0 when not three digits) and the reason. */
void http_parse_status_line(struct http_response *resp, const char *line, size_t len);
/* One "Name: value" line into resp (the first of a repeated header wins). Location and a chunked
 * Transfer-Encoding belong to the transfer, not the response: they go to *location (the last one
 * wins) and *chunked. */
void http_parse_header_line(struct http_response *resp, char **location, int *chunked, const char *line, size_t len);

#endif
