/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Source classification and the output naming rule: the input is a source string,
 * a NUL, and an image file name (what a URL, manifest or tar entry would suggest).
 * Whatever the name, the output path must stay a direct child of the data folder.
 */
#include "base/util.h"
#include "fuzz_common.h"
#include "resolve/resolve.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  size_t source_len = nul ? (size_t)(nul - data) : size;
  _cleanup_free_ char *source = fuzz_strndup(data, source_len);
  _cleanup_free_ char *name = nul ? fuzz_strndup(nul + 1, size - source_len - 1) : strdup(source);
  if (!name)
    abort();

  lib_error err;
  enum source_kind kind;
  if (source_classify(source, &kind, &err) == 0) {
    if (!source_kind_name(kind))
      abort();
  } else if (err.code != VMPULL_E_USAGE) {
    abort();
  }

  const char *base = path_base_name(source);
  if (base < source || base > source + strlen(source))
    abort();

  static const char *const suffixes[] = {NULL, ".xz", ".zst", ".gz"};
  for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
    _cleanup_free_ char *out = NULL;
    if (naming_output_path("/data", "machine", name, suffixes[i], &out, &err) < 0) {
      if (err.code != VMPULL_E_USAGE)
        abort();
      continue;
    }
    /* "/data/machine_<rest>": nothing after the folder may climb out or go deeper. */
    if (strncmp(out, "/data/machine_", 14) != 0 || strchr(out + 6, '/') || strchr(out + 6, '\\'))
      abort();
    if (image_name_check(name, &err) < 0)
      abort(); /* a name the rule used must also pass the check on its own */
  }
  return 0;
}
