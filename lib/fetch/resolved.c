/* SPDX-License-Identifier: Apache-2.0 */
#include "fetch/resolved.h"

#include <stdlib.h>

void resolved_clear(struct resolved *r) {
  source_free(r->src);
  free(r->image_name);
  free(r->display);
  free(r->expected_digest);
  free(r->reference);
  free(r->content_disposition);
  free(r->mirror);
  *r = (struct resolved){.expected_size = UINT64_MAX};
}
