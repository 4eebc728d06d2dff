/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The platform layer: every call the library makes that is not the same on Linux, Windows and
 * macOS goes through one of these functions. lib/base/platform_linux.c is the code the library ran
 * before (moved, not rewritten); lib/base/platform_windows.c is the Windows port; a macOS port is
 * one more file, platform_macos.c, with the calls in the last column. lib/base/compat.h is the
 * small libc part (strndup, memmem, explicit_bzero, strerror_r, localtime_r, setenv, mkdir, the
 * O_ and AT_ flags) that Windows lacks.
 *
 * Conventions: a function named after a POSIX call (plat_openat, plat_pread, ...) answers as that
 * call does: -1 and errno on failure. The others (plat_tmpfile_link, plat_clone, ...) return 0 (or
 * a count) or -errno. fds stay ints everywhere: on Windows they are C runtime descriptors over
 * HANDLEs (_open_osfhandle), folders included, so callers keep their `int dirfd`.
 *
 * | function                | Linux (platform_linux.c) | Windows (platform_windows.c)      | macOS (to write)         |
 * |-------------------------|--------------------------|-----------------------------------|--------------------------|
 * | FOLDER-RELATIVE         |                          | the folder's path                 |                          |
 * |                         |                          | (GetFinalPathNameByHandle) joined |                          |
 * |                         |                          | with the name; no link or reparse |                          |
 * |                         |                          | point followed                    |                          |
 * | plat_openat             | openat                   | CreateFileW (OPEN_REPARSE_POINT;  | openat                   |
 * |                         |                          | BACKUP_SEMANTICS for folders) +   |                          |
 * |                         |                          | _open_osfhandle                   |                          |
 * | plat_open_beneath       | openat2 RESOLVE_BENEATH  | -ENOSYS: the caller walks one     | openat O_RESOLVE_BENEATH |
 * |                         | + RESOLVE_NO_SYMLINKS,   | component at a time               | (macOS 15), else -ENOSYS |
 * |                         | else -ENOSYS             |                                   |                          |
 * | plat_mkdirat            | mkdirat                  | CreateDirectoryW                  | mkdirat                  |
 * | plat_unlinkat           | unlinkat                 | DeleteFileW, RemoveDirectoryW     | unlinkat                 |
 * | plat_fstatat            | fstatat                  | GetFileInformationByHandle; a     | fstatat                  |
 * |                         |                          | reparse point is S_IFLNK (fstat   |                          |
 * |                         |                          | too: compat.h)                    |                          |
 * | plat_renameat           | renameat (replaces)      | MoveFileExW                       | renameat                 |
 * |                         |                          | (MOVEFILE_REPLACE_EXISTING)       |                          |
 * | plat_rename_noreplace   | renameat2                | MoveFileExW without               | renameatx_np             |
 * |                         | (RENAME_NOREPLACE)       | MOVEFILE_REPLACE_EXISTING         | (RENAME_EXCL)            |
 * | plat_linkat             | linkat                   | CreateHardLinkW                   | linkat                   |
 * | plat_touch              | utimensat (NULL,         | SetFileTime(now), the name not    | utimensat                |
 * |                         | AT_SYMLINK_NOFOLLOW)     | followed                          |                          |
 * | plat_same_file          | fstat + fstatat: st_dev, | volume serial number + file index | as Linux                 |
 * |                         | st_ino                   |                                   |                          |
 * | plat_dir_open, _read,   | fdopendir, readdir,      | FindFirstFileExW, FindNextFileW,  | as Linux                 |
 * | _close                  | closedir                 | FindClose                         |                          |
 * | plat_dir_fd             | dirfd                    | the fd plat_dir_open took         | dirfd                    |
 * | plat_realpath           | realpath(path, NULL)     | GetFinalPathNameByHandleW         | realpath                 |
 * | plat_temp_dir           | $TMPDIR (secure_getenv), | GetTempPathW (%TMP%, %TEMP%)      | as Linux                 |
 * |                         | else /tmp                |                                   |                          |
 * | plat_home_dir           | $HOME                    | %HOME% if set, else %USERPROFILE% | as Linux                 |
 * | TEMPORARY, PUBLISH      |                          |                                   |                          |
 * | plat_tmpfile_open       | openat(dir, O_TMPFILE)   | a random name, marked             | -1/EOPNOTSUPP: the       |
 * |                         |                          | delete-pending                    | caller's named temporary |
 * |                         |                          | (FileDispositionInfo): gone if    |                          |
 * |                         |                          | the process dies                  |                          |
 * | plat_tmpfile_link       | linkat AT_EMPTY_PATH,    | delete-pending cleared,           | (not reached)            |
 * |                         | else via /proc/self/fd   | FileRenameInfo without            |                          |
 * |                         |                          | ReplaceIfExists                   |                          |
 * | LOCKS, I/O, SYNC        |                          |                                   |                          |
 * | plat_flock              | flock                    | LockFileEx on one byte past any   | flock                    |
 * |                         |                          | data (advisory as flock)          |                          |
 * | plat_folder_lock,       | openat(".") + flock      | a named mutex, Local\vmpull-      | as Linux                 |
 * | _unlock                 | (LOCK_EX), close         | folder-<volume>-<file index>      |                          |
 * |                         |                          | (a folder takes no byte-range     |                          |
 * |                         |                          | lock); abandoned if the holder    |                          |
 * |                         |                          | dies                              |                          |
 * | plat_dup_cloexec        | fcntl(F_DUPFD_CLOEXEC)   | DuplicateHandle (not inherited) + | as Linux                 |
 * |                         |                          | _open_osfhandle                   |                          |
 * | plat_fd_flags           | fcntl(F_GETFL)           | NtQueryObject: the handle's       | as Linux                 |
 * |                         |                          | granted access (O_RDONLY,         |                          |
 * |                         |                          | O_WRONLY, O_RDWR, O_APPEND: only  |                          |
 * |                         |                          | append access; the runtime's      |                          |
 * |                         |                          | _O_APPEND is its own seek, which  |                          |
 * |                         |                          | positioned writes do not take)    |                          |
 * | plat_pread, plat_pwrite | pread, pwrite            | ReadFile, WriteFile at an         | pread, pwrite            |
 * |                         |                          | OVERLAPPED offset                 |                          |
 * | plat_ftruncate          | ftruncate                | FileEndOfFileInfo                 | ftruncate                |
 * | plat_fsync              | fsync                    | FlushFileBuffers                  | fcntl(F_FULLFSYNC), else |
 * |                         |                          |                                   | fsync                    |
 * | plat_fdatasync          | fdatasync                | FlushFileBuffers                  | fcntl(F_FULLFSYNC), else |
 * |                         |                          |                                   | fsync                    |
 * | plat_wait_writable      | poll(POLLOUT)            | Sleep(1): the runtime's pipes     | as Linux                 |
 * |                         |                          | block                             |                          |
 * | plat_wait_readable      | poll(POLLIN, timeout)    | a pipe: PeekNamedPipe, else       | as Linux                 |
 * |                         |                          | Sleep; anything else: ready       |                          |
 * | plat_set_blocking       | fcntl(F_SETFL,           | nothing: files never block        | as Linux                 |
 * |                         | ~O_NONBLOCK)             |                                   |                          |
 * | plat_writeback_start    | sync_file_range          | nothing (the final flush does it) | nothing                  |
 * |                         | (SYNC_FILE_RANGE_WRITE)  |                                   |                          |
 * | plat_fadvise_sequential | posix_fadvise            | nothing                           | fcntl(F_RDAHEAD, 1)      |
 * |                         | (SEQUENTIAL)             |                                   |                          |
 * | SPARSE FILES, COPIES    |                          |                                   |                          |
 * | plat_set_sparse         | nothing: any file may    | FSCTL_SET_SPARSE                  | nothing (APFS)           |
 * |                         | have holes               |                                   |                          |
 * | plat_punch_hole         | fallocate (PUNCH_HOLE +  | FSCTL_SET_ZERO_DATA               | fcntl(F_PUNCHHOLE)       |
 * |                         | KEEP_SIZE)               |                                   |                          |
 * | plat_seek_data, _hole   | lseek SEEK_DATA,         | FSCTL_QUERY_ALLOCATED_RANGES;     | lseek SEEK_DATA,         |
 * |                         | SEEK_HOLE                | where unsupported (wine): EINVAL, | SEEK_HOLE                |
 * |                         |                          | all data                          |                          |
 * | plat_allocated_bytes    | st_blocks * 512          | FileStandardInfo.AllocationSize   | st_blocks * 512          |
 * | plat_clone              | ioctl(FICLONE)           | FSCTL_DUPLICATE_EXTENTS_TO_FILE   | fclonefileat (by name,   |
 * |                         |                          | (ReFS), else -EOPNOTSUPP          | at open), else           |
 * |                         |                          |                                   | -EOPNOTSUPP              |
 * | plat_copy_range         | copy_file_range          | -1/ENOSYS: the caller reads and   | -1/ENOSYS (copyfile(3)   |
 * |                         |                          | writes                            | is by name)              |
 * | PROCESSES, SIGNALS      |                          |                                   |                          |
 * | plat_spawn_piped        | pipe2(O_CLOEXEC),        | CreateProcessW, inherited pipe    | as Linux (pipe +         |
 * |                         | posix_spawnp             | ends                              | FD_CLOEXEC)              |
 * | plat_wait               | waitpid (EINTR retried)  | WaitForSingleObject,              | waitpid                  |
 * |                         |                          | GetExitCodeProcess                |                          |
 * | plat_run_quiet          | posix_spawn, stdio       | CreateProcessW, stdio NUL, waited | as Linux                 |
 * |                         | /dev/null, waitpid       | for                               |                          |
 * | SOCKETS                 |                          |                                   |                          |
 * | plat_socket_has_byte    | recv(MSG_PEEK |          | ioctlsocket(FIONREAD)             | as Linux                 |
 * |                         | MSG_DONTWAIT)            |                                   |                          |
 * | plat_socket_close       | close                    | closesocket                       | close                    |
 * | plat_sigpipe_block,     | SIGPIPE blocked on the   | nothing: no SIGPIPE (EPIPE comes  | as Linux, or             |
 * | _unblock                | thread; one raised       | back)                             | F_SETNOSIGPIPE           |
 * |                         | meanwhile taken back     |                                   |                          |
 * | plat_thread_start       | pthread_create, every    | pthread_create (winpthreads);     | as Linux                 |
 * |                         | signal blocked           | Ctrl-C runs on a thread of its    |                          |
 * |                         |                          | own                               |                          |
 * | THE MACHINE             |                          |                                   |                          |
 * | plat_random_bytes       | getrandom                | BCryptGenRandom (system RNG)      | getentropy (256 bytes a  |
 * |                         |                          |                                   | call)                    |
 * | plat_cpu_count          | sysconf                  | GetActiveProcessorCount           | as Linux                 |
 * |                         | (_SC_NPROCESSORS_ONLN)   | (ALL_PROCESSOR_GROUPS)            |                          |
 * | plat_machine            | uname().machine          | GetNativeSystemInfo: x86_64,      | uname().machine (arm64)  |
 * |                         |                          | aarch64                           |                          |
 * | plat_is_admin           | geteuid() == 0           | the token is elevated             | geteuid() == 0           |
 * |                         |                          | (TokenElevation)                  |                          |
 *
 * The CLI's own platform calls (the Ctrl-C handler: SetConsoleCtrlHandler, exit 130 as on Linux;
 * the terminal's width: GetConsoleScreenBufferInfo; the default folders: %LOCALAPPDATA%\vmpull for
 * the cache and the disks) live on the CLI's side, src/, which includes nothing of lib/.
 */
#ifndef VMPULL_PLATFORM_H
#define VMPULL_PLATFORM_H

#include "base/compat.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#ifndef _WIN32
#include <signal.h>
#endif

/* Folder-relative access: as openat, mkdirat, unlinkat, fstatat, renameat, linkat. */
int plat_openat(int dirfd, const char *name, int flags, mode_t mode);
int plat_mkdirat(int dirfd, const char *name, mode_t mode);
int plat_unlinkat(int dirfd, const char *name, int flags);
int plat_fstatat(int dirfd, const char *name, struct stat *st, int flags);
int plat_renameat(int olddirfd, const char *oldname, int newdirfd, const char *newname);
int plat_linkat(int olddirfd, const char *oldname, int newdirfd, const char *newname);
/* path below dirfd, no link followed anywhere and never out of dirfd (O_CLOEXEC added): the fd,
 * -errno, or -ENOSYS when the system cannot say (the caller walks one component at a time). */
int plat_open_beneath(int dirfd, const char *path, int flags, mode_t mode);
/* Rename that never replaces: -1 and EEXIST when newname exists; -1 and EINVAL (or ENOSYS,
 * EOPNOTSUPP) where the filesystem cannot (the caller links and unlinks instead). */
int plat_rename_noreplace(int olddirfd, const char *oldname, int newdirfd, const char *newname);
/* Set name's times to now, without following a link there. 0 or -1. */
int plat_touch(int dirfd, const char *name);
/* 1 when fd is the file dirfd/name (not followed) is now, else 0 (also when either cannot be seen). */
int plat_same_file(int fd, int dirfd, const char *name);
/* The absolute path of path with every link resolved (malloc'd), or NULL and errno. */
char *plat_realpath(const char *path);

/* The folder for temporary files: $TMPDIR, else the system's (never NULL; not to be freed). */
const char *plat_temp_dir(void);
/* The user's home folder (containers' ~/.config/containers, ~/.docker), or NULL: not to be freed. */
const char *plat_home_dir(void);

/* A folder's listing. plat_dir_open takes fd (a folder opened for reading) over, also on failure;
 * plat_dir_read returns the next name ("." and ".." included) or NULL at the end. */
struct plat_dir;
struct plat_dir *plat_dir_open(int fd);
const char *plat_dir_read(struct plat_dir *d);
void plat_dir_close(struct plat_dir *d);
/* The folder's fd (plat_dir_open's; closed by plat_dir_close), for the *at calls on its names. */
int plat_dir_fd(struct plat_dir *d);

/* An unnamed file in the folder dir (relative to dirfd; "." for dirfd itself), opened read-write
 * with mode, that disappears if the process dies before plat_tmpfile_link: the fd, or -1 and errno
 * (EOPNOTSUPP, EISDIR, EINVAL: the filesystem has none, the caller makes a named temporary). */
int plat_tmpfile_open(int dirfd, const char *dir, mode_t mode);
/* Give the plat_tmpfile_open fd the name name in dirfd, never replacing a file: 0 or -errno. */
int plat_tmpfile_link(int fd, int dirfd, const char *name);

/* Locks, positioned I/O, sync: as flock (LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN; EWOULDBLOCK when
 * held), pread, pwrite, ftruncate, fsync. */
int plat_flock(int fd, int op);
/* A folder's lock, as flock(LOCK_EX) on the folder: plat_folder_lock waits for it (EINTR retried)
 * and holds it until plat_folder_unlock, which the same thread calls; a holder that dies lets it go.
 * 0, or -1 and errno. */
struct plat_folder_lock {
  int fd;      /* Linux: the folder opened again, flocked */
  void *mutex; /* Windows: the named mutex owned */
};
#define PLAT_FOLDER_LOCK_INIT                                                                                          \
  { .fd = -1, .mutex = NULL }
int plat_folder_lock(int dirfd, struct plat_folder_lock *l);
void plat_folder_unlock(struct plat_folder_lock *l);
/* As fcntl(fd, F_DUPFD_CLOEXEC, min_fd) and fcntl(fd, F_GETFL) (the access mode and O_APPEND are
 * what callers read): -1 and errno on failure. */
int plat_dup_cloexec(int fd, int min_fd);
int plat_fd_flags(int fd);
ssize_t plat_pread(int fd, void *buf, size_t len, uint64_t off);
ssize_t plat_pwrite(int fd, const void *buf, size_t len, uint64_t off);
int plat_ftruncate(int fd, uint64_t size);
int plat_fsync(int fd);
int plat_fdatasync(int fd);
/* Wait until a non-blocking fd (a pipe) takes more bytes. */
void plat_wait_writable(int fd);
/* Wait at most timeout_ms until fd (a pipe, a FIFO) has bytes or its end to read: 1 ready, 0 not
 * yet, -1 and errno (EINTR: ask again). */
int plat_wait_readable(int fd, int timeout_ms);
/* Clear O_NONBLOCK (set at open so that a FIFO cannot block it): 0, or -1 and errno. */
int plat_set_blocking(int fd);
/* Hints, no answer: start writing [off, off+len) back now; fd is read front to back. */
void plat_writeback_start(int fd, uint64_t off, uint64_t len);
void plat_fadvise_sequential(int fd);

/* Sparse files. plat_set_sparse: fd may have holes where nothing is written (0 or -errno; a
 * filesystem without holes is not an error the caller can act on: it writes anyway).
 * plat_punch_hole: [off, off+len) reads as zeros and takes no space (0 or -errno). */
int plat_set_sparse(int fd);
int plat_punch_hole(int fd, uint64_t off, uint64_t len);
/* The first data at or after off, the first hole at or after off: as lseek SEEK_DATA / SEEK_HOLE
 * (-1 and ENXIO past the end; -1 and EINVAL or EOPNOTSUPP where the system cannot say: treat it
 * all as data). */
int64_t plat_seek_data(int fd, uint64_t off);
int64_t plat_seek_hole(int fd, uint64_t off);
/* The bytes the file takes on disk (st from fstat of fd), 0 when it cannot be told. */
uint64_t plat_allocated_bytes(int fd, const struct stat *st);
/* out_fd shares in_fd's blocks (a reflink): 0 or -errno (-EOPNOTSUPP, -EXDEV, -EINVAL: copy). */
int plat_clone(int in_fd, int out_fd);
/* As copy_file_range(in_fd, &in_off, out_fd, &out_off, len, 0): the bytes copied, or -1 and errno
 * (EXDEV, ENOSYS, EINVAL, EOPNOTSUPP: copy with read and write). */
ssize_t plat_copy_range(int in_fd, uint64_t *in_off, int out_fd, uint64_t *out_off, size_t len);

/* A child process: argv[0] looked up in PATH, its stdin and stdout pipes to us (*to_child,
 * *from_child, close-on-exec on our side), its stderr the null device; no other fd of ours
 * inherited. 0 or -errno. plat_wait: 0 with *exited 1 and *code its exit status, or *exited 0 and
 * *code the signal that ended it; -errno when it cannot be waited for. */
#ifdef _WIN32
typedef intptr_t plat_pid;
#else
typedef pid_t plat_pid;
#endif
int plat_spawn_piped(const char *const argv[], plat_pid *pid, int *to_child, int *from_child);
int plat_wait(plat_pid pid, int *exited, int *code);
/* Run argv[0] (a path, not looked up) with stdin, stdout and stderr the null device, and wait
 * for it: 0 when it ran (whatever its exit status), -errno when it could not start. */
int plat_run_quiet(const char *const argv[]);

/* A connected socket (libcurl's curl_socket_t). plat_socket_has_byte: 1 when a byte waits to be
 * read (without reading it or waiting), else 0. plat_socket_close: as close, 0 or -1. */
#ifdef _WIN32
typedef uintptr_t plat_socket;
#else
typedef int plat_socket;
#endif
int plat_socket_has_byte(plat_socket s);
int plat_socket_close(plat_socket s);

/* Writes to a pipe whose reader may be gone without dying of SIGPIPE: between _block and _unblock
 * a write answers EPIPE, and a SIGPIPE raised meanwhile is taken back (one that was pending before
 * is left alone). */
struct plat_sigpipe_guard {
#ifndef _WIN32
  sigset_t old;
  int was_pending;
#else
  int unused;
#endif
};
void plat_sigpipe_block(struct plat_sigpipe_guard *g);
void plat_sigpipe_unblock(struct plat_sigpipe_guard *g);

/* pthread_create for a worker: signals (SIGINT, SIGTERM) stay with the caller's threads. 0 or a
 * positive errno. */
int plat_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

/* n bytes from the system's random source: 0, or -1 (the caller uses something weaker). */
int plat_random_bytes(void *buf, size_t n);
/* Online CPUs, at least 1. */
long plat_cpu_count(void);
/* The machine's architecture as uname -m says it ("x86_64", "aarch64") into out: 0 or -1 and errno. */
int plat_machine(char *out, size_t size);
/* 1 when the process runs with administrator rights (root), else 0. */
int plat_is_admin(void);

#endif
