/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reference parsing: the input is what follows docker:// (and, in a second pass,
 * oci-dir://). A docker reference that parses must print back to one that parses
 * to the same thing, and every part must be free of control characters.
 */
#include "base/util.h"
#include "fuzz_common.h"
#include "oci/oci_digest.h"
#include "oci/oci_ref.h"

#include <stdlib.h>
#include <string.h>

static void check_printable(const char *s) {
  for (; s && *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      abort();
}

static int same(const char *a, const char *b) {
  return (!a && !b) || (a && b && !strcmp(a, b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  _cleanup_free_ char *ref = fuzz_strndup(data, size);
  lib_error err;

  struct docker_ref d = {0};
  if (docker_ref_parse(ref, &d, &err) == 0) {
    if (!d.registry || !d.api_host || !d.repository || (!d.tag == !d.digest && !d.tag))
      abort();
    if (d.digest && !oci_digest_valid(d.digest))
      abort(); /* a digest reaches a blob path: it must be well formed */
    check_printable(d.registry);
    check_printable(d.repository);
    check_printable(d.tag);
    _cleanup_free_ char *printed = docker_ref_string(&d);
    if (!printed || strncmp(printed, "docker://", 9) != 0)
      abort();
    struct docker_ref again = {0};
    if (docker_ref_parse(printed + 9, &again, &err) < 0)
      abort();
    if (!same(d.registry, again.registry) || !same(d.repository, again.repository) || !same(d.tag, again.tag) ||
        !same(d.digest, again.digest))
      abort();
    docker_ref_clear(&again);
  } else if (err.code <= VMPULL_OK || !err.message[0]) {
    abort();
  }
  docker_ref_clear(&d);

  _cleanup_free_ char *dir_source = xasprintf("oci-dir://%s", ref);
  if (!dir_source)
    abort();
  struct oci_dir_ref o = {0};
  if (oci_dir_ref_parse(dir_source, &o, &err) == 0 && !o.path)
    abort();
  oci_dir_ref_clear(&o);
  return 0;
}
