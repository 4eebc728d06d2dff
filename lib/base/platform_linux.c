/* SPDX-License-Identifier: Apache-2.0 */
/* The platform layer on Linux (lib/base/platform.h): the calls the library made before, moved here
 * as they were. */
#include "base/platform.h"
#include "base/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int plat_openat(int dirfd, const char *name, int flags, mode_t mode) {
  return openat(dirfd, name, flags, mode);
}

int plat_mkdirat(int dirfd, const char *name, mode_t mode) {
  return mkdirat(dirfd, name, mode);
}

int plat_unlinkat(int dirfd, const char *name, int flags) {
  return unlinkat(dirfd, name, flags);
}

int plat_fstatat(int dirfd, const char *name, struct stat *st, int flags) {
  return fstatat(dirfd, name, st, flags);
}

int plat_renameat(int olddirfd, const char *oldname, int newdirfd, const char *newname) {
  return renameat(olddirfd, oldname, newdirfd, newname);
}

int plat_linkat(int olddirfd, const char *oldname, int newdirfd, const char *newname) {
  return linkat(olddirfd, oldname, newdirfd, newname, 0);
}

/* 1: openat2 is known to be missing (ENOSYS once is ENOSYS for the life of the process). */
static int no_openat2;

int plat_open_beneath(int dirfd, const char *path, int flags, mode_t mode) {
  if (__atomic_load_n(&no_openat2, __ATOMIC_RELAXED))
    return -ENOSYS;
  int creates = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
  struct open_how how = {
      .flags = (uint64_t)(flags | O_CLOEXEC),
      .mode = creates ? mode : 0, /* openat2 refuses a mode it would not use */
      .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
  };
  for (int attempt = 0; attempt < 16; attempt++) {
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    if (fd >= 0)
      return (int)fd;
    /* EAGAIN: a rename raced the lookup, which RESOLVE_BENEATH does not let pass unchecked. */
    if (errno == EAGAIN || errno == EINTR)
      continue;
    if (errno == ENOSYS)
      __atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
    return errno == EPERM ? -ENOSYS : -errno; /* EPERM: a seccomp filter; a real EPERM comes back from the walk */
  }
  return -EAGAIN;
}

int plat_rename_noreplace(int olddirfd, const char *oldname, int newdirfd, const char *newname) {
  return renameat2(olddirfd, oldname, newdirfd, newname, RENAME_NOREPLACE);
}

int plat_touch(int dirfd, const char *name) {
  return utimensat(dirfd, name, NULL, AT_SYMLINK_NOFOLLOW);
}

int plat_same_file(int fd, int dirfd, const char *name) {
  struct stat a, b;
  if (fstat(fd, &a) < 0 || fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0)
    return 0;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

char *plat_realpath(const char *path) {
  return realpath(path, NULL);
}

const char *plat_temp_dir(void) {
  const char *dir = secure_getenv("TMPDIR");
  return dir && *dir ? dir : "/tmp";
}

const char *plat_home_dir(void) {
  return getenv("HOME");
}

struct plat_dir *plat_dir_open(int fd) {
  DIR *d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    errno = e;
  }
  return (struct plat_dir *)d;
}

const char *plat_dir_read(struct plat_dir *d) {
  struct dirent *de = readdir((DIR *)d);
  return de ? de->d_name : NULL;
}

int plat_dir_fd(struct plat_dir *d) {
  return dirfd((DIR *)d);
}

void plat_dir_close(struct plat_dir *d) {
  if (d)
    closedir((DIR *)d);
}

int plat_tmpfile_open(int dirfd, const char *dir, mode_t mode) {
  return openat(dirfd, dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
}

int plat_tmpfile_link(int fd, int dirfd, const char *name) {
  if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
    return 0;
  if (errno != ENOENT && errno != EPERM)
    return -errno;
  /* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc route does not. */
  char proc[64];
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
  if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == 0)
    return 0;
  return -errno;
}

int plat_flock(int fd, int op) {
  return flock(fd, op);
}

int plat_folder_lock(int dirfd, struct plat_folder_lock *l) {
  l->fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (l->fd < 0)
    return -1;
  while (flock(l->fd, LOCK_EX) < 0) {
    if (errno != EINTR) {
      int e = errno;
      close(l->fd);
      l->fd = -1;
      errno = e;
      return -1;
    }
  }
  return 0;
}

void plat_folder_unlock(struct plat_folder_lock *l) {
  if (l->fd >= 0)
    close(l->fd);
  l->fd = -1;
}

int plat_dup_cloexec(int fd, int min_fd) {
  return fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
}

int plat_fd_flags(int fd) {
  return fcntl(fd, F_GETFL);
}

ssize_t plat_pread(int fd, void *buf, size_t len, uint64_t off) {
  return pread(fd, buf, len, (off_t)off);
}

ssize_t plat_pwrite(int fd, const void *buf, size_t len, uint64_t off) {
  return pwrite(fd, buf, len, (off_t)off);
}

int plat_ftruncate(int fd, uint64_t size) {
  return ftruncate(fd, (off_t)size);
}

int plat_fsync(int fd) {
  return fsync(fd);
}

int plat_fdatasync(int fd) {
  return fdatasync(fd);
}

int plat_wait_readable(int fd, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int n = poll(&p, 1, timeout_ms);
  return n < 0 ? -1 : n > 0;
}

void plat_wait_writable(int fd) {
  struct pollfd pfd = {.fd = fd, .events = POLLOUT};
  (void)poll(&pfd, 1, -1);
}

int plat_set_blocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ? -1 : 0;
}

void plat_writeback_start(int fd, uint64_t off, uint64_t len) {
  (void)sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
}

void plat_fadvise_sequential(int fd) {
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
}

int plat_set_sparse(int fd) {
  (void)fd;
  return 0;
}

int plat_punch_hole(int fd, uint64_t off, uint64_t len) {
  return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0 ? 0 : -errno;
}

int64_t plat_seek_data(int fd, uint64_t off) {
  return lseek(fd, (off_t)off, SEEK_DATA);
}

int64_t plat_seek_hole(int fd, uint64_t off) {
  return lseek(fd, (off_t)off, SEEK_HOLE);
}

uint64_t plat_allocated_bytes(int fd, const struct stat *st) {
  (void)fd;
  return (uint64_t)st->st_blocks * 512u;
}

int plat_clone(int in_fd, int out_fd) {
  return ioctl(out_fd, FICLONE, in_fd) == 0 ? 0 : -errno;
}

ssize_t plat_copy_range(int in_fd, uint64_t *in_off, int out_fd, uint64_t *out_off, size_t len) {
  loff_t in = (loff_t)*in_off, out = (loff_t)*out_off;
  ssize_t n = copy_file_range(in_fd, &in, out_fd, &out, len, 0);
  if (n > 0) {
    *in_off = (uint64_t)in;
    *out_off = (uint64_t)out;
  }
  return n;
}

int plat_spawn_piped(const char *const argv[], plat_pid *pid, int *to_child, int *from_child) {
  int in[2] = {-1, -1}, outp[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
    int e = errno;
    closep(&in[0]);
    closep(&in[1]);
    return -e;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  int sr = posix_spawnp(pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(outp[1]);
  if (sr != 0) {
    close(in[1]);
    close(outp[0]);
    return -sr;
  }
  *to_child = in[1];
  *from_child = outp[0];
  return 0;
}

int plat_wait(plat_pid pid, int *exited, int *code) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -errno;
  *exited = WIFEXITED(status);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
  return 0;
}

int plat_run_quiet(const char *const argv[]) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int sr = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  if (sr == 0)
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
  posix_spawn_file_actions_destroy(&fa);
  return -sr;
}

int plat_socket_has_byte(plat_socket s) {
  char b;
  return recv(s, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

int plat_socket_close(plat_socket s) {
  return close(s);
}

void plat_sigpipe_block(struct plat_sigpipe_guard *g) {
  sigset_t pipe_set, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigemptyset(&pending);
  sigpending(&pending);
  g->was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

void plat_sigpipe_unblock(struct plat_sigpipe_guard *g) {
  sigset_t pipe_set, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigemptyset(&pending);
  if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
    struct timespec zero = {0, 0};
    sigtimedwait(&pipe_set, NULL, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

int plat_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int r = pthread_create(thread, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return r;
}

int plat_random_bytes(void *buf, size_t n) {
  return getrandom(buf, n, 0) == (ssize_t)n ? 0 : -1;
}

long plat_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n;
}

int plat_machine(char *out, size_t size) {
  struct utsname uts;
  if (uname(&uts) < 0)
    return -1;
  snprintf(out, size, "%s", uts.machine);
  return 0;
}

int plat_is_admin(void) {
  return geteuid() == 0;
}
