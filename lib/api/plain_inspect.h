/* SPDX-License-Identifier: Apache-2.0 */
/* vmpull_inspect() of a source that holds no OCI image (a file, an http(s) URL, fcos://). */
#ifndef VMPULL_PLAIN_INSPECT_H
#define VMPULL_PLAIN_INSPECT_H

#include "api/options.h"

/* What pull would do with o's source, as JSON (*json, free()): resolved as pull resolves it, and only
 * its first bytes read (a URL's through one Range request) to detect the format and so the output
 * path. {"source", "url" (a URL plan: where the bytes are, redacted), "reference" (fcos://), "file_name",
 * "format", "size" (null: unknown), "digest" (the stream metadata's, --digest or the --checksums
 * entry; null: unknown without reading it all), "output_path"}. */
int inspect_plain(const struct pull_config *o, unsigned flags, char **json, lib_error *err);

#endif
