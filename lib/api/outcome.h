/* SPDX-License-Identifier: Apache-2.0 */
/* The public vmpull_outcome inside: what a pull produced, the facts of how (fetch/pull_facts.h,
 * gathered by the floors below while the pull runs) and the error with its details. */
#ifndef VMPULL_API_OUTCOME_H
#define VMPULL_API_OUTCOME_H

#include "base/error.h"
#include "fetch/pull_facts.h"

#include <stdint.h>

struct vmpull_outcome {
  char *path; /* NULL for pull_to_fd */
  char *source;
  char *format;
  char *digest;
  char *image_name;
  char *content_disposition;
  char *reference;
  uint64_t fetched; /* UINT64_MAX until the pull succeeded */
  uint64_t size;
  uint64_t allocated;
  struct pull_facts facts;
  lib_error error;
};

struct vmpull_outcome *outcome_new(void);
/* Clean every string that came from outside (text_clean), as vmpull_result's are. -1 on OOM. */
int outcome_clean(struct vmpull_outcome *o);
/* Move the strings into a vmpull_result (the outcome keeps its facts). */
void outcome_to_result(struct vmpull_outcome *o, vmpull_result *res);

#endif
