/* SPDX-License-Identifier: Apache-2.0 */
/* JSON that holds secrets (auth files, credential helper answers, tokens): parsed without leaving
 * copies of its strings behind, wiped before it is freed, and never quoted in a message. */
#ifndef VMPULL_SECRET_JSON_H
#define VMPULL_SECRET_JSON_H

#include <json-c/json.h>
#include <stddef.h>

/* The parsed document, or NULL (malformed, a NUL inside, too large): the caller's message must
 * not quote the input. Free with secret_json_freep. */
json_object *secret_json_parse(const char *buf, size_t len);
/* Wipe every string of *o, then free it. */
void secret_json_freep(json_object **o);
#define _cleanup_secret_json_ _cleanup_(secret_json_freep)
/* o[key] when it is a string, else NULL (o may be NULL). */
const char *secret_json_string(json_object *o, const char *key);

#endif
