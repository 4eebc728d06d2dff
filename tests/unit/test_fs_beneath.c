/* SPDX-License-Identifier: Apache-2.0 */
/* lib/base/fs_beneath.c: paths below a folder never pass through a symbolic link, never leave it, and
 * a FIFO is refused without blocking. Every case runs twice: through openat2 (where the kernel
 * has it; valgrind does not, so under `make check-valgrind` both runs walk) and through the
 * per-component walk that stands in for it. */
#ifdef _WIN32
/* Windows: skipped (meson counts exit status 77 as a skip), since it makes symbolic links and FIFOs and calls openat2;
 * test_beneath_walk runs fs_beneath over the Windows layer. */
#include <stdio.h>

int main(void) {
  printf("skipped on Windows: it makes symbolic links and FIFOs and calls openat2; test_beneath_walk runs fs_beneath "
         "over the Windows layer\n");
  return 77;
}
#else
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
#include "base/util.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>

struct tree {
  char *root;    /* holds top/ and outside/ */
  char *top;     /* the folder everything is below */
  char *outside; /* where the links point */
  int fd;        /* top */
};

/* top/a/b/file, top/a/lnk -> ../../outside, top/a/flink -> ../../outside/secret, top/fifo. */
static int make_tree(void **state) {
  struct tree *t = calloc(1, sizeof(*t));
  char tmpl[] = "/tmp/vmpull-beneath-XXXXXX";
  assert_non_null(mkdtemp(tmpl));
  t->root = strdup(tmpl);
  t->top = xasprintf("%s/top", tmpl);
  t->outside = xasprintf("%s/outside", tmpl);
  _cleanup_free_ char *cmd =
      xasprintf("cd '%s' && mkdir -p top/a/b outside && echo data > top/a/b/file && echo secret > outside/secret"
                " && ln -s ../../outside top/a/lnk && ln -s ../../outside/secret top/a/flink && mkfifo top/fifo",
                tmpl);
  assert_int_equal(system(cmd), 0);
  t->fd = open(t->top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true(t->fd >= 0);
  *state = t;
  return 0;
}

static int remove_tree(void **state) {
  struct tree *t = *state;
  beneath_force_fallback(0);
  close(t->fd);
  _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", t->root);
  assert_int_equal(system(cmd), 0);
  free(t->root);
  free(t->top);
  free(t->outside);
  free(t);
  return 0;
}

static int outside_has(const struct tree *t, const char *name) {
  _cleanup_free_ char *p = xasprintf("%s/%s", t->outside, name);
  struct stat st;
  return lstat(p, &st) == 0;
}

static void expect_message(int neg_errno, const struct tree *t, const char *path, const char *needle) {
  lib_error err = {0};
  assert_int_equal(beneath_error(&err, VMPULL_E_IO, neg_errno, t->fd, t->top, path, "open"), -VMPULL_E_IO);
  _cleanup_free_ char *want = xasprintf("%s/%s", t->top, needle);
  if (!strstr(err.message, want))
    fail_msg("message '%s' lacks '%s'", err.message, want);
}

static void check_all(struct tree *t) {
  /* what is really below opens */
  int fd = beneath_open(t->fd, "a/b/file", O_RDONLY, 0);
  assert_true(fd >= 0);
  close(fd);
  fd = beneath_open(t->fd, "./a//b/file", O_RDONLY, 0);
  assert_true(fd >= 0);
  close(fd);
  /* a link as a folder on the way, as the last component, for every kind of open */
  assert_int_equal(beneath_open(t->fd, "a/lnk/secret", O_RDONLY, 0), -ELOOP);
  assert_int_equal(beneath_open(t->fd, "a/flink", O_RDONLY, 0), -ELOOP);
  assert_int_equal(beneath_open(t->fd, "a/lnk", O_RDONLY | O_DIRECTORY, 0), -ELOOP);
  assert_int_equal(beneath_open(t->fd, "a/lnk", O_PATH | O_DIRECTORY, 0), -ELOOP);
  assert_int_equal(beneath_open(t->fd, "a/flink", O_PATH, 0), -ELOOP);
  assert_int_equal(beneath_open(t->fd, "a/lnk/new", O_CREAT | O_EXCL | O_WRONLY, 0600), -ELOOP);
  assert_int_equal(beneath_open(t->fd, "a/lnk", O_TMPFILE | O_RDWR, 0600), -ELOOP);
  assert_false(outside_has(t, "new"));
  /* leaving the folder */
  assert_int_equal(beneath_open(t->fd, "../outside/secret", O_RDONLY, 0), -EXDEV);
  assert_int_equal(beneath_open(t->fd, "a/../../outside/secret", O_RDONLY, 0), -EXDEV);
  assert_int_equal(beneath_open(t->fd, "/etc/passwd", O_RDONLY, 0), -EXDEV);
  /* a file where a folder should be */
  assert_int_equal(beneath_open(t->fd, "a/b/file/x", O_RDONLY, 0), -ENOTDIR);
  /* creating below works and creates there */
  fd = beneath_open(t->fd, "a/b/made", O_CREAT | O_EXCL | O_WRONLY, 0600);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(beneath_unlink(t->fd, "a/b/made", 0), 0);

  /* files that are read: a FIFO is refused at once (no writer: a blocking open would hang) */
  struct stat st;
  assert_int_equal(beneath_open_file(t->fd, "fifo", &st), -EINVAL);
  assert_int_equal(beneath_open_file(t->fd, "a", &st), -EINVAL);
  assert_int_equal(beneath_open_file(t->fd, "a/flink", &st), -ELOOP);
  fd = beneath_open_file(t->fd, "a/b/file", &st);
  assert_true(fd >= 0);
  assert_true(S_ISREG(st.st_mode) && st.st_size == 5);
  assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  close(fd);

  /* mkdir -p */
  int created = -1;
  fd = beneath_mkdirs(t->fd, "n1/n2", 0700, &created);
  assert_true(fd >= 0);
  assert_int_equal(created, 1);
  assert_int_equal(fstat(fd, &st), 0);
  assert_true(S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
  close(fd);
  fd = beneath_mkdirs(t->fd, "n1/n2", 0700, &created);
  assert_true(fd >= 0);
  assert_int_equal(created, 0);
  close(fd);
  assert_int_equal(beneath_mkdirs(t->fd, "a/lnk/x/y", 0700, &created), -ELOOP);
  assert_int_equal(beneath_mkdirs(t->fd, "a/lnk", 0700, NULL), -ELOOP);
  assert_int_equal(beneath_mkdirs(t->fd, "../x", 0700, NULL), -EXDEV);
  assert_false(outside_has(t, "x"));
  assert_int_equal(beneath_unlink(t->fd, "n1/n2", AT_REMOVEDIR), 0);
  assert_int_equal(beneath_unlink(t->fd, "n1", AT_REMOVEDIR), 0);

  /* unlink and stat: never through a link on the way; a link at the end is the link itself */
  assert_int_equal(beneath_unlink(t->fd, "a/lnk/secret", 0), -ELOOP);
  assert_true(outside_has(t, "secret"));
  assert_int_equal(beneath_stat(t->fd, "a/lnk/secret", &st), -ELOOP);
  assert_int_equal(beneath_stat(t->fd, "a/flink", &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  assert_int_equal(beneath_stat(t->fd, "a/b/file", &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(beneath_stat(t->fd, "a/b/none", &st), -ENOENT);

  /* messages name the culprit */
  expect_message(-ELOOP, t, "a/lnk/secret", "a/lnk is a symbolic link (not followed below");
  expect_message(-ELOOP, t, "a/flink", "a/flink is a symbolic link");
  expect_message(-ENOTDIR, t, "a/b/file/x", "a/b/file is not a folder");
  expect_message(-EINVAL, t, "fifo", "fifo is not a regular file");
  expect_message(-EXDEV, t, "../outside/secret", "../outside/secret: the path leaves");
  expect_message(-EACCES, t, "a/b/file", "a/b/file: Permission denied");
}

static void test_with_openat2(void **state) {
  struct tree *t = *state;
  beneath_force_fallback(0);
  struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_BENEATH};
  long fd = syscall(SYS_openat2, t->fd, "a", &how, sizeof(how));
  if (fd < 0)
    print_message("openat2 is not there (%s): this run walks too\n", strerror(errno));
  else
    close((int)fd);
  check_all(t);
}

static void test_walking(void **state) {
  beneath_force_fallback(1);
  check_all(*state);
  beneath_force_fallback(0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_with_openat2, make_tree, remove_tree),
      cmocka_unit_test_setup_teardown(test_walking, make_tree, remove_tree),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
