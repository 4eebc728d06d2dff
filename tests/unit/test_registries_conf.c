/* SPDX-License-Identifier: Apache-2.0 */
/* TOML at its C boundary (lib/base/toml_read.cpp) and registries.conf's rules and merge
 * (lib/oci/registries_conf*.c), against containers/image's pkg/sysregistriesv2 behaviour. */
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

#include "base/toml_read.h"
#include "base/util.h"
#include "oci/registries_conf.h"

static int parse(const char *text, int drop_in, struct registries_conf *c, lib_error *err) {
  return registries_conf_parse(text, strlen(text), "/t/registries.conf", drop_in, c, err);
}

static void test_toml_tree_and_positions(void **state) {
  (void)state;
  const char *doc = "a = \"x\"\n[t]\nn = 5\nb = true\nl = [1, \"two\"]\nd = 1979-05-27\n";
  struct toml_value root;
  lib_error err;
  assert_int_equal(toml_read(doc, strlen(doc), "doc", &root, &err), 0);
  const struct toml_value *t = toml_table_get(&root, "t");
  assert_non_null(t);
  assert_int_equal(toml_table_get(t, "n")->integer, 5);
  assert_int_equal(toml_table_get(t, "n")->line, 3);
  assert_true(toml_table_get(t, "b")->boolean);
  assert_int_equal(toml_table_get(t, "l")->n_items, 2);
  assert_string_equal(toml_table_get(t, "l")->items[1].text, "two");
  assert_int_equal(toml_table_get(t, "d")->kind, TOML_DATETIME);
  assert_string_equal(toml_table_get(&root, "a")->text, "x");
  toml_value_clear(&root);
}

static void test_toml_errors_name_line_and_column(void **state) {
  (void)state;
  struct toml_value root;
  lib_error err;
  const char *doc = "a = 1\nb = = 2\n";
  assert_int_equal(toml_read(doc, strlen(doc), "f.conf", &root, &err), -VMPULL_E_CONFIG);
  assert_non_null(strstr(err.message, "f.conf:2:"));
  const char *dup = "a = 1\na = 2\n";
  assert_int_equal(toml_read(dup, strlen(dup), "f.conf", &root, &err), -VMPULL_E_CONFIG);
  /* Keys nested by dots beyond the limit are refused before toml++ recurses into them. */
  char deep[4096] = "[a";
  for (int i = 0; i < 200; i++)
    strcat(deep, ".a");
  strcat(deep, "]\n");
  assert_int_equal(toml_read(deep, strlen(deep), "f.conf", &root, &err), -VMPULL_E_CONFIG);
  assert_non_null(strstr(err.message, "f.conf:1: more than"));
  /* A comment line may have as many dots as it likes. */
  char comment[512] = "# ";
  for (int i = 0; i < 200; i++)
    strcat(comment, ".");
  strcat(comment, "\nx = 1\n");
  assert_int_equal(toml_read(comment, strlen(comment), "f.conf", &root, &err), 0);
  toml_value_clear(&root);
  assert_int_equal(toml_read("x = 1", (size_t)TOML_READ_MAX + 1, "big", &root, &err), -VMPULL_E_LIMIT);
  /* toml++ 3.3 asserts on this date (an abort, or undefined behaviour with NDEBUG): an error here. */
  const char *date = "a = 1979-04-27Tx07:00:00\n";
  assert_int_equal(toml_read(date, strlen(date), "f.conf", &root, &err), -VMPULL_E_CONFIG);
  /* Non-ASCII only in comment lines (toml++ 3.3 reaches TOML_UNREACHABLE on some of it elsewhere). */
  const char *accent = "# caf\xc3\xa9\nb = \"\xce\x89\"\n";
  assert_int_equal(toml_read(accent, strlen(accent), "f.conf", &root, &err), -VMPULL_E_CONFIG);
  assert_non_null(strstr(err.message, "f.conf:2:6: a non-ASCII character"));
  assert_int_equal(toml_read(accent, 8, "f.conf", &root, &err), 0);
  toml_value_clear(&root);
  /* A NUL inside the buffer is an error, not the end of the document. */
  assert_int_equal(toml_read("x = 1\0y", 7, "nul", &root, &err), -VMPULL_E_CONFIG);
}

static void test_registries_rules(void **state) {
  (void)state;
  struct registries_conf c;
  lib_error err;
  assert_int_equal(parse("[[registry]]\nprefix = \"quay.io/podman\"\nlocation = \"cache.example/podman/\"\n"
                         "[[registry.mirror]]\nlocation = \"m.example\"\npull-from-mirror = \"tag-only\"\n"
                         "[[registry]]\nlocation = \"quay.io\"\ninsecure = true\n",
                         0, &c, &err),
                   0);
  assert_int_equal(c.n_registries, 2);
  /* Sorted by prefix; the prefix defaults to the location; trailing '/' dropped. */
  assert_string_equal(c.registries[0].prefix, "quay.io");
  assert_string_equal(c.registries[1].location, "cache.example/podman");
  const struct regconf_registry *r = registries_conf_find(&c, "quay.io/podman/machine-os");
  assert_ptr_equal(r, &c.registries[1]);
  assert_ptr_equal(registries_conf_find(&c, "quay.io/other"), &c.registries[0]);
  assert_null(registries_conf_find(&c, "quay.iox/podman"));
  struct regconf_source *s;
  size_t n;
  assert_int_equal(registries_conf_sources(r, "quay.io/podman/machine-os", 0, &s, &n, &err), 0);
  assert_int_equal(n, 2);
  assert_string_equal(s[0].name, "m.example/machine-os");
  assert_true(s[0].mirror);
  assert_string_equal(s[1].name, "cache.example/podman/machine-os");
  regconf_sources_free(s, n);
  /* tag-only: not for a digest. */
  assert_int_equal(registries_conf_sources(r, "quay.io/podman/machine-os", 1, &s, &n, &err), 0);
  assert_int_equal(n, 1);
  regconf_sources_free(s, n);
  registries_conf_clear(&c);

  /* Wildcards match subdomains only. */
  assert_int_equal(parse("[[registry]]\nprefix = \"*.example.com\"\nblocked = true\n", 0, &c, &err), 0);
  assert_non_null(registries_conf_find(&c, "a.example.com/x"));
  assert_null(registries_conf_find(&c, "example.com/x"));
  registries_conf_clear(&c);
}

static void test_registries_refusals(void **state) {
  (void)state;
  static const char *const bad[] = {
      "[[registry]]\ninsecure = true\n",                                 /* no prefix, no location */
      "[[registry]]\nprefix = \"quay.io\"\n",                            /* location unset */
      "[[registry]]\nlocation = \"https://quay.io\"\n",                  /* a scheme */
      "[[registry]]\nlocation = \"q.io\"\npull-from-mirror = \"all\"\n", /* not a mirror */
      "[[registry]]\nlocation = \"q.io\"\n[[registry.mirror]]\npull-from-mirror = \"all\"\n", /* mirror location */
      "[[registry]]\nlocation = \"q.io\"\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"some\"\n",
      "[[registry]]\nlocation = \"q.io\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "
      "\"m\"\npull-from-mirror = \"all\"\n",
      "[[registry]]\nlocation = \"q.io\"\ninsecure = true\n[[registry]]\nprefix = \"q.io/x\"\nlocation = \"q.io\"\n",
      "[[registry]]\nlocation = \"q.io\"\ninsecure = \"yes\"\n",
      "[[registry]]\nprefix = \"*.example.com/x\"\n",
      "unqualified-search-registries = [\"quay.io/x\"]\n",
      "short-name-mode = \"loose\"\n",
      "[registries.search]\nregistries = [\"quay.io\"]\n[[registry]]\nlocation = \"q.io\"\n", /* v1 and v2 */
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    struct registries_conf c;
    lib_error err;
    int r = parse(bad[i], 0, &c, &err);
    if (r != -VMPULL_E_CONFIG)
      fail_msg("case %zu: %d", i, r);
    assert_non_null(strstr(err.message, "/t/registries.conf"));
  }
}

static void test_v1_and_merge(void **state) {
  (void)state;
  struct registries_conf c, d;
  lib_error err;
  assert_int_equal(parse("[registries.search]\nregistries = [\"quay.io\"]\n[registries.block]\nregistries = "
                         "[\"bad.example\"]\n[registries.insecure]\nregistries = [\"plain.example:5000\"]\n",
                         0, &c, &err),
                   0);
  assert_true(registries_conf_find(&c, "bad.example/x")->blocked);
  assert_true(registries_conf_find(&c, "plain.example:5000/x")->insecure);
  assert_int_equal(c.n_search, 1);
  /* A drop-in in version 1 is refused. */
  assert_int_equal(parse("[registries.search]\nregistries = [\"quay.io\"]\n", 1, &d, &err), -VMPULL_E_CONFIG);
  /* A drop-in replaces a registry of the same prefix, adds others, and replaces the lists it sets. */
  assert_int_equal(parse("unqualified-search-registries = []\ncredential-helpers = [\"pass\"]\n[[registry]]\n"
                         "location = \"bad.example\"\n[[registry]]\nlocation = \"new.example\"\n[aliases]\n"
                         "\"x\" = \"quay.io/x\"\n",
                         1, &d, &err),
                   0);
  assert_int_equal(registries_conf_merge(&c, &d, &err), 0);
  assert_false(registries_conf_find(&c, "bad.example/x")->blocked);
  assert_non_null(registries_conf_find(&c, "new.example/x"));
  assert_int_equal(c.n_search, 0);
  assert_true(c.search_set);
  assert_int_equal(c.n_credential_helpers, 1);
  assert_string_equal(registries_conf_alias(&c, "x")->value, "quay.io/x");
  /* An empty alias in a later file takes it back. */
  assert_int_equal(parse("[aliases]\n\"x\" = \"\"\n", 1, &d, &err), 0);
  assert_int_equal(registries_conf_merge(&c, &d, &err), 0);
  assert_null(registries_conf_alias(&c, "x"));
  registries_conf_clear(&c);
}

/* One [aliases] entry: 0, or the config error whose message holds want. */
static void expect_alias(const char *name, const char *value, const char *want) {
  char text[512];
  snprintf(text, sizeof(text), "[aliases]\n\"%s\" = \"%s\"\n", name, value);
  struct registries_conf c;
  lib_error err = {0};
  int r = parse(text, 0, &c, &err);
  if (!want) {
    assert_int_equal(r, 0);
    registries_conf_clear(&c);
    return;
  }
  assert_int_equal(r, -VMPULL_E_CONFIG);
  assert_non_null(strstr(err.message, "/t/registries.conf:2:"));
  assert_non_null(strstr(err.message, want));
}

/* containers/image's TestValidateShortName and TestParseShortNameValue (shortnames_test.go). */
static void test_alias_entries(void **state) {
  (void)state;
  static const char *const names_ok[] = {"library/fedora", "fedora", "1234567489"};
  static const char *const names_bad[] = {"docker.io/library/fedora:latest",
                                          "docker.io/library/fedora@sha256:"
                                          "b87dd5f837112a9e1e9882963a6406387597698268c0ad371b187151a5dfe6bf",
                                          "fedora:latest",
                                          "library/fedora:latest",
                                          "$$4455%%",
                                          "docker://foo",
                                          "docker-archive://foo",
                                          "",
                                          "quay.io/fedora",
                                          "localhost/fedora",
                                          "Fedora"};
  static const char *const values_ok[] = {"docker.io/library/fedora", "localhost/fedora",
                                          "localhost:5000/fedora",    "localhost:5000/namespace/fedora",
                                          "docker.io/fedora",         ""};
  static const char *const values_bad[] = {"docker.io/library/fedora:latest",
                                           "docker.io/library/fedora@sha256:"
                                           "b87dd5f837112a9e1e9882963a6406387597698268c0ad371b187151a5dfe6bf",
                                           "fedora",
                                           "fedora:latest",
                                           "library/fedora",
                                           "library/fedora:latest",
                                           "$$4455%%",
                                           "docker://foo",
                                           "docker-archive://foo",
                                           "quay.io/Fedora"};
  for (size_t i = 0; i < sizeof(names_ok) / sizeof(*names_ok); i++)
    expect_alias(names_ok[i], "quay.io/x", NULL);
  for (size_t i = 0; i < sizeof(names_bad) / sizeof(*names_bad); i++)
    expect_alias(names_bad[i], "quay.io/x", "invalid short name");
  for (size_t i = 0; i < sizeof(values_ok) / sizeof(*values_ok); i++)
    expect_alias("fedora", values_ok[i], NULL);
  for (size_t i = 0; i < sizeof(values_bad) / sizeof(*values_bad); i++)
    expect_alias("fedora", values_bad[i], "alias \"fedora\": invalid value");
  expect_alias("fedora", "quay.io/fedora:40", "must not contain tag");
  expect_alias("fedora", "fedora", "must contain registry and repository");
  expect_alias("quay.io/fedora", "quay.io/fedora", "invalid short name \"quay.io/fedora\": must not contain registry");
  expect_alias("fedora@sha256:b87dd5f837112a9e1e9882963a6406387597698268c0ad371b187151a5dfe6bf", "quay.io/x",
               "must not contain digest");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_toml_tree_and_positions),
      cmocka_unit_test(test_toml_errors_name_line_and_column),
      cmocka_unit_test(test_registries_rules),
      cmocka_unit_test(test_registries_refusals),
      cmocka_unit_test(test_v1_and_merge),
      cmocka_unit_test(test_alias_entries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
