/* SPDX-License-Identifier: Apache-2.0 */
/* Source classification, image file names and the output naming rule (lib/resolve/resolve.c). */
/* cmocka.h needs these headers before it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */
#include "base/util.h"
#include "resolve/resolve.h"

#include <stdio.h>

static void test_classify_table(void **state) {
  (void)state;
  static const struct {
    const char *source;
    enum source_kind kind;
  } cases[] = {
      /* Local paths: anything without a known "scheme://". */
      {"disk.qcow2.xz", SOURCE_FILE},
      {"./disk.raw", SOURCE_FILE},
      {"/var/lib/images/fedora.qcow2", SOURCE_FILE},
      {"C:\\img.vhdx", SOURCE_FILE},
      {"c:\\Users\\me\\img.vhdx", SOURCE_FILE},
      {"C:/img.vhdx", SOURCE_FILE},
      {"name:with:colons.raw", SOURCE_FILE},
      {"image:latest", SOURCE_FILE},
      {"host:/path/disk.img", SOURCE_FILE},
      {"2024-01-01T00:00:00.raw", SOURCE_FILE},
      /* file: lookalikes are names, file:// is explicit. */
      {"file:disk.img", SOURCE_FILE},
      {"file:/disk.img", SOURCE_FILE},
      {"file://disk.img", SOURCE_FILE},
      {"FILE:///tmp/disk.img", SOURCE_FILE},
      {"http:disk.img", SOURCE_FILE},
      {"http:/disk.img", SOURCE_FILE},
      {"dockerfile:image", SOURCE_FILE},
      {"OCI:layout", SOURCE_FILE},
      {"Dir:x", SOURCE_FILE},
      {"./http://not-a-url", SOURCE_FILE},
      {"-", SOURCE_FILE},
      /* Remote kinds, case-insensitive schemes. */
      {"http://example.com/disk.xz", SOURCE_HTTP},
      {"https://example.com/disk.xz", SOURCE_HTTP},
      {"HTTPS://EXAMPLE.COM/disk.xz", SOURCE_HTTP},
      {"https://user:pass@example.com/disk.xz", SOURCE_HTTP},
      {"oci-dir:///srv/layout", SOURCE_OCI_DIR},
      {"oci-dir://layout:tag", SOURCE_OCI_DIR},
      {"docker://quay.io/podman/machine-os:5.0", SOURCE_DOCKER},
      {"Docker://quay.io/podman/machine-os:5.0", SOURCE_DOCKER},
      /* skopeo's spellings of the layouts vmpull reads. */
      {"oci:/srv/layout", SOURCE_OCI_DIR},
      {"oci:layout:tag", SOURCE_OCI_DIR},
      {"oci-archive:/srv/layout.tar:tag", SOURCE_OCI_ARCHIVE},
      {"oci-archive:layout.tar", SOURCE_OCI_ARCHIVE},
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    enum source_kind kind = (enum source_kind) - 1;
    lib_error err = {0};
    int r = source_classify(cases[i].source, &kind, &err);
    if (r != 0)
      fail_msg("%s: unexpected error %d: %s", cases[i].source, r, err.message);
    if (kind != cases[i].kind)
      fail_msg("%s: kind %d, expected %d", cases[i].source, kind, cases[i].kind);
  }
}

static void test_classify_unknown_scheme(void **state) {
  (void)state;
  static const char *const bad[] = {"ftp://example.com/disk.xz", "files://disk.img", "s3://bucket/disk.raw",
                                    "git+ssh://host/repo",       "oci://x",          "sftp://h/x"};
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    enum source_kind kind;
    lib_error err = {0};
    int r = source_classify(bad[i], &kind, &err);
    if (r != -VMPULL_E_USAGE)
      fail_msg("%s: returned %d, expected usage error", bad[i], r);
    assert_int_equal(err.code, VMPULL_E_USAGE);
    /* The message names the scheme the user typed. */
    size_t scheme_len = (size_t)(strstr(bad[i], "://") - bad[i]) + 3;
    if (strncmp(err.message, bad[i], scheme_len) != 0)
      fail_msg("%s: message does not start with the scheme: %s", bad[i], err.message);
    assert_non_null(strstr(err.message, "unsupported source scheme"));
  }
}

/* containers transports vmpull does not read: refused, naming what it reads and the ./ way to a file. */
static void test_classify_foreign_transport(void **state) {
  (void)state;
  static const char *const bad[] = {"dir:/tmp/x",       "containers-storage:fedora", "docker-archive:x.tar",
                                    "docker:quay.io/x", "docker-daemon:x:1",         "tarball:x.tar"};
  static const char *const read[] = {"file://",        "http://",   "https://", "oci-dir://",
                                     "oci-archive://", "docker://", "fcos://",  "oci:"};
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    enum source_kind kind;
    lib_error err = {0};
    if (source_classify(bad[i], &kind, &err) != -VMPULL_E_USAGE)
      fail_msg("%s: not refused", bad[i]);
    assert_non_null(strstr(err.message, "is a containers transport vmpull does not read"));
    for (size_t j = 0; j < ARRAY_SIZE(read); j++)
      if (!strstr(err.message, read[j]))
        fail_msg("%s: %s not listed: %s", bad[i], read[j], err.message);
    char dotted[64];
    snprintf(dotted, sizeof(dotted), "./%s", bad[i]);
    assert_non_null(strstr(err.message, dotted));
  }
  /* an unknown scheme:// lists them too */
  enum source_kind kind;
  lib_error err = {0};
  assert_int_equal(source_classify("ftp://x/y", &kind, &err), -VMPULL_E_USAGE);
  for (size_t j = 0; j < ARRAY_SIZE(read); j++)
    assert_non_null(strstr(err.message, read[j]));
}

static void test_classify_empty(void **state) {
  (void)state;
  enum source_kind kind;
  lib_error err = {0};
  assert_int_equal(source_classify("", &kind, &err), -VMPULL_E_USAGE);
  assert_int_equal(err.code, VMPULL_E_USAGE);
  assert_int_equal(source_classify(NULL, &kind, &err), -VMPULL_E_USAGE);
}

static void test_kind_names(void **state) {
  (void)state;
  assert_string_equal(source_kind_name(SOURCE_FILE), "file");
  assert_string_equal(source_kind_name(SOURCE_OCI_DIR), "oci-dir");
  assert_string_equal(source_kind_name(SOURCE_DOCKER), "docker");
}

static void test_path_base_name(void **state) {
  (void)state;
  assert_string_equal(path_base_name("disk.raw"), "disk.raw");
  assert_string_equal(path_base_name("/a/b/disk.raw"), "disk.raw");
  assert_string_equal(path_base_name("C:\\images\\img.vhdx"), "img.vhdx");
  assert_string_equal(path_base_name("C:\\img.vhdx"), "img.vhdx");
  assert_string_equal(path_base_name("dir/name:with:colons.xz"), "name:with:colons.xz");
  /* A trailing separator does not make the name empty. */
  assert_string_equal(path_base_name("a/b/"), "b/");
}

static void test_image_name_check(void **state) {
  (void)state;
  static const char *const good[] = {"disk.raw", "fedora-coreos-40.qcow2.xz", "name:with:colons", ".hidden", "a b"};
  static const char *const bad[] = {"", ".", "..", "/", "a/b", "a\\b", "tab\there", "nl\nhere", "del\x7f"};
  for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
    lib_error err = {0};
    if (image_name_check(good[i], &err) != 0)
      fail_msg("'%s' rejected: %s", good[i], err.message);
  }
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    lib_error err = {0};
    if (image_name_check(bad[i], &err) != -VMPULL_E_USAGE)
      fail_msg("'%s' accepted", bad[i]);
    assert_int_equal(err.code, VMPULL_E_USAGE);
  }
  lib_error err = {0};
  assert_int_equal(image_name_check(NULL, &err), -VMPULL_E_USAGE);
}

static void expect_name(const char *dir, const char *machine, const char *image, const char *suffix, const char *want) {
  char *out = NULL;
  lib_error err = {0};
  int r = naming_output_path(dir, machine, image, suffix, &out, &err);
  if (r != 0)
    fail_msg("%s + %s: %s", image, suffix ? suffix : "(none)", err.message);
  if (strcmp(out, want) != 0)
    fail_msg("%s + %s: got %s, expected %s", image, suffix ? suffix : "(none)", out, want);
  free(out);
}

static void test_naming_rule(void **state) {
  (void)state;
  const char *d = "/data/qemu";
  const char *m = "podman-machine-default";
  /* The suffix of the detected format is removed... */
  expect_name(d, m, "fedora.qcow2.xz", ".xz", "/data/qemu/podman-machine-default_fedora.qcow2");
  expect_name(d, m, "disk.raw.gz", ".gz", "/data/qemu/podman-machine-default_disk.raw");
  expect_name(d, m, "disk.raw.zst", ".zst", "/data/qemu/podman-machine-default_disk.raw");
  expect_name(d, m, "disk.raw.bz2", ".bz2", "/data/qemu/podman-machine-default_disk.raw");
  expect_name(d, m, "disk.vhdx.zip", ".zip", "/data/qemu/podman-machine-default_disk.vhdx");
  expect_name(d, m, "disk.raw.lzma", ".lzma", "/data/qemu/podman-machine-default_disk.raw");
  expect_name(d, m, "disk.raw.lz", ".lz", "/data/qemu/podman-machine-default_disk.raw");
  /* ...compared case-insensitively... */
  expect_name(d, m, "DISK.RAW.XZ", ".xz", "/data/qemu/podman-machine-default_DISK.RAW");
  expect_name(d, m, "disk.raw.Zst", ".zst", "/data/qemu/podman-machine-default_disk.raw");
  /* ...and only that one: another format's suffix, or none, stays. */
  expect_name(d, m, "disk.raw.gz", ".xz", "/data/qemu/podman-machine-default_disk.raw.gz");
  expect_name(d, m, "disk.raw.xz", NULL, "/data/qemu/podman-machine-default_disk.raw.xz");
  expect_name(d, m, "disk.qcow2", NULL, "/data/qemu/podman-machine-default_disk.qcow2");
  /* Only at the end, and only once. */
  expect_name(d, m, "disk.xz.raw", ".xz", "/data/qemu/podman-machine-default_disk.xz.raw");
  expect_name(d, m, "disk.xz.xz", ".xz", "/data/qemu/podman-machine-default_disk.xz");
  /* A name that is only the suffix keeps it rather than becoming empty. */
  expect_name(d, m, ".xz", ".xz", "/data/qemu/podman-machine-default_.xz");
  /* Machine name and data dir with a trailing slash. */
  expect_name("/data/qemu/", "dev", "img.raw.xz", ".xz", "/data/qemu/dev_img.raw");
#ifndef _WIN32 /* (Windows allows no ':' in a file name: test_windows_paths.c) */
  expect_name("rel", "m", "name:with:colons.xz", ".xz", "rel/m_name:with:colons");
#endif
}

static void test_naming_rejects(void **state) {
  (void)state;
  char *out = NULL;
  lib_error err = {0};
  assert_int_equal(naming_output_path("/d", "m", "..", NULL, &out, &err), -VMPULL_E_USAGE);
  assert_int_equal(naming_output_path("/d", "m", "a/b.xz", ".xz", &out, &err), -VMPULL_E_USAGE);
  assert_int_equal(naming_output_path("/d", "", "disk.xz", ".xz", &out, &err), -VMPULL_E_USAGE);
  assert_int_equal(naming_output_path("/d", "../x", "disk.xz", ".xz", &out, &err), -VMPULL_E_USAGE);
  assert_int_equal(naming_output_path("/d", "..", "disk.xz", ".xz", &out, &err), -VMPULL_E_USAGE);
  assert_non_null(strstr(err.message, "machine name"));
  assert_null(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classify_table),
      cmocka_unit_test(test_classify_unknown_scheme),
      cmocka_unit_test(test_classify_foreign_transport),
      cmocka_unit_test(test_classify_empty),
      cmocka_unit_test(test_kind_names),
      cmocka_unit_test(test_path_base_name),
      cmocka_unit_test(test_image_name_check),
      cmocka_unit_test(test_naming_rule),
      cmocka_unit_test(test_naming_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
