/* SPDX-License-Identifier: Apache-2.0 */
/* lib/base/fs_beneath.c over the platform layer, on every system (this test runs on Linux and,
 * cross-built, under wine, where fs_beneath always walks one component at a time): folders made
 * below a top folder, files opened, described, read and removed there, and the paths that would
 * leave it refused. test_fs_beneath.c has the links and FIFOs, which need Linux. */
/* cmocka.h needs these headers before it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "base/fs_beneath.h"
#include "base/platform.h"
#include "base/util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

struct top {
  char name[64];
  int fd;
};

static int top_new(void **state) {
  struct top *t = calloc(1, sizeof(*t));
  uint8_t rnd[6];
  assert_int_equal(plat_random_bytes(rnd, sizeof(rnd)), 0);
  snprintf(t->name, sizeof(t->name), "beneath-test-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
           rnd[5]);
  assert_int_equal(plat_mkdirat(AT_FDCWD, t->name, 0700), 0);
  t->fd = plat_openat(AT_FDCWD, t->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  assert_true(t->fd >= 0);
  *state = t;
  return 0;
}

static int top_remove(void **state) {
  struct top *t = *state;
  beneath_force_fallback(0);
  (void)beneath_unlink(t->fd, "blobs/sha256/abc", 0);
  (void)beneath_unlink(t->fd, "blobs/sha256", AT_REMOVEDIR);
  (void)beneath_unlink(t->fd, "blobs", AT_REMOVEDIR);
  close(t->fd);
  assert_int_equal(plat_unlinkat(AT_FDCWD, t->name, AT_REMOVEDIR), 0);
  free(t);
  return 0;
}

static void walk_below(struct top *t) {
  int created = -1;
  int d = beneath_mkdirs(t->fd, "blobs/sha256", 0700, &created);
  assert_true(d >= 0);
  assert_int_equal(created, 1);
  close(d);
  d = beneath_mkdirs(t->fd, "blobs/sha256", 0700, &created);
  assert_true(d >= 0);
  assert_int_equal(created, 0);
  close(d);

  int fd = beneath_open(t->fd, "blobs/sha256/abc", O_CREAT | O_EXCL | O_RDWR, 0600);
  assert_true(fd >= 0);
  assert_int_equal(plat_pwrite(fd, "hello", 5, 0), 5);
  close(fd);
  struct stat st;
  assert_int_equal(beneath_stat(t->fd, "blobs/sha256/abc", &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(st.st_size, 5);
  char *buf = NULL;
  size_t len = 0;
  lib_error err = {0};
  assert_int_equal(beneath_read_small(t->fd, t->name, "blobs/sha256/abc", 100, &buf, &len, &err), 1);
  assert_int_equal(len, 5);
  assert_string_equal(buf, "hello");
  free(buf);
  assert_int_equal(beneath_read_small(t->fd, t->name, "blobs/sha256/none", 100, &buf, &len, &err), 0);

  /* what would leave the top folder, and a folder where a file is wanted */
  assert_int_equal(beneath_open(t->fd, "blobs/../../outside", O_RDONLY, 0), -EXDEV);
  assert_int_equal(beneath_open(t->fd, "../outside", O_RDONLY, 0), -EXDEV);
  assert_int_equal(beneath_open(t->fd, "/etc/passwd", O_RDONLY, 0), -EXDEV);
  assert_int_equal(beneath_open_file(t->fd, "blobs", NULL), -EINVAL);

  assert_int_equal(beneath_unlink(t->fd, "blobs/sha256/abc", 0), 0);
  assert_int_equal(beneath_stat(t->fd, "blobs/sha256/abc", &st), -ENOENT);
}

static void test_walk(void **state) {
  beneath_force_fallback(1);
  walk_below(*state);
}

static void test_resolved(void **state) {
  beneath_force_fallback(0); /* openat2 where the system has it (Linux 5.6), else the walk again */
  walk_below(*state);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_walk, top_new, top_remove),
      cmocka_unit_test_setup_teardown(test_resolved, top_new, top_remove),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
