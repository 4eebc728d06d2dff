/* SPDX-License-Identifier: Apache-2.0 */
/* A layout's index.json: parsed as an image index, and rewritten with one entry added by name. */
#ifndef VMPULL_LAYOUT_INDEX_H
#define VMPULL_LAYOUT_INDEX_H

#include "base/error.h"

#include <json-c/json.h>
#include <stddef.h>

/* The index.json of a new layout: an image index with no manifests. */
const char *layout_index_empty(void);
/* text (len bytes) as an image index (a JSON object with a manifests array), or an error naming
 * path's index.json that leaves the file as it is. */
int layout_index_parse(const char *text, size_t len, const char *path, json_object **out, lib_error *err);
/* index.json (old, or an empty index when NULL) with entry added under ref_name (an older entry of
 * that name goes): the new text in *out. */
int layout_index_add(const char *old, size_t old_len, const char *path, json_object *entry, const char *ref_name,
                     char **out, lib_error *err);

#endif
