/* SPDX-License-Identifier: Apache-2.0 */
/* What the unit tests do with their temporary folders, the same on Linux and under wine (where
 * system("rm -rf ...") has no rm to run). */
#ifndef VMPULL_TEST_FILES_H
#define VMPULL_TEST_FILES_H

#include "base/platform.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <unistd.h>
#ifndef _WIN32
#include <sys/mman.h>
#endif

/* The null device, to open read-only (a write to it fails with EBADF). */
#ifdef _WIN32
#define TEST_DEV_NULL "NUL"
#else
#define TEST_DEV_NULL "/dev/null"
#endif

static int test_remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st, (void)ftw;
  return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* rm -rf dir: 0, or -1. */
static inline int test_rm_rf(const char *dir) {
  return nftw(dir, test_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A file with no name, read-write: memfd_create on Linux; a delete-pending temporary in the
 * temporary folder on Windows. */
static inline int test_anon_file(const char *name) {
#ifdef _WIN32
  (void)name;
  return plat_tmpfile_open(AT_FDCWD, plat_temp_dir(), 0600);
#else
  return memfd_create(name, MFD_CLOEXEC);
#endif
}

/* Windows has no fork, FIFOs, signals to send, or symbolic links a test may make: such a test
 * says so and passes as skipped. */
#ifdef _WIN32
#define SKIP_ON_WINDOWS(why)                                                                                           \
  do {                                                                                                                 \
    print_message("skipped on Windows: %s\n", why);                                                                    \
    skip();                                                                                                            \
  } while (0)
#else
#define SKIP_ON_WINDOWS(why)                                                                                           \
  do {                                                                                                                 \
  } while (0)
#endif

#endif
