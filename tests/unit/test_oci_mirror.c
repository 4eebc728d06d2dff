/* SPDX-License-Identifier: Apache-2.0 */
/* Registry mirrors (lib/oci/oci_mirror.c): which endpoints a docker:// reference is fetched from, in order. */
/* clang-format off */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
/* clang-format on */

#include "base/util.h"
#include "oci/oci_mirror.h"
#include "oci/oci_ref.h"
#include "oci/oci_settings.h"

#define SHA256_A                                                                                                       \
  "sha256:"                                                                                                            \
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* The endpoint names for ref under the given mirror options, joined with " | " (mirrors as "name (mirror)"). */
static char *endpoints(const char *ref, const char *const *specs, size_t n, int by_digest_only, int offline,
                       int *code) {
  struct oci_settings o = {0};
  o.mirrors = specs;
  o.n_mirrors = n;
  o.mirror_by_digest_only = by_digest_only;
  o.offline = offline;
  struct docker_ref r;
  lib_error err;
  assert_int_equal(docker_ref_parse(ref, &r, &err), 0);
  struct oci_endpoint *e = NULL;
  size_t count = 0;
  *code = -oci_mirror_endpoints(&o, &r, &e, &count, &err);
  docker_ref_clear(&r);
  if (*code)
    return NULL;
  char *out = strdup("");
  for (size_t i = 0; i < count; i++) {
    char *next = xasprintf("%s%s%s%s%s%s", out, i ? " | " : "", e[i].name, e[i].mirror ? " (" : "",
                           e[i].mirror ? e[i].mirror : "", e[i].mirror ? ")" : "");
    free(out);
    out = next;
  }
  oci_endpoints_free(e, count);
  return out;
}

static void expect(const char *ref, const char *const *specs, size_t n, int by_digest_only, const char *want) {
  int code = 0;
  char *got = endpoints(ref, specs, n, by_digest_only, 0, &code);
  assert_int_equal(code, 0);
  assert_string_equal(got, want);
  free(got);
}

static void test_mirrors_in_order_then_the_registry(void **state) {
  (void)state;
  const char *const specs[] = {"quay.io=cache.example:5000", "docker.io=hub.example", "quay.io=backup.example/quay/"};
  expect("quay.io/podman/machine-os:5.5", specs, 3, 0,
         "cache.example:5000/podman/machine-os (cache.example:5000) | "
         "backup.example/quay/podman/machine-os (backup.example/quay) | quay.io/podman/machine-os");
  /* Docker Hub: docker.io is what references say; library/ is part of the path */
  expect("fedora", specs, 3, 0, "hub.example/library/fedora (hub.example) | docker.io/library/fedora");
  /* no mirror for this registry */
  expect("registry.lab:5000/os:1", specs, 3, 0, "registry.lab:5000/os");
  /* a registry name is not a prefix of another one */
  expect("quay.io.evil.example/os:1", specs, 3, 0, "quay.io.evil.example/os");
}

static void test_namespaced_keys_and_hub_aliases(void **state) {
  (void)state;
  const char *const specs[] = {"quay.io/podman=cache.example/pm", "registry-1.docker.io=hub.example:5000",
                               "index.docker.io/library=lib.example"};
  expect("quay.io/podman/machine-os:5.5", specs, 3, 0,
         "cache.example/pm/machine-os (cache.example/pm) | quay.io/podman/machine-os");
  expect("quay.io/podmanx/os:1", specs, 3, 0, "quay.io/podmanx/os");
  expect("quay.io/other/os:1", specs, 3, 0, "quay.io/other/os");
  expect("busybox", specs, 3, 0,
         "hub.example:5000/library/busybox (hub.example:5000) | lib.example/busybox (lib.example) | "
         "docker.io/library/busybox");
}

static void test_by_digest_only_and_offline(void **state) {
  (void)state;
  const char *const specs[] = {"quay.io=cache.example:5000"};
  expect("quay.io/podman/machine-os:5.5", specs, 1, 1, "quay.io/podman/machine-os");
  expect("quay.io/podman/machine-os@" SHA256_A, specs, 1, 1,
         "cache.example:5000/podman/machine-os (cache.example:5000) | quay.io/podman/machine-os");
  int code = 0;
  char *got = endpoints("quay.io/podman/machine-os:5.5", specs, 1, 0, 1, &code);
  assert_string_equal(got, "quay.io/podman/machine-os"); /* --offline: the cache knows the registry's names */
  free(got);
}

static void test_bad_specs(void **state) {
  (void)state;
  static const char *const bad[] = {
      "quay.io",                       /* no = */
      "=cache.example",                /* no registry */
      "quay.io=",                      /* no mirror */
      "quay.io=https://cache.example", /* a scheme */
      "quay.io=cache.example=x",       /* two = */
      "quay.io=cache example",         /* whitespace */
      "quay.io=user@cache.example",    /* credentials have no place here */
      "quay.io=cache",                 /* not a registry host: would mean docker.io/cache/... */
      "quay.io=cache.example/Upper",   /* not a repository path */
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    const char *specs[] = {bad[i]};
    int code = 0;
    char *got = endpoints("quay.io/podman/machine-os:5.5", specs, 1, 0, 0, &code);
    if (code != VMPULL_E_USAGE)
      fail_msg("'%s' accepted: %s", bad[i], got ? got : "(error)");
    free(got);
  }
  /* a bad spec is an error even when the reference has nothing to do with it */
  const char *specs[] = {"quay.io=cache.example", "docker.io"};
  int code = 0;
  assert_null(endpoints("registry.lab/os:1", specs, 2, 0, 0, &code));
  assert_int_equal(code, VMPULL_E_USAGE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mirrors_in_order_then_the_registry),
      cmocka_unit_test(test_namespaced_keys_and_hub_aliases),
      cmocka_unit_test(test_by_digest_only_and_offline),
      cmocka_unit_test(test_bad_specs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
