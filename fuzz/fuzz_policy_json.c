/* SPDX-License-Identifier: Apache-2.0 */
/* policy.json as a file could hold it (lib/oci/policy.c), and the same bytes as a signed payload
 * (lib/oci/policy_match.c): the claims a signature makes are parsed only after a key verified them,
 * but the parser must hold either way. */
#include "fuzz_common.h"
#include "oci/policy.h"
#include "oci/policy_match.h"

#include <stdlib.h>
#include <string.h>

static void check_reqs(const struct policy_reqs *rs) {
  if (rs->n == 0) /* an empty list is refused, never accepted as "nothing required" */
    abort();
  for (size_t i = 0; i < rs->n; i++) {
    const struct policy_req *q = &rs->v[i];
    if ((q->type == POLICY_SIGNED_BY || q->type == POLICY_SIGSTORE_SIGNED) && !q->n_keys && !q->unsupported)
      abort(); /* a signature requirement always names its keys */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lib_error err;
  struct policy p;
  if (policy_parse((const char *)data, size, "fuzz.json", &p, &err) == 0) {
    check_reqs(&p.dflt);
    for (size_t t = 0; t < p.n_transports; t++)
      for (size_t s = 0; s < p.transports[t].n_scopes; s++)
        check_reqs(&p.transports[t].scopes[s].reqs);
    static const char *const ns[] = {"quay.io/podman", "quay.io", "*.io"};
    const char *kind, *scope;
    const struct policy_reqs *rs =
        policy_requirements_for(&p, "docker", "quay.io/podman/machine-os:5.5", ns, 3, &kind, &scope);
    struct docker_name intended;
    if (rs && rs->n && docker_name_parse("quay.io/podman/machine-os:5.5", &intended) == 0) {
      (void)policy_identity_matches(&rs->v[0].identity, &intended, "quay.io/podman/machine-os:5.5");
      (void)policy_identity_matches(&rs->v[0].identity, NULL,
                                    "quay.io/podman/machine-os@sha256:"
                                    "0000000000000000000000000000000000000000000000000000000000000000");
      docker_name_clear(&intended);
    }
    policy_clear(&p);
  } else if (err.code != VMPULL_E_CONFIG && err.code != VMPULL_E_LIMIT && err.code != VMPULL_E_IO) {
    abort();
  }
  for (int sigstore = 0; sigstore < 2; sigstore++) {
    struct sig_claims c;
    if (sig_claims_parse((const char *)data, size, sigstore, &c, &err) == 0) {
      struct docker_name n;
      if (docker_name_parse(c.docker_reference, &n) == 0) {
        char *s = docker_name_string(&n);
        free(s);
        docker_name_clear(&n);
      }
      sig_claims_clear(&c);
    } else if (err.code != VMPULL_E_SIGNATURE && err.code != VMPULL_E_IO) {
      abort();
    }
  }
  return 0;
}
