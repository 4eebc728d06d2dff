/* SPDX-License-Identifier: Apache-2.0 */
/* The TOML boundary (lib/base/toml_read.cpp) and the registries.conf rules over what it reads: any
 * bytes, as a registries.conf or a drop-in could hold them. */
#include "base/toml_read.h"
#include "fuzz_common.h"
#include "oci/registries_conf.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lib_error err;
  struct toml_value root;
  if (toml_read((const char *)data, size, "fuzz.conf", &root, &err) == 0) {
    if (root.kind != TOML_TABLE)
      abort();
    toml_value_clear(&root);
  } else if (err.code != VMPULL_E_CONFIG && err.code != VMPULL_E_LIMIT && err.code != VMPULL_E_IO) {
    abort();
  }
  struct registries_conf c;
  if (registries_conf_parse((const char *)data, size, "fuzz.conf", size & 1, &c, &err) == 0) {
    const struct regconf_registry *r = registries_conf_find(&c, "quay.io/podman/machine-os");
    struct regconf_source *s;
    size_t n;
    if (registries_conf_sources(r, "quay.io/podman/machine-os", size & 2, &s, &n, &err) == 0)
      regconf_sources_free(s, n);
    registries_conf_clear(&c);
  }
  return 0;
}
