/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Files and folders below a top folder (the cache folder, a layout that is read or written),
 * reached without following a symbolic link anywhere below it and without leaving it. A link
 * planted where a folder or a file should be (blobs -> /elsewhere) would otherwise make vmpull
 * read or write outside the folder it was given. The top folder itself is the caller's: it may
 * be a link the user chose.
 *
 * openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it (5.6); where it does
 * not (ENOSYS: an old kernel, valgrind; EPERM: a seccomp filter), one component at a time with
 * O_NOFOLLOW, which refuses the same links.
 *
 * Paths are relative, '/'-separated ("blobs/sha256/<hex>"); ".." and absolute paths fail with
 * -EXDEV. All functions return 0 (or an fd) on success, -errno on failure: -ELOOP when a
 * component is a symbolic link.
 */
#ifndef VMPULL_FS_BENEATH_H
#define VMPULL_FS_BENEATH_H

#include "base/error.h"

#include <sys/stat.h>
#include <sys/types.h>

/* Open path below dirfd; flags and mode as for openat (O_CLOEXEC is added). Returns the fd. */
int beneath_open(int dirfd, const char *path, int flags, mode_t mode);

/* Open a file that is read: O_RDONLY | O_NONBLOCK | O_NOCTTY, so a FIFO or a device cannot block
 * the open; anything but a regular file is -EINVAL. O_NONBLOCK is cleared again before it returns.
 * st (may be NULL) gets the file's stat. Returns the fd. */
int beneath_open_file(int dirfd, const char *path, struct stat *st);

/* mkdir -p path below dirfd (new folders get mode), refusing links on the way. Returns the last
 * folder opened O_RDONLY | O_DIRECTORY. created (may be NULL): 1 when the last folder is new. */
int beneath_mkdirs(int dirfd, const char *path, mode_t mode, int *created);

/* unlinkat(flags) and fstatat(AT_SYMLINK_NOFOLLOW) of path below dirfd; the folders on the way are
 * reached as by beneath_open (the last component itself may be a link: it is what is removed or
 * described). */
int beneath_unlink(int dirfd, const char *path, int flags);
int beneath_stat(int dirfd, const char *path, struct stat *st);

/* The error for a beneath_* call that failed with neg_errno on path below dirfd, whose path is
 * top (as given, for messages). A link or a non-folder on the way, or a file that is not a
 * regular file, is named: "/c/blobs is a symbolic link (not followed below /c)", code
 * VMPULL_E_IO; anything else is "doing /c/path: strerror" with code. Returns -code. */
int beneath_error(lib_error *err, int code, int neg_errno, int dirfd, const char *top, const char *path,
                  const char *doing);

/* Read the small regular file path below dirfd (at most max bytes) into a NUL-terminated buffer:
 * 1 read, 0 there is none; top names the folder in messages (errors as beneath_error's, a larger
 * file VMPULL_E_LIMIT). */
int beneath_read_small(int dirfd, const char *top, const char *path, size_t max, char **out, size_t *len,
                       lib_error *err);

/* Tests: 1 makes every call take the per-component way, as where openat2 is missing. */
void beneath_force_fallback(int on);

#endif
