/* SPDX-License-Identifier: Apache-2.0 */
/* Fedora CoreOS stream metadata: pick the disk for each provider and architecture. */
#include "base/util.h"
#include "fuzz_common.h"
#include "oci/oci_digest.h"
#include "resolve/fcos_stream.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const combos[][2] = {
      {"x86_64", "qemu"}, {"aarch64", "applehv"}, {"x86_64", "hyperv"}, {"aarch64", "libkrun"}};
  for (size_t i = 0; i < ARRAY_SIZE(combos); i++) {
    lib_error err;
    struct fcos_artifact a;
    if (fcos_stream_select((const char *)data, size, combos[i][0], combos[i][1], &a, &err) == 0) {
      if (!a.location || !a.sha256 || !oci_digest_valid(a.sha256))
        abort();
      if (strncasecmp(a.location, "https://", 8) != 0 && strncasecmp(a.location, "http://", 7) != 0)
        abort(); /* the stream must not send vmpull to file:// or anywhere else */
    } else if (err.code <= VMPULL_OK || !err.message[0]) {
      abort();
    }
    fcos_artifact_clear(&a);
  }
  return 0;
}
