/* SPDX-License-Identifier: Apache-2.0 */
/* The request and response records every HTTP caller and the transfer share. */
#include "net/http_types.h"

#include "base/util.h"

#include <stdlib.h>

void http_headers_free(struct curl_slist *headers) {
  for (struct curl_slist *h = headers; h; h = h->next)
    if (h->data)
      secure_zero(h->data, strlen(h->data));
  curl_slist_free_all(headers);
}

void http_response_clear(struct http_response *r) {
  free(r->reason);
  free_secret(r->effective_url); /* the request URL, with its user:password if it had one */
  free(r->content_type);
  free(r->etag);
  free(r->last_modified);
  free(r->www_authenticate);
  free(r->content_disposition);
  free(r->docker_content_digest);
  free(r->retry_after);
  free(r->body);
  *r = (struct http_response){.content_length = UINT64_MAX,
                              .content_range_start = UINT64_MAX,
                              .content_range_total = UINT64_MAX,
                              .content_range_end = UINT64_MAX};
}

const char *http_etag_strong(const char *etag) {
  return etag && *etag && !starts_with(etag, "W/") ? etag : NULL;
}
