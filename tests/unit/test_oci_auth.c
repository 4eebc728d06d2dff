/* SPDX-License-Identifier: Apache-2.0 */
/* Registry auth parsing (lib/oci/oci_auth.c): WWW-Authenticate challenges, auth files, helper and token answers. */
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
#include "oci/oci_challenge.h"
#include "oci/oci_creds.h"
#include "oci/oci_settings.h"

static void test_challenges(void **state) {
  (void)state;
  static const struct {
    const char *header;
    enum oci_auth_scheme scheme;
    const char *realm, *service, *scope;
  } ok[] = {
      {"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/"
       "fedora:pull\"",
       OCI_AUTH_BEARER, "https://auth.docker.io/token", "registry.docker.io", "repository:library/fedora:pull"},
      {"bearer  realm = \"https://q/t\" , service=quay.io", OCI_AUTH_BEARER, "https://q/t", "quay.io", NULL},
      {"Basic realm=\"Registry Realm\"", OCI_AUTH_BASIC, "Registry Realm", NULL, NULL},
      {"BASIC realm=x", OCI_AUTH_BASIC, "x", NULL, NULL},
      /* Several challenges: Bearer is preferred wherever it is. */
      {"Basic realm=\"b\", Bearer realm=\"https://t/\",service=\"s\"", OCI_AUTH_BEARER, "https://t/", "s", NULL},
      {"Negotiate, Basic realm=\"b\"", OCI_AUTH_BASIC, "b", NULL, NULL},
      {"Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", Basic realm=\"simple\"", OCI_AUTH_BASIC,
       "simple", NULL, NULL},
      /* Escapes in quoted strings; unknown parameters ignored. */
      {"Bearer realm=\"https://t/?a=\\\"b\\\"\",error=\"invalid_token\"", OCI_AUTH_BEARER, "https://t/?a=\"b\"", NULL,
       NULL},
      {"Bearer realm=\"https://a/\",scope=\"repository:a:pull,push\"", OCI_AUTH_BEARER, "https://a/", NULL,
       "repository:a:pull,push"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
    struct oci_challenge c;
    lib_error err;
    if (oci_challenge_parse(ok[i].header, &c, &err) != 0)
      fail_msg("%s: %s", ok[i].header, err.message);
    assert_int_equal(c.scheme, ok[i].scheme);
    assert_string_equal(c.realm, ok[i].realm);
    if (ok[i].service)
      assert_string_equal(c.service, ok[i].service);
    else
      assert_null(c.service);
    if (ok[i].scope)
      assert_string_equal(c.scope, ok[i].scope);
    else
      assert_null(c.scope);
    oci_challenge_clear(&c);
  }
  static const char *const bad[] = {
      NULL,
      "",
      "Negotiate",
      "Digest realm=\"x\", nonce=\"y\"",
      "Bearer service=\"s\"",
      "Bearer realm=\"unterminated",
      "Basic realm=\"x\" \"junk\"",
      "=\"x\"",
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    struct oci_challenge c;
    lib_error err;
    if (oci_challenge_parse(bad[i], &c, &err) != -VMPULL_E_AUTH)
      fail_msg("'%s' was accepted", bad[i] ? bad[i] : "(null)");
    assert_null(c.realm);
  }
  /* fuzz/seeds/oci_challenge/crash-double-free-basic-then-malformed: a Basic challenge, then a
   * malformed one, freed the realm twice. Whatever the verdict, ASan and valgrind must stay quiet. */
  struct oci_challenge c;
  lib_error err;
  if (oci_challenge_parse("Nego|iat;, Basic realm=en\", \xff\xff\xff\xffted\x87\xd3\xdf\xbd\xdb"
                          "ar\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                          "127\xde\x8c"
                          "cope=\"a:b:pull,puspull,pu\xd3\xdf\xbd"
                          "earer re, Basic realm= wo2d\"",
                          &c, &err) == 0)
    oci_challenge_clear(&c);
}

/* base64("user:pa:ss") and base64("other:wrong") */
#define AUTH_GOOD "dXNlcjpwYTpzcw=="
#define AUTH_OTHER "b3RoZXI6d3Jvbmc="

static int lookup(const char *json, const char *registry, const char *repo, struct oci_auth_lookup *l, lib_error *err) {
  return oci_auth_file_lookup(json, strlen(json), registry, repo, l, err);
}

static void test_auth_files(void **state) {
  (void)state;
  struct oci_auth_lookup l;
  lib_error err;

  /* The most specific key wins, wherever it is in the file. */
  const char *specific = "{\"auths\":{\"quay.io\":{\"auth\":\"" AUTH_OTHER "\"},"
                         "\"quay.io/podman/machine-os\":{\"auth\":\"" AUTH_GOOD "\"},"
                         "\"quay.io/podman\":{\"auth\":\"" AUTH_OTHER "\"}}}";
  assert_int_equal(lookup(specific, "quay.io", "podman/machine-os", &l, &err), 1);
  assert_string_equal(l.creds.user, "user");
  assert_string_equal(l.creds.password, "pa:ss");
  oci_auth_lookup_clear(&l);
  assert_int_equal(lookup(specific, "quay.io", "podman/other", &l, &err), 1);
  assert_string_equal(l.creds.user, "other"); /* quay.io/podman */
  oci_auth_lookup_clear(&l);
  assert_int_equal(lookup(specific, "quay.io", "elsewhere/x", &l, &err), 1);
  assert_string_equal(l.creds.user, "other"); /* quay.io */
  oci_auth_lookup_clear(&l);
  assert_int_equal(lookup(specific, "quay.io.evil.example", "podman/machine-os", &l, &err), 0);
  assert_int_equal(lookup(specific, "localhost:5000", "a", &l, &err), 0);

  /* Docker's legacy keys. */
  const char *legacy = "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"" AUTH_GOOD "\"},"
                       "\"http://localhost:5000\":{\"auth\":\"" AUTH_OTHER "\"}}}";
  assert_int_equal(lookup(legacy, "docker.io", "library/fedora", &l, &err), 1);
  assert_string_equal(l.creds.user, "user");
  oci_auth_lookup_clear(&l);
  assert_int_equal(lookup(legacy, "localhost:5000", "a/b", &l, &err), 1);
  assert_string_equal(l.creds.user, "other");
  oci_auth_lookup_clear(&l);

  /* credHelpers first, then auths, then credsStore. */
  const char *helpers =
      "{\"credHelpers\":{\"quay.io\":\"pass\"},\"credsStore\":\"desktop\","
      "\"auths\":{\"quay.io\":{\"auth\":\"" AUTH_GOOD "\"},\"ghcr.io\":{\"auth\":\"" AUTH_GOOD "\"}}}";
  assert_int_equal(lookup(helpers, "quay.io", "a/b", &l, &err), 1);
  assert_string_equal(l.helper, "pass");
  assert_null(l.creds.user);
  oci_auth_lookup_clear(&l);
  assert_int_equal(lookup(helpers, "ghcr.io", "a/b", &l, &err), 1);
  assert_string_equal(l.creds.user, "user");
  oci_auth_lookup_clear(&l);
  assert_int_equal(lookup(helpers, "docker.io", "library/x", &l, &err), 1);
  assert_string_equal(l.helper, "desktop");
  oci_auth_lookup_clear(&l);

  /* Entries without auth are skipped for a less specific one. */
  const char *empty = "{\"auths\":{\"quay.io/a\":{},\"quay.io\":{\"auth\":\"" AUTH_GOOD "\"}}}";
  assert_int_equal(lookup(empty, "quay.io", "a/b", &l, &err), 1);
  assert_string_equal(l.creds.user, "user");
  oci_auth_lookup_clear(&l);
  assert_int_equal(lookup("{}", "quay.io", "a/b", &l, &err), 0);
  assert_int_equal(lookup("{\"auths\":[]}", "quay.io", "a/b", &l, &err), 0);

  /* Malformed: an error that never quotes the content. */
  static const char *const bad[] = {
      "",
      "[]",
      "{\"auths\":",
      "{\"auths\":{\"quay.io\":{\"auth\":\"bm9jb2xvbg==\"}}}" /* "nocolon" */,
      "{\"auths\":{\"quay.io\":{\"auth\":\"!!!!s3cr3t\"}}}",
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    assert_int_equal(lookup(bad[i], "quay.io", "a/b", &l, &err), -VMPULL_E_AUTH);
    assert_null(strstr(err.message, "s3cr3t"));
    assert_null(strstr(err.message, "bm9jb2xvbg"));
  }
}

static void test_answers(void **state) {
  (void)state;
  struct oci_creds c;
  lib_error err;
  const char *answer = "{\"ServerURL\":\"quay.io\",\"Username\":\"u\",\"Secret\":\"s3cr3t\"}";
  assert_int_equal(oci_helper_answer_parse(answer, strlen(answer), &c, &err), 0);
  assert_string_equal(c.user, "u");
  assert_string_equal(c.password, "s3cr3t");
  char *basic = oci_basic_authorization(&c);
  assert_string_equal(basic, "Basic dTpzM2NyM3Q=");
  free_secret(basic);
  oci_creds_clear(&c);
  const char *token_user = "{\"Username\":\"<token>\",\"Secret\":\"s3cr3t\"}";
  assert_int_equal(oci_helper_answer_parse(token_user, strlen(token_user), &c, &err), -VMPULL_E_AUTH);
  assert_int_equal(oci_helper_answer_parse("nope", 4, &c, &err), -VMPULL_E_AUTH);

  char *token = NULL;
  const char *t1 = "{\"token\":\"abc.def.ghi\",\"expires_in\":300}";
  assert_int_equal(oci_token_parse(t1, strlen(t1), &token, &err), 0);
  assert_string_equal(token, "abc.def.ghi");
  free(token);
  const char *t2 = "{\"access_token\":\"xyz\"}";
  assert_int_equal(oci_token_parse(t2, strlen(t2), &token, &err), 0);
  assert_string_equal(token, "xyz");
  free(token);
  const char *t3 = "{\"token\":\"a\\r\\nX-Injected: 1\"}";
  assert_int_equal(oci_token_parse(t3, strlen(t3), &token, &err), -VMPULL_E_AUTH);
  assert_int_equal(oci_token_parse("{}", 2, &token, &err), -VMPULL_E_AUTH);
}

static void test_creds_option(void **state) {
  (void)state;
  struct registry_auth o = {0};
  struct oci_creds c;
  lib_error err;
  o.creds = "me:pass:with:colons";
  assert_int_equal(oci_creds_find(&o, "quay.io", "a/b", &c, &err), 1);
  assert_string_equal(c.user, "me");
  assert_string_equal(c.password, "pass:with:colons");
  assert_string_equal(c.origin, "--creds");
  oci_creds_clear(&c);
  o.creds = ":nouser";
  assert_int_equal(oci_creds_find(&o, "quay.io", "a/b", &c, &err), -VMPULL_E_USAGE);
  assert_null(strstr(err.message, "nouser"));
  o.creds = NULL;
  o.authfile = "/nonexistent/auth.json";
  assert_int_equal(oci_creds_find(&o, "quay.io", "a/b", &c, &err), -VMPULL_E_NOT_FOUND);
  assert_non_null(strstr(err.message, "/nonexistent/auth.json"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_challenges),
      cmocka_unit_test(test_auth_files),
      cmocka_unit_test(test_answers),
      cmocka_unit_test(test_creds_option),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
