/* SPDX-License-Identifier: Apache-2.0 */
/* lib/base/platform.h: what the code above the platform layer counts on, the same on every
 * system (this test runs on Linux and, cross-built, under wine): folder-relative access, a rename
 * that never replaces, the unnamed temporary that gets a name only when complete, advisory locks
 * that never refuse a read or a write, positioned I/O that leaves the file position alone, the
 * answers about holes, the same-file test, the listing, and a child process on pipes. */
/* cmocka.h needs these headers before it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "base/platform.h"
#include "base/util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

static const char *self;

struct folder {
  char name[64];
  int fd;
};

/* A new folder in the current one (the build folder), removed with what is in it. */
static int folder_new(void **state) {
  struct folder *f = calloc(1, sizeof(*f));
  uint8_t rnd[6];
  assert_int_equal(plat_random_bytes(rnd, sizeof(rnd)), 0);
  snprintf(f->name, sizeof(f->name), "platform-test-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
           rnd[5]);
  assert_int_equal(plat_mkdirat(AT_FDCWD, f->name, 0700), 0);
  f->fd = plat_openat(AT_FDCWD, f->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  assert_true(f->fd >= 0);
  *state = f;
  return 0;
}

static int folder_remove(void **state) {
  struct folder *f = *state;
  int fd = plat_openat(f->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  struct plat_dir *d = plat_dir_open(fd);
  assert_non_null(d);
  const char *ent;
  while ((ent = plat_dir_read(d)))
    if (strcmp(ent, ".") != 0 && strcmp(ent, "..") != 0)
      assert_int_equal(plat_unlinkat(f->fd, ent, 0), 0);
  plat_dir_close(d);
  close(f->fd);
  assert_int_equal(plat_unlinkat(AT_FDCWD, f->name, AT_REMOVEDIR), 0);
  free(f);
  return 0;
}

static void put(int dirfd, const char *name, const char *text) {
  int fd = plat_openat(dirfd, name, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(plat_pwrite(fd, text, strlen(text), 0), (ssize_t)strlen(text));
  close(fd);
}

/* name's whole content, NUL-terminated, into buf. */
static const char *get(int dirfd, const char *name, char *buf, size_t size) {
  int fd = plat_openat(dirfd, name, O_RDONLY | O_CLOEXEC, 0);
  assert_true(fd >= 0);
  ssize_t n = plat_pread(fd, buf, size - 1, 0);
  assert_true(n >= 0);
  buf[n] = '\0';
  close(fd);
  return buf;
}

static void test_files_in_a_folder(void **state) {
  struct folder *f = *state;
  int fd = plat_openat(f->fd, "file", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(plat_pwrite(fd, "0123456789", 10, 0), 10);
  assert_int_equal(plat_pwrite(fd, "abc", 3, 20), 3);
  char buf[16] = {0};
  assert_int_equal(plat_pread(fd, buf, 3, 20), 3);
  assert_memory_equal(buf, "abc", 3);
  /* positioned I/O leaves the position where it was: a plain read starts at 0 */
  assert_int_equal(read(fd, buf, 4), 4);
  assert_memory_equal(buf, "0123", 4);
  assert_int_equal(plat_pread(fd, buf, sizeof(buf), 23), 0); /* the end */
  close(fd);

  struct stat st;
  assert_int_equal(plat_fstatat(f->fd, "file", &st, AT_SYMLINK_NOFOLLOW), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(st.st_size, 23);
  assert_int_equal(plat_openat(f->fd, "file", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600), -1);
  assert_int_equal(errno, EEXIST);
  assert_int_equal(plat_openat(f->fd, "file", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0), -1);
  assert_int_equal(errno, ENOTDIR);
  assert_int_equal(plat_fstatat(f->fd, "none", &st, AT_SYMLINK_NOFOLLOW), -1);
  assert_int_equal(errno, ENOENT);
  /* fstat tells a folder from a file (Windows' runtime does not: compat.h) */
  fd = plat_openat(f->fd, "file", O_RDONLY | O_CLOEXEC, 0);
  assert_true(fd >= 0);
  assert_int_equal(fstat(fd, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(st.st_size, 23);
  close(fd);
  assert_int_equal(fstat(f->fd, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
#ifdef _WIN32
  /* below a folder, no drive, backslash or stream name leaves it */
  assert_int_equal(plat_openat(f->fd, "C:\\Windows\\win.ini", O_RDONLY | O_CLOEXEC, 0), -1);
  assert_int_equal(errno, EXDEV);
  assert_int_equal(plat_openat(f->fd, "file:stream", O_CREAT | O_RDWR | O_CLOEXEC, 0600), -1);
  assert_int_equal(errno, EXDEV);
#endif

  assert_int_equal(plat_mkdirat(f->fd, "sub", 0700), 0);
  assert_int_equal(plat_mkdirat(f->fd, "sub", 0700), -1);
  assert_int_equal(errno, EEXIST);
  assert_int_equal(plat_fstatat(f->fd, "sub", &st, AT_SYMLINK_NOFOLLOW), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(plat_unlinkat(f->fd, "sub", AT_REMOVEDIR), 0);
  assert_int_equal(plat_touch(f->fd, "file"), 0);
}

static void test_renames(void **state) {
  struct folder *f = *state;
  char buf[32];
  put(f->fd, "a", "first");
  put(f->fd, "b", "second");
  if (plat_rename_noreplace(f->fd, "a", f->fd, "b") == 0)
    fail_msg("a rename that never replaces replaced b");
  if (errno == EEXIST) {
    assert_string_equal(get(f->fd, "b", buf, sizeof(buf)), "second");
    assert_string_equal(get(f->fd, "a", buf, sizeof(buf)), "first");
    assert_int_equal(plat_rename_noreplace(f->fd, "a", f->fd, "c"), 0);
    assert_string_equal(get(f->fd, "c", buf, sizeof(buf)), "first");
  } else {
    /* a filesystem without RENAME_NOREPLACE: the caller links instead */
    assert_true(errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP);
    assert_int_equal(plat_renameat(f->fd, "a", f->fd, "c"), 0);
  }
  assert_int_equal(plat_renameat(f->fd, "c", f->fd, "b"), 0);
  assert_string_equal(get(f->fd, "b", buf, sizeof(buf)), "first");
  struct stat st;
  assert_int_equal(plat_fstatat(f->fd, "c", &st, AT_SYMLINK_NOFOLLOW), -1);
}

static void test_unnamed_temporary(void **state) {
  struct folder *f = *state;
  char buf[32];
  put(f->fd, "taken", "keep me");
  int fd = plat_tmpfile_open(f->fd, ".", 0600);
  if (fd < 0) {
    assert_true(errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL);
    skip();
  }
  assert_int_equal(plat_pwrite(fd, "whole", 5, 0), 5);
  /* a name that is taken is not replaced */
  assert_int_equal(plat_tmpfile_link(fd, f->fd, "taken"), -EEXIST);
  assert_string_equal(get(f->fd, "taken", buf, sizeof(buf)), "keep me");
  assert_int_equal(plat_tmpfile_link(fd, f->fd, "done"), 0);
  assert_int_equal(plat_pwrite(fd, "!", 1, 5), 1); /* still the same file */
  close(fd);
  assert_string_equal(get(f->fd, "done", buf, sizeof(buf)), "whole!");
}

static void test_listing(void **state) {
  struct folder *f = *state;
  put(f->fd, "one", "1");
  put(f->fd, "two", "2");
  struct plat_dir *d = plat_dir_open(plat_openat(f->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
  assert_non_null(d);
  int one = 0, two = 0, other = 0;
  const char *ent;
  while ((ent = plat_dir_read(d))) {
    if (!strcmp(ent, "one"))
      one++;
    else if (!strcmp(ent, "two"))
      two++;
    else if (strcmp(ent, ".") != 0 && strcmp(ent, "..") != 0)
      other++;
  }
  plat_dir_close(d);
  assert_int_equal(one, 1);
  assert_int_equal(two, 1);
  assert_int_equal(other, 0);
}

static void test_locks_are_advisory(void **state) {
  struct folder *f = *state;
  put(f->fd, "entry", "data");
  int a = plat_openat(f->fd, "entry", O_RDWR | O_CLOEXEC, 0);
  int b = plat_openat(f->fd, "entry", O_RDWR | O_CLOEXEC, 0);
  assert_true(a >= 0 && b >= 0);
  assert_int_equal(plat_flock(a, LOCK_EX | LOCK_NB), 0);
  assert_int_equal(plat_flock(b, LOCK_EX | LOCK_NB), -1);
  assert_int_equal(errno, EWOULDBLOCK);
  /* the lock keeps other holders out, never a read or a write */
  char buf[8] = {0};
  assert_int_equal(plat_pread(b, buf, 4, 0), 4);
  assert_memory_equal(buf, "data", 4);
  assert_int_equal(plat_pwrite(b, "DATA", 4, 0), 4);
  assert_int_equal(plat_flock(a, LOCK_UN), 0);
  assert_int_equal(plat_flock(b, LOCK_EX | LOCK_NB), 0);
  close(a);
  close(b);
}

struct folder_waiter {
  int dirfd;
  volatile int locked; /* set by the waiter once it holds the lock */
};

static void *take_folder_lock(void *arg) {
  struct folder_waiter *w = arg;
  struct plat_folder_lock lock = PLAT_FOLDER_LOCK_INIT;
  if (plat_folder_lock(w->dirfd, &lock) == 0) {
    __atomic_store_n(&w->locked, 1, __ATOMIC_SEQ_CST);
    plat_folder_unlock(&lock);
  }
  return NULL;
}

/* The layout writer's lock on its folder: a second holder (another thread, through another fd of
 * the same folder) waits until the first lets go. */
static void test_folder_lock_excludes(void **state) {
  struct folder *f = *state;
  struct plat_folder_lock held = PLAT_FOLDER_LOCK_INIT;
  assert_int_equal(plat_folder_lock(f->fd, &held), 0);
  struct folder_waiter w = {.dirfd = plat_openat(AT_FDCWD, f->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)};
  assert_true(w.dirfd >= 0);
  pthread_t t;
  assert_int_equal(plat_thread_start(&t, take_folder_lock, &w), 0);
  struct timespec pause = {.tv_sec = 0, .tv_nsec = 300 * 1000 * 1000};
  nanosleep(&pause, NULL);
  assert_int_equal(__atomic_load_n(&w.locked, __ATOMIC_SEQ_CST), 0);
  plat_folder_unlock(&held);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(w.locked, 1);
  /* taken again after both let go */
  assert_int_equal(plat_folder_lock(f->fd, &held), 0);
  plat_folder_unlock(&held);
  close(w.dirfd);
}

/* The errno values the platform layer hands out read as on Linux (the Windows runtime has no words
 * for the POSIX ones). */
static void test_error_words(void **state) {
  (void)state;
  char buf[128];
  assert_string_equal(strerror_r(EOPNOTSUPP, buf, sizeof(buf)), "Operation not supported");
  assert_string_equal(strerror_r(EWOULDBLOCK, buf, sizeof(buf)), "Resource temporarily unavailable");
  assert_string_equal(strerror_r(ELOOP, buf, sizeof(buf)), "Too many levels of symbolic links");
  assert_string_equal(strerror_r(ETIMEDOUT, buf, sizeof(buf)), "Connection timed out");
  assert_string_equal(strerror_r(ENOENT, buf, sizeof(buf)), "No such file or directory");
}

static void test_holes(void **state) {
  struct folder *f = *state;
  const uint64_t mib = 1 << 20;
  int fd = plat_openat(f->fd, "sparse", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  (void)plat_set_sparse(fd);
  assert_int_equal(plat_ftruncate(fd, 16 * mib), 0);
  static uint8_t block[4096];
  memset(block, 0xab, sizeof(block));
  assert_int_equal(plat_pwrite(fd, block, sizeof(block), 8 * mib), (ssize_t)sizeof(block));
  int64_t data = plat_seek_data(fd, 0);
  if (data < 0) {
    /* a system that cannot say: the caller copies it all as data */
    assert_true(errno == EINVAL || errno == EOPNOTSUPP);
  } else {
    assert_true((uint64_t)data <= 8 * mib);
    int64_t hole = plat_seek_hole(fd, 8 * mib);
    assert_true(hole >= 0 && (uint64_t)hole >= 8 * mib + sizeof(block) && (uint64_t)hole <= 16 * mib);
    /* whatever was called a hole reads as zeros */
    static uint8_t buf[4096];
    for (uint64_t off = 0; off + sizeof(buf) <= (uint64_t)data; off += sizeof(buf)) {
      assert_int_equal(plat_pread(fd, buf, sizeof(buf), off), (ssize_t)sizeof(buf));
      for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0);
    }
    assert_int_equal(plat_seek_data(fd, 16 * mib), -1);
    assert_int_equal(errno, ENXIO);
  }
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  assert_true(plat_allocated_bytes(fd, &st) <= 16 * mib);
  close(fd);
}

static void test_same_file(void **state) {
  struct folder *f = *state;
  put(f->fd, "x", "x");
  put(f->fd, "y", "y");
  int fd = plat_openat(f->fd, "x", O_RDONLY | O_CLOEXEC, 0);
  assert_true(fd >= 0);
  assert_int_equal(plat_same_file(fd, f->fd, "x"), 1);
  assert_int_equal(plat_same_file(fd, f->fd, "y"), 0);
  assert_int_equal(plat_same_file(fd, f->fd, "none"), 0);
  /* renamed while open (a holder committing the entry), another file under the old name */
  assert_int_equal(plat_renameat(f->fd, "x", f->fd, "z"), 0);
  assert_int_equal(plat_renameat(f->fd, "y", f->fd, "x"), 0);
  assert_int_equal(plat_same_file(fd, f->fd, "x"), 0);
  assert_int_equal(plat_same_file(fd, f->fd, "z"), 1);
  close(fd);
}

/* valgrind preloads its core into the program it runs. */
static int under_valgrind(void) {
  const char *preload = getenv("LD_PRELOAD");
  return preload && strstr(preload, "vgpreload") != NULL;
}

static void test_child_on_pipes(void **state) {
  (void)state;
  const char *argv[] = {self, "--echo", NULL};
  plat_pid pid;
  int to = -1, from = -1;
  assert_int_equal(plat_spawn_piped(argv, &pid, &to, &from), 0);
  struct plat_sigpipe_guard g;
  plat_sigpipe_block(&g);
  assert_int_equal(write(to, "hello", 5), 5);
  plat_sigpipe_unblock(&g);
  close(to);
  assert_int_equal(plat_wait_readable(from, 60000), 1);
  char buf[16] = {0};
  size_t got = 0;
  for (;;) {
    ssize_t n = read(from, buf + got, sizeof(buf) - 1 - got);
    assert_true(n >= 0);
    if (n == 0)
      break;
    got += (size_t)n;
  }
  close(from);
  assert_string_equal(buf, "hello");
  int exited = 0, code = -1;
  assert_int_equal(plat_wait(pid, &exited, &code), 0);
  assert_int_equal(exited, 1);
  assert_int_equal(code, 3);

  /* A missing program never starts. (Under valgrind posix_spawn runs as fork and exec, and cannot
   * tell a failed exec: the child exits 127 instead; `make check-valgrind` runs this test too.) */
  const char *missing[] = {"vmpull-no-such-program", NULL};
  if (!under_valgrind()) {
    assert_true(plat_spawn_piped(missing, &pid, &to, &from) < 0);
  } else if (plat_spawn_piped(missing, &pid, &to, &from) == 0) {
    close(to);
    close(from);
    assert_int_equal(plat_wait(pid, &exited, &code), 0);
    assert_int_equal(code, 127);
  }

  /* Run and waited for, its input the null device (so it ends at once); a missing one never starts. */
  assert_int_equal(plat_run_quiet(argv), 0);
  const char *nowhere[] = {"/vmpull-no-such-folder/program", NULL};
  if (!under_valgrind())
    assert_true(plat_run_quiet(nowhere) < 0);
}

/* A duplicate is the same open file (its access mode too); the access mode is told; a listing's
 * folder takes *at calls; the temporary folder is there. */
static void test_descriptors(void **state) {
  struct folder *f = *state;
  put(f->fd, "f", "abc");
  int ro = plat_openat(f->fd, "f", O_RDONLY | O_CLOEXEC, 0);
  int rw = plat_openat(f->fd, "f", O_RDWR | O_CLOEXEC, 0);
  assert_true(ro >= 0 && rw >= 0);
  assert_int_equal(plat_fd_flags(ro) & O_ACCMODE, O_RDONLY);
  assert_int_equal(plat_fd_flags(rw) & O_ACCMODE, O_RDWR);
  int dup = plat_dup_cloexec(rw, 3);
  assert_true(dup >= 0 && dup != rw);
  assert_int_equal(plat_fd_flags(dup) & O_ACCMODE, O_RDWR);
  assert_int_equal(plat_pwrite(dup, "xyz", 3, 3), 3);
  assert_int_equal(plat_fdatasync(dup), 0);
  close(dup);
  char buf[16];
  assert_string_equal(get(f->fd, "f", buf, sizeof(buf)), "abcxyz");
  close(ro);
  close(rw);

  struct plat_dir *d = plat_dir_open(plat_openat(f->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
  assert_non_null(d);
  struct stat st;
  assert_int_equal(plat_fstatat(plat_dir_fd(d), "f", &st, AT_SYMLINK_NOFOLLOW), 0);
  assert_int_equal(st.st_size, 6);
  plat_dir_close(d);

  const char *tmp = plat_temp_dir();
  assert_true(tmp && *tmp);
  int t = plat_openat(AT_FDCWD, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  assert_true(t >= 0);
  close(t);
}

static void test_machine(void **state) {
  (void)state;
  assert_true(plat_cpu_count() >= 1);
  char m[64];
  assert_int_equal(plat_machine(m, sizeof(m)), 0);
  assert_true(strlen(m) > 0);
  uint8_t a[32] = {0}, b[32] = {0};
  assert_int_equal(plat_random_bytes(a, sizeof(a)), 0);
  assert_int_equal(plat_random_bytes(b, sizeof(b)), 0);
  assert_memory_not_equal(a, b, sizeof(a));
}

int main(int argc, char **argv) {
  /* The child of test_child_on_pipes: its input back on its output, then exit status 3. */
  if (argc > 1 && !strcmp(argv[1], "--echo")) {
    char buf[256];
    ssize_t n;
    while ((n = read(0, buf, sizeof(buf))) > 0)
      if (write(1, buf, (size_t)n) != n)
        return 1;
    return 3;
  }
  self = argv[0];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_files_in_a_folder, folder_new, folder_remove),
      cmocka_unit_test_setup_teardown(test_renames, folder_new, folder_remove),
      cmocka_unit_test_setup_teardown(test_unnamed_temporary, folder_new, folder_remove),
      cmocka_unit_test_setup_teardown(test_listing, folder_new, folder_remove),
      cmocka_unit_test_setup_teardown(test_locks_are_advisory, folder_new, folder_remove),
      cmocka_unit_test_setup_teardown(test_folder_lock_excludes, folder_new, folder_remove),
      cmocka_unit_test_setup_teardown(test_holes, folder_new, folder_remove),
      cmocka_unit_test_setup_teardown(test_same_file, folder_new, folder_remove),
      cmocka_unit_test_setup_teardown(test_descriptors, folder_new, folder_remove),
      cmocka_unit_test(test_child_on_pipes),
      cmocka_unit_test(test_machine),
      cmocka_unit_test(test_error_words),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
