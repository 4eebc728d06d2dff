/* SPDX-License-Identifier: Apache-2.0 */
/* A registries.d *.yaml file (lib/oci/registries_d.c) through libyaml: any bytes, twice into one
 * configuration (the second time every scope it defines is a duplicate). */
#include "fuzz_common.h"
#include "oci/registries_d.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lib_error err;
  struct registries_d c = {0};
  int r = registries_d_parse((const char *)data, size, "a.yaml", &c, &err);
  if (r < 0 && err.code != VMPULL_E_CONFIG && err.code != VMPULL_E_LIMIT)
    abort();
  if (r == 0) {
    static const char *const ns[] = {"quay.io/podman", "quay.io", "*.io"};
    (void)registries_d_lookaside(&c, "quay.io/podman/machine-os:5.5", ns, 3);
    (void)registries_d_use_sigstore(&c, "quay.io/podman/machine-os:5.5", ns, 3);
    size_t before = c.n_scopes;
    r = registries_d_parse((const char *)data, size, "b.yaml", &c, &err);
    if (r == 0 && c.n_scopes != before * 2)
      abort();
    if (r == 0 && before != 0)
      abort(); /* the same scopes twice must be refused */
  }
  registries_d_clear(&c);
  return 0;
}
