/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The C library calls and constants the code uses that Windows' C runtime (mingw-w64) lacks, for the
 * Windows build only: on Linux (and macOS) this header adds nothing. The functions are in
 * lib/base/platform_windows.c; the O_, AT_ and LOCK_ flags are only ever handed to the platform
 * layer (lib/base/platform.h), which reads them.
 */
#ifndef VMPULL_COMPAT_H
#define VMPULL_COMPAT_H

/* printf-like functions, checked by the compiler. mingw-w64's gcc reads format(printf) as the
 * Microsoft runtime's printf (no %zu, %llu, %hhu), but the code runs on mingw's own, C99 one
 * (__USE_MINGW_ANSI_STDIO): gnu_printf says so. */
#if defined(_WIN32) && !defined(__clang__)
#define VMPULL_PRINTF(fmt, first) __attribute__((format(gnu_printf, fmt, first)))
#else
#define VMPULL_PRINTF(fmt, first) __attribute__((format(printf, fmt, first)))
#endif

#ifdef _WIN32

#include <direct.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

char *compat_strndup(const char *s, size_t n);
void *compat_memmem(const void *hay, size_t hay_len, const void *needle, size_t needle_len);
void *compat_memrchr(const void *s, int c, size_t n);
void compat_explicit_bzero(void *p, size_t n);
/* The GNU form the code uses: the message, in buf or not. */
char *compat_strerror_r(int errnum, char *buf, size_t len);
struct tm *compat_localtime_r(const time_t *t, struct tm *out);
struct tm *compat_gmtime_r(const time_t *t, struct tm *out);
int compat_setenv(const char *name, const char *value, int overwrite);
int compat_unsetenv(const char *name);
int compat_mkostemp(char *tmpl, int flags);
int compat_fstat(int fd, struct stat *st);
char *compat_mkdtemp(char *tmpl);

#define strndup compat_strndup
#define memmem compat_memmem
#define memrchr compat_memrchr
#define explicit_bzero compat_explicit_bzero
#define strerror_r compat_strerror_r
#undef localtime_r
#define localtime_r compat_localtime_r
#undef gmtime_r
#define gmtime_r compat_gmtime_r
#define setenv compat_setenv
#define unsetenv compat_unsetenv
#define mkostemp compat_mkostemp
#define mkdtemp compat_mkdtemp
/* No set-user-ID programs on Windows: the environment is the user's own. */
#define secure_getenv getenv
/* The runtime's _fstat64 calls a folder a regular file (and wine's fills nothing in for an fd made
 * with _open_osfhandle): the platform layer's, from the HANDLE. */
#undef fstat
#define fstat compat_fstat
/* The runtime has no aligned_alloc whose memory free() takes (_aligned_malloc needs _aligned_free).
 * The code asks for alignment for the page cache's sake only (no O_DIRECT; the zero scans read
 * unaligned words): malloc's 16 bytes do. */
#define aligned_alloc(alignment, size) ((void)(alignment), malloc(size))
/* POSIX mkdir has a mode; Windows' folders have ACLs instead. */
#define mkdir(path, mode) ((void)(mode), _mkdir(path))

/* open flags Windows' runtime has not: values its own flags do not use, read by plat_openat. */
#ifndef O_CLOEXEC
#define O_CLOEXEC _O_NOINHERIT
#endif
#define O_NOFOLLOW 0x01000000
#define O_DIRECTORY 0x02000000
#define O_PATH 0x04000000
#define O_NONBLOCK 0x08000000
#define O_NOCTTY 0x10000000
#define O_TMPFILE 0x20000000

#define AT_FDCWD (-100)
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_REMOVEDIR 0x200
#define AT_SYMLINK_FOLLOW 0x400
#define AT_EMPTY_PATH 0x1000

#define LOCK_SH 1
#define LOCK_EX 2
#define LOCK_NB 4
#define LOCK_UN 8

/* plat_fstatat describes a reparse point (a symbolic link, a junction) as a link. */
#ifndef S_IFLNK
#define S_IFLNK 0xA000
#endif
#ifndef S_ISLNK
#define S_ISLNK(m) (((m)&S_IFMT) == S_IFLNK)
#endif

#ifndef S_ISSOCK
#define S_ISSOCK(m) 0
#endif

#ifndef NAME_MAX
#define NAME_MAX 255
#endif

#endif /* _WIN32 */

#endif
