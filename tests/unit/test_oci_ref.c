/* SPDX-License-Identifier: Apache-2.0 */
/* OCI source references (lib/oci/oci_ref.c): oci-dir://PATH[:REF], docker:// with Docker Hub rules, the default image.
 */
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

#include "base/redact.h"
#include "base/util.h"
#include "oci/oci_digest.h"
#include "oci/oci_ref.h"
#include "oci/oci_settings.h"

#define SHA256_A                                                                                                       \
  "sha256:"                                                                                                            \
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void test_oci_dir(void **state) {
  (void)state;
  static const struct {
    const char *source, *path, *ref;
  } ok[] = {
      {"oci-dir:///srv/layout", "/srv/layout", NULL},
      {"oci-dir://layout:latest", "layout", "latest"},
      {"oci-dir://examples/demo-layout:latest", "examples/demo-layout", "latest"},
      /* Split at the first colon, as skopeo's oci: does: the REF may hold colons. */
      {"oci-dir:///a/b:v1:extra", "/a/b", "v1:extra"},
      {"OCI-DIR://x", "x", NULL},
  };
  for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
    struct oci_dir_ref r;
    lib_error err;
    assert_int_equal(oci_dir_ref_parse(ok[i].source, &r, &err), 0);
    assert_string_equal(r.path, ok[i].path);
    if (ok[i].ref)
      assert_string_equal(r.ref, ok[i].ref);
    else
      assert_null(r.ref);
    oci_dir_ref_clear(&r);
  }
  static const char *const bad[] = {"oci-dir://", "oci-dir://:latest", "oci-dir://layout:", "docker://x"};
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    struct oci_dir_ref r;
    lib_error err;
    assert_int_equal(oci_dir_ref_parse(bad[i], &r, &err), -VMPULL_E_USAGE);
    assert_int_equal(err.code, VMPULL_E_USAGE);
    assert_null(r.path);
  }
}

static void test_docker_ok(void **state) {
  (void)state;
  static const struct {
    const char *ref, *registry, *api, *repo, *tag, *digest, *canonical;
  } cases[] = {
      {"fedora", "docker.io", "registry-1.docker.io", "library/fedora", "latest", NULL,
       "docker://docker.io/library/fedora:latest"},
      {"fedora:40", "docker.io", "registry-1.docker.io", "library/fedora", "40", NULL, NULL},
      {"user/img:v1", "docker.io", "registry-1.docker.io", "user/img", "v1", NULL, NULL},
      {"docker.io/fedora", "docker.io", "registry-1.docker.io", "library/fedora", "latest", NULL, NULL},
      {"index.docker.io/user/img", "docker.io", "registry-1.docker.io", "user/img", "latest", NULL, NULL},
      {"quay.io/podman/machine-os:5.5", "quay.io", "quay.io", "podman/machine-os", "5.5", NULL,
       "docker://quay.io/podman/machine-os:5.5"},
      {"localhost/img", "localhost", "localhost", "img", "latest", NULL, NULL},
      {"localhost:5000/a/b/c:t_1.x-y", "localhost:5000", "localhost:5000", "a/b/c", "t_1.x-y", NULL, NULL},
      {"127.0.0.1:40000/machine-os@" SHA256_A, "127.0.0.1:40000", "127.0.0.1:40000", "machine-os", NULL, SHA256_A,
       "docker://127.0.0.1:40000/machine-os@" SHA256_A},
      /* A tag and a digest: the digest decides. */
      {"quay.io/a/b:5.5@" SHA256_A, "quay.io", "quay.io", "a/b", NULL, SHA256_A, NULL},
      {"[::1]:5000/img:v2", "[::1]:5000", "[::1]:5000", "img", "v2", NULL, NULL},
      {"Registry/img", "Registry", "Registry", "img", "latest", NULL, NULL},
      {"a.b/x__y/z-w/q.r", "a.b", "a.b", "x__y/z-w/q.r", "latest", NULL, NULL},
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    struct docker_ref r;
    lib_error err;
    int ret = docker_ref_parse(cases[i].ref, &r, &err);
    if (ret != 0)
      fail_msg("%s: %s", cases[i].ref, err.message);
    assert_string_equal(r.registry, cases[i].registry);
    assert_string_equal(r.api_host, cases[i].api);
    assert_string_equal(r.repository, cases[i].repo);
    if (cases[i].tag)
      assert_string_equal(r.tag, cases[i].tag);
    else
      assert_null(r.tag);
    if (cases[i].digest)
      assert_string_equal(r.digest, cases[i].digest);
    else
      assert_null(r.digest);
    if (cases[i].canonical) {
      char *s = docker_ref_string(&r);
      assert_string_equal(s, cases[i].canonical);
      free(s);
    }
    docker_ref_clear(&r);
  }
}

static void test_docker_bad(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",
      "Fedora",
      "quay.io/Podman/machine-os",
      "quay.io/podman//machine-os",
      "quay.io/podman/machine-os:",
      "quay.io/podman/machine-os:-bad",
      "quay.io/podman/machine-os@sha256:abc",
      "quay.io/podman/machine-os@sha256:"
      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "quay.io/podman/machine-os@md5:d41d8cd98f00b204e9800998ecf8427e",
      "quay.io/podman/machine-os@sha512:"
      "aaaa",
      "quay.io/a/-b",
      "quay.io/a/b-",
      "quay.io/a/b..c",
      "quay.io/a/b___c",
      "bad_host.io:99x/a",
      "-bad.io/a",
      "quay.io/",
      "quay.io/a b",
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    struct docker_ref r;
    lib_error err;
    int ret = docker_ref_parse(bad[i], &r, &err);
    if (ret != -VMPULL_E_USAGE)
      fail_msg("'%s' was accepted (%d)", bad[i], ret);
    assert_int_equal(err.code, VMPULL_E_USAGE);
    assert_null(r.repository);
  }
}

/* A docker reference has no userinfo: "user:password@" in front is refused, the password never shown. */
static void test_docker_userinfo(void **state) {
  (void)state;
  static const struct {
    const char *ref, *shown;
  } cases[] = {
      {"alice:secret@host:5000/repo:tag", "alice:***@host:5000/repo:tag"},
      {"alice:secret@quay.io", "alice:***@quay.io"},
      {"alice:pa/secret@quay.io/repo", "alice:***@quay.io/repo"},
      {"alice:p@secret@quay.io/repo", "alice:***@quay.io/repo"},
      {"alice:secret@quay.io/repo@" SHA256_A, "alice:***@quay.io/repo@" SHA256_A},
      {"alice@quay.io/repo", "alice@quay.io/repo"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    struct docker_ref r;
    lib_error err;
    if (docker_ref_parse(cases[i].ref, &r, &err) != -VMPULL_E_USAGE)
      fail_msg("'%s' was not refused", cases[i].ref);
    assert_null(strstr(err.message, "secret"));
    assert_non_null(strstr(err.message, cases[i].shown));
    assert_non_null(strstr(err.message, "no user:password@"));
    _cleanup_free_ char *shown = docker_ref_redact(cases[i].ref);
    assert_string_equal(shown, cases[i].shown);
  }
  /* An '@' that introduces a digest is no userinfo, and a bad digest keeps its message (and port). */
  static const char *const kept[] = {"quay.io/x:tag@" SHA256_A, "fedora@" SHA256_A, "quay.io:5000/x@sha256:bad"};
  for (size_t i = 0; i < ARRAY_SIZE(kept); i++) {
    _cleanup_free_ char *shown = docker_ref_redact(kept[i]);
    assert_string_equal(shown, kept[i]);
  }
  struct docker_ref r;
  lib_error err;
  assert_int_equal(docker_ref_parse("quay.io:5000/x@sha256:bad", &r, &err), -VMPULL_E_USAGE);
  assert_non_null(strstr(err.message, "digest 'sha256:bad' is not"));
  /* The redaction of messages everywhere (redact_source) knows the same rule. */
  _cleanup_free_ char *a = redact_source("docker://alice:pa/secret@quay.io/repo");
  assert_string_equal(a, "docker://alice:***@quay.io/repo");
  _cleanup_free_ char *b = redact_source("docker://fedora:tag@" SHA256_A);
  assert_string_equal(b, "docker://fedora:tag@" SHA256_A);
}

/* The source and default-image fields a docker:// reference is read from. */
struct default_ref_options {
  const char *source, *os_version, *default_image;
};

static int ref_for_source(const struct default_ref_options *o, struct docker_ref *r, lib_error *err) {
  struct oci_default_image d = {.image = o->default_image, .os_version = o->os_version};
  return docker_ref_for_source(o->source, &d, r, err);
}

static void test_docker_default(void **state) {
  (void)state;
  struct default_ref_options o = {0};
  struct docker_ref r;
  lib_error err;

  o.source = "docker://";
  assert_int_equal(ref_for_source(&o, &r, &err), 0);
  assert_string_equal(r.registry, "quay.io");
  assert_string_equal(r.repository, "podman/machine-os");
  assert_string_equal(r.tag, OCI_DEFAULT_OS_VERSION);
  docker_ref_clear(&r);

  o.os_version = "6.1";
  assert_int_equal(ref_for_source(&o, &r, &err), 0);
  assert_string_equal(r.tag, "6.1");
  docker_ref_clear(&r);

  static const char *const bad_versions[] = {"6", "6.", ".1", "6.1.2", "latest", "6.1;rm"};
  for (size_t i = 0; i < ARRAY_SIZE(bad_versions); i++) {
    o.os_version = bad_versions[i];
    assert_int_equal(ref_for_source(&o, &r, &err), -VMPULL_E_USAGE);
    assert_non_null(strstr(err.message, "--os-version"));
  }

  /* The default image replaces the whole reference, with or without docker://. */
  o.os_version = "6.1";
  o.default_image = "docker://127.0.0.1:5000/machine-os:test";
  assert_int_equal(ref_for_source(&o, &r, &err), 0);
  assert_string_equal(r.registry, "127.0.0.1:5000");
  assert_string_equal(r.tag, "test");
  docker_ref_clear(&r);
  o.default_image = "127.0.0.1:5000/machine-os:t2";
  assert_int_equal(ref_for_source(&o, &r, &err), 0);
  assert_string_equal(r.tag, "t2");
  docker_ref_clear(&r);
  o.default_image = "quay.io/UPPER/case";
  assert_int_equal(ref_for_source(&o, &r, &err), -VMPULL_E_USAGE);
  assert_non_null(strstr(err.message, "default image"));

  /* Anything after docker:// wins over the default. */
  o.source = "docker://quay.io/x/y:z";
  assert_int_equal(ref_for_source(&o, &r, &err), 0);
  assert_string_equal(r.repository, "x/y");
  docker_ref_clear(&r);
}

static void test_digest_syntax(void **state) {
  (void)state;
  assert_true(oci_digest_valid(SHA256_A));
  char sha512[200];
  snprintf(sha512, sizeof(sha512), "sha512:%0128d", 0);
  assert_true(oci_digest_valid(sha512));
  sha512[20] = 'A';
  assert_false(oci_digest_valid(sha512));
  assert_false(oci_digest_valid("sha256:"));
  assert_false(oci_digest_valid(SHA256_A "a"));
  assert_false(oci_digest_valid("sha384:aaaa"));
  assert_false(oci_digest_valid(NULL));

  char out[OCI_DIGEST_MAX];
  lib_error err;
  assert_int_equal(oci_digest_buffer("sha256:", "abc", 3, out, &err), 0);
  assert_string_equal(out, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert_int_equal(oci_digest_buffer("sha512:", "abc", 3, out, &err), 0);
  assert_string_equal(out, "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                           "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  assert_int_equal(oci_digest_verify(SHA256_A, "abc", 3, "blob x", &err), -VMPULL_E_DIGEST);
  assert_non_null(strstr(err.message, "blob x: digest mismatch: expected " SHA256_A ", got sha256:ba78"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_oci_dir),        cmocka_unit_test(test_docker_ok),
      cmocka_unit_test(test_docker_bad),     cmocka_unit_test(test_docker_userinfo),
      cmocka_unit_test(test_docker_default), cmocka_unit_test(test_digest_syntax),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
