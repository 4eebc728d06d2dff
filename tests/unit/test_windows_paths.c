/* SPDX-License-Identifier: Apache-2.0 */
/* Windows paths in sources and outputs (issue 20): a drive letter is not the PATH:REF separator of
 * oci-dir:// and oci-archive:// in the Windows build, and an output name derived from an image name
 * must be a file name Windows allows. The rules as functions run on every system; what the pull
 * does with them differs (Linux keeps today's splitting at the first colon): each case below says
 * which build it holds in, and the Windows ones run under wine (make windows-test). */
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

#include "api/save_dest.h"
#include "base/naming.h"
#include "base/util.h"
#include "oci/oci_ref.h"
#include "resolve/resolve.h"

/* The rule itself, both ways, on every system. */
static void test_ref_colon(void **state) {
  (void)state;
  static const struct {
    const char *spec;
    int windows_at, linux_at; /* the separator's offset, -1 for none */
  } cases[] = {
      {"/srv/layout", -1, -1},
      {"/srv/layout:5.5", 11, 11},
      {"/tmp/C:x", 6, 6}, /* a Linux folder "/tmp/C" with REF "x", either way */
      {"layout:a:b", 6, 6},
      {"C:\\layouts\\fcos:5.5", 15, 1},
      {"C:\\layouts\\fcos", -1, 1},
      {"c:/layouts/fcos:5.5", 15, 1},
      {"\\\\?\\C:\\layouts\\fcos:5.5", 19, 5},
      {"//?/C:/layouts:x", 14, 5},
      {"\\\\server\\share\\layout:latest", 21, 21},
      {"C:layout:x", 1, 1}, /* a drive-relative path is not one: "C" with REF "layout:x" */
      {"CC:\\x", 2, 2},
      {"1:\\x", 1, 1},
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    const char *w = oci_layout_ref_colon(cases[i].spec, 1);
    const char *l = oci_layout_ref_colon(cases[i].spec, 0);
    assert_int_equal(w ? (int)(w - cases[i].spec) : -1, cases[i].windows_at);
    assert_int_equal(l ? (int)(l - cases[i].spec) : -1, cases[i].linux_at);
  }
}

/* What oci-dir:// and oci-archive:// give for this build's paths. */
static void test_oci_dir_parse(void **state) {
  (void)state;
  static const struct {
    const char *source, *path, *ref;
  } ok[] = {
      {"oci-dir:///tmp/C:x", "/tmp/C", "x"},
      {"oci:/srv/layout:5.5", "/srv/layout", "5.5"},
      {"oci-dir://\\\\server\\share\\layout:latest", "\\\\server\\share\\layout", "latest"},
#ifdef _WIN32
      {"oci-dir://C:\\layouts\\fcos:5.5", "C:\\layouts\\fcos", "5.5"},
      {"oci-dir://C:\\layouts\\fcos", "C:\\layouts\\fcos", NULL},
      {"oci:D:/layouts/fcos:5.5", "D:/layouts/fcos", "5.5"},
      {"oci-dir://\\\\?\\C:\\layouts\\fcos:tag:with:colons", "\\\\?\\C:\\layouts\\fcos", "tag:with:colons"},
#else
      {"oci-dir://C:\\layouts\\fcos:5.5", "C", "\\layouts\\fcos:5.5"},
#endif
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
#ifdef _WIN32
  /* the drive's colon is never an empty PATH or an empty REF */
  struct oci_dir_ref r;
  lib_error err;
  assert_int_equal(oci_dir_ref_parse("oci-dir://C:\\layouts:", &r, &err), -VMPULL_E_USAGE);
  assert_non_null(strstr(err.message, "empty REF"));
#endif
}

static void test_save_dest(void **state) {
  (void)state;
  struct save_dest d = {0};
  lib_error err;
#ifdef _WIN32
  assert_int_equal(save_dest_parse("oci-archive://C:\\out\\fcos.tar:5.5", &d, &err), 0);
  assert_string_equal(d.path, "C:\\out\\fcos.tar");
  assert_string_equal(d.ref, "5.5");
  save_dest_clear(&d);
  d = (struct save_dest){0};
  assert_int_equal(save_dest_parse("oci-archive://C:\\out\\", &d, &err), -VMPULL_E_USAGE);
  assert_non_null(strstr(err.message, "an archive is a file"));
#else
  assert_int_equal(save_dest_parse("oci-archive:///tmp/C:x", &d, &err), 0);
  assert_string_equal(d.path, "/tmp/C");
  assert_string_equal(d.ref, "x");
#endif
  save_dest_clear(&d);
}

/* A local path, drive letter or UNC, is a file source and its base name the image name. */
static void test_local_paths(void **state) {
  (void)state;
  static const char *const files[] = {"C:\\images\\disk.vhdx.xz", "c:/images/disk.vhdx.xz",
                                      "\\\\server\\share\\disk.vhdx.xz", "/srv/images/disk.vhdx.xz"};
  for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
    enum source_kind kind;
    lib_error err;
    assert_int_equal(source_classify(files[i], &kind, &err), 0);
    assert_int_equal(kind, SOURCE_FILE);
    assert_string_equal(path_base_name(files[i]), "disk.vhdx.xz");
  }
}

static void test_windows_file_names(void **state) {
  (void)state;
  static const char *const good[] = {"disk.raw",    "fedora-coreos-42.x86_64.qcow2",
                                     "console.raw", "nul_disk",
                                     "COM0.raw",    "COM10",
                                     "LPT",         "machine_CON",
                                     "ünïcode.raw"};
  static const char *const bad[] = {"disk:1.raw", "a<b",      "a>b",   "a\"b",       "a|b",   "a?b", "a*b",
                                    "a\x01z",     "con",      "CON",   "nul.raw.xz", "Aux.x", "PRN", "COM1",
                                    "lpt9.raw",   "CON .raw", "disk.", "disk ",      "a/b",   "a\\b"};
  lib_error err;
  for (size_t i = 0; i < ARRAY_SIZE(good); i++)
    assert_int_equal(naming_windows_file_name_check("name", good[i], &err), 0);
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    assert_int_equal(naming_windows_file_name_check("name", bad[i], &err), -VMPULL_E_USAGE);
    assert_non_null(strstr(err.message, "Windows"));
  }
}

/* The output path the data folder and an image name make, in this build. */
static void test_output_path(void **state) {
  (void)state;
  char *out = NULL;
  lib_error err;
#ifdef _WIN32
  assert_int_equal(
      naming_output_path("C:\\Users\\u\\AppData\\Local\\vmpull\\qemu", "m", "disk.raw.xz", ".xz", &out, &err), 0);
  assert_string_equal(out, "C:\\Users\\u\\AppData\\Local\\vmpull\\qemu\\m_disk.raw");
  free(out);
  assert_int_equal(naming_output_path("C:/data/", "m", "disk.raw", NULL, &out, &err), 0);
  assert_string_equal(out, "C:/data/m_disk.raw");
  free(out);
  assert_int_equal(naming_output_path("C:/data", "m", "disk.raw", NULL, &out, &err), 0);
  assert_string_equal(out, "C:/data/m_disk.raw");
  free(out);
  out = NULL;
  assert_int_equal(naming_output_path("C:\\data", "m", "disk:1.raw", NULL, &out, &err), -VMPULL_E_USAGE);
  assert_non_null(strstr(err.message, "image file name 'disk:1.raw'"));
  assert_null(out);
  assert_int_equal(naming_output_path("C:\\data", "m", "disk.raw.", NULL, &out, &err), -VMPULL_E_USAGE);
#else
  /* Linux takes what Windows refuses, as before. */
  assert_int_equal(naming_output_path("/data", "m", "disk:1.raw", NULL, &out, &err), 0);
  assert_string_equal(out, "/data/m_disk:1.raw");
  free(out);
  assert_int_equal(naming_output_path("/data/", "m", "disk.raw.", NULL, &out, &err), 0);
  assert_string_equal(out, "/data/m_disk.raw.");
#endif
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ref_colon),   cmocka_unit_test(test_oci_dir_parse),      cmocka_unit_test(test_save_dest),
      cmocka_unit_test(test_local_paths), cmocka_unit_test(test_windows_file_names), cmocka_unit_test(test_output_path),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
