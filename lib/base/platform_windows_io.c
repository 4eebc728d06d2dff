/* SPDX-License-Identifier: Apache-2.0 */
/* The platform layer on Windows, second part: locks, positioned I/O, sync, sparse files and copies
 * (the folders are in platform_windows.c). */
/* Windows 10 and later; before any header, which would pick an older one. */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif

#include "base/platform.h"
#include "base/platform_windows.h"
#include "base/util.h"

/* windows.h first: the others need its types. */
// clang-format off
#include <windows.h>
#include <io.h>
#include <winioctl.h>
#include <winternl.h>
// clang-format on

#ifndef FSCTL_DUPLICATE_EXTENTS_TO_FILE
#define FSCTL_DUPLICATE_EXTENTS_TO_FILE CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 209, METHOD_BUFFERED, FILE_WRITE_DATA)
typedef struct {
  HANDLE FileHandle;
  LARGE_INTEGER SourceFileOffset;
  LARGE_INTEGER TargetFileOffset;
  LARGE_INTEGER ByteCount;
} DUPLICATE_EXTENTS_DATA;
#endif
#ifndef FSCTL_GET_INTEGRITY_INFORMATION
#define FSCTL_GET_INTEGRITY_INFORMATION CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 159, METHOD_BUFFERED, FILE_ANY_ACCESS)
typedef struct {
  WORD ChecksumAlgorithm;
  WORD Reserved;
  DWORD Flags;
  DWORD ChecksumChunkSizeInBytes;
  DWORD ClusterSizeInBytes;
} FSCTL_GET_INTEGRITY_INFORMATION_BUFFER;
#endif

static int fail_with(int e) {
  errno = e;
  return -1;
}

static int fail_last(void) {
  return fail_with(plat_win_errno(GetLastError()));
}

/* ---- locks, positioned I/O, sync ---- */

/* flock is advisory and LockFileEx is not: the lock is taken on one byte far past any data, so
 * that reads and writes through other handles are never refused. */
#define LOCK_OFFSET_HIGH 0x7fffffffu
#define LOCK_OFFSET_LOW 0xfffffff0u

int plat_flock(int fd, int op) {
  HANDLE h = plat_win_handle(fd);
  if (h == INVALID_HANDLE_VALUE)
    return fail_with(EBADF);
  OVERLAPPED ov = {.Offset = LOCK_OFFSET_LOW, .OffsetHigh = LOCK_OFFSET_HIGH};
  if (op & LOCK_UN)
    return UnlockFileEx(h, 0, 1, 0, &ov) ? 0 : fail_last();
  DWORD how = (op & LOCK_EX ? LOCKFILE_EXCLUSIVE_LOCK : 0) | (op & LOCK_NB ? LOCKFILE_FAIL_IMMEDIATELY : 0);
  if (LockFileEx(h, how, 0, 1, 0, &ov))
    return 0;
  DWORD e = GetLastError();
  if (e == ERROR_LOCK_VIOLATION || e == ERROR_IO_PENDING)
    return fail_with(EWOULDBLOCK);
  return fail_with(plat_win_errno(e)); /* a folder: plat_folder_lock */
}

/* A folder takes no byte-range lock, and a lock file would litter the folder (an OCI layout is
 * carried elsewhere): a mutex named after the folder's identity instead, which every process of
 * the logon session sees, and which Windows hands on (abandoned) when its holder dies, as the
 * kernel drops a dead process's flock. */
int plat_folder_lock(int dirfd, struct plat_folder_lock *l) {
  HANDLE h = plat_win_handle(dirfd);
  if (h == INVALID_HANDLE_VALUE)
    return fail_with(EBADF);
  BY_HANDLE_FILE_INFORMATION info;
  if (!GetFileInformationByHandle(h, &info))
    return fail_last();
  wchar_t name[64] = {0};
  _snwprintf(name, sizeof(name) / sizeof(name[0]) - 1, L"Local\\vmpull-folder-%08lx-%08lx%08lx",
             (unsigned long)info.dwVolumeSerialNumber, (unsigned long)info.nFileIndexHigh,
             (unsigned long)info.nFileIndexLow);
  HANDLE m = CreateMutexW(NULL, FALSE, name);
  if (!m)
    return fail_last();
  DWORD w = WaitForSingleObject(m, INFINITE);
  if (w != WAIT_OBJECT_0 && w != WAIT_ABANDONED) {
    DWORD e = GetLastError();
    CloseHandle(m);
    return fail_with(plat_win_errno(e));
  }
  l->mutex = m;
  return 0;
}

void plat_folder_unlock(struct plat_folder_lock *l) {
  if (l->mutex) {
    ReleaseMutex(l->mutex);
    CloseHandle(l->mutex);
  }
  l->mutex = NULL;
}

int plat_dup_cloexec(int fd, int min_fd) {
  (void)min_fd; /* the runtime hands out the lowest free fd; 0 to 2 are the standard streams' */
  HANDLE h = plat_win_handle(fd), dup = NULL;
  if (h == INVALID_HANDLE_VALUE)
    return fail_with(EBADF);
  int flags = plat_fd_flags(fd);
  if (flags < 0)
    return -1;
  if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &dup, 0, FALSE, DUPLICATE_SAME_ACCESS))
    return fail_last();
  int crt =
      _O_BINARY | _O_NOINHERIT | ((flags & O_ACCMODE) == O_RDONLY ? _O_RDONLY : 0) | (flags & O_APPEND ? _O_APPEND : 0);
  int out = _open_osfhandle((intptr_t)dup, crt);
  if (out < 0) {
    CloseHandle(dup);
    return fail_with(EMFILE);
  }
  return out;
}

/* What the handle may do (its granted access) is what the fd was opened for. */
int plat_fd_flags(int fd) {
  HANDLE h = plat_win_handle(fd);
  if (h == INVALID_HANDLE_VALUE)
    return fail_with(EBADF);
  PUBLIC_OBJECT_BASIC_INFORMATION info;
  ULONG got = 0;
  if (NtQueryObject(h, ObjectBasicInformation, &info, sizeof(info), &got) < 0)
    return fail_with(EBADF);
  ACCESS_MASK a = info.GrantedAccess;
  int can_read = !!(a & (FILE_READ_DATA | GENERIC_READ | GENERIC_ALL));
  int can_write = !!(a & (FILE_WRITE_DATA | GENERIC_WRITE | GENERIC_ALL));
  int appends = !can_write && (a & FILE_APPEND_DATA);
  int flags = can_read && (can_write || appends) ? O_RDWR : (can_write || appends) ? O_WRONLY : O_RDONLY;
  return flags | (appends ? O_APPEND : 0);
}

/* ReadFile and WriteFile at an offset move the file position: put back, as pread leaves it. */
static ssize_t rw_at(int fd, void *buf, size_t len, uint64_t off, int write) {
  HANDLE h = plat_win_handle(fd);
  if (h == INVALID_HANDLE_VALUE)
    return fail_with(EBADF);
  LARGE_INTEGER zero = {0}, pos;
  int have_pos = SetFilePointerEx(h, zero, &pos, FILE_CURRENT);
  OVERLAPPED ov = {.Offset = (DWORD)off, .OffsetHigh = (DWORD)(off >> 32)};
  DWORD n = 0, chunk = len > 0x40000000u ? 0x40000000u : (DWORD)len;
  BOOL ok = write ? WriteFile(h, buf, chunk, &n, &ov) : ReadFile(h, buf, chunk, &n, &ov);
  DWORD e = ok ? 0 : GetLastError();
  if (have_pos)
    SetFilePointerEx(h, pos, NULL, FILE_BEGIN);
  if (!ok && !write && e == ERROR_HANDLE_EOF)
    return 0;
  if (!ok && write && e == ERROR_ACCESS_DENIED)
    return fail_with(EBADF); /* as pwrite on an fd not open for writing */
  if (!ok)
    return fail_with(plat_win_errno(e));
  return (ssize_t)n;
}

ssize_t plat_pread(int fd, void *buf, size_t len, uint64_t off) {
  return rw_at(fd, buf, len, off, 0);
}

ssize_t plat_pwrite(int fd, const void *buf, size_t len, uint64_t off) {
  return rw_at(fd, (void *)buf, len, off, 1);
}

int plat_ftruncate(int fd, uint64_t size) {
  FILE_END_OF_FILE_INFO eof = {.EndOfFile.QuadPart = (LONGLONG)size};
  return SetFileInformationByHandle(plat_win_handle(fd), FileEndOfFileInfo, &eof, sizeof(eof)) ? 0 : fail_last();
}

int plat_fsync(int fd) {
  HANDLE h = plat_win_handle(fd);
  if (FlushFileBuffers(h))
    return 0;
  /* A folder cannot be flushed (and needs no flush: NTFS journals its names). */
  BY_HANDLE_FILE_INFORMATION info;
  if (GetFileInformationByHandle(h, &info) && (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
    return 0;
  return fail_last();
}

int plat_fdatasync(int fd) {
  return plat_fsync(fd);
}

int plat_wait_readable(int fd, int timeout_ms) {
  HANDLE h = plat_win_handle(fd);
  if (h == INVALID_HANDLE_VALUE)
    return fail_with(EBADF);
  if (GetFileType(h) != FILE_TYPE_PIPE)
    return 1; /* a file, a console: the read itself waits */
  for (int waited = 0;; waited += 10) {
    DWORD avail = 0;
    if (!PeekNamedPipe(h, NULL, 0, NULL, &avail, NULL) || avail > 0)
      return 1; /* bytes, or the writer gone: read says which */
    if (waited >= timeout_ms)
      return 0;
    Sleep(10);
  }
}

void plat_wait_writable(int fd) {
  (void)fd;
  Sleep(1); /* the C runtime's pipes block: EAGAIN does not come back */
}

int plat_set_blocking(int fd) {
  (void)fd;
  return 0; /* files and folders never block on open */
}

void plat_writeback_start(int fd, uint64_t off, uint64_t len) {
  (void)fd, (void)off, (void)len;
}

void plat_fadvise_sequential(int fd) {
  (void)fd;
}

/* ---- sparse files and copies ---- */

static int fsctl(int fd, DWORD code, void *in, DWORD in_len, void *out, DWORD out_len, DWORD *got) {
  DWORD n = 0;
  if (DeviceIoControl(plat_win_handle(fd), code, in, in_len, out, out_len, &n, NULL)) {
    if (got)
      *got = n;
    return 0;
  }
  if (got)
    *got = n;
  return -plat_win_errno(GetLastError());
}

int plat_set_sparse(int fd) {
  return fsctl(fd, FSCTL_SET_SPARSE, NULL, 0, NULL, 0, NULL);
}

int plat_punch_hole(int fd, uint64_t off, uint64_t len) {
  FILE_ZERO_DATA_INFORMATION z = {.FileOffset.QuadPart = (LONGLONG)off,
                                  .BeyondFinalZero.QuadPart = (LONGLONG)(off + len)};
  return fsctl(fd, FSCTL_SET_ZERO_DATA, &z, sizeof(z), NULL, 0, NULL);
}

/* The allocated ranges of fd from off on, as SEEK_DATA (want_hole 0) or SEEK_HOLE (1) answer. */
static int64_t seek_allocated(int fd, uint64_t off, int want_hole) {
  LARGE_INTEGER size;
  if (!GetFileSizeEx(plat_win_handle(fd), &size))
    return fail_last();
  uint64_t end = (uint64_t)size.QuadPart;
  if (off >= end)
    return fail_with(ENXIO);
  uint64_t at = off;
  while (at < end) {
    FILE_ALLOCATED_RANGE_BUFFER in = {.FileOffset.QuadPart = (LONGLONG)at, .Length.QuadPart = (LONGLONG)(end - at)};
    FILE_ALLOCATED_RANGE_BUFFER out[64];
    DWORD got = 0;
    int more = 0;
    if (!DeviceIoControl(plat_win_handle(fd), FSCTL_QUERY_ALLOCATED_RANGES, &in, sizeof(in), out, sizeof(out), &got,
                         NULL)) {
      DWORD e = GetLastError();
      more = e == ERROR_MORE_DATA;
      if (!more || got == 0) {
        int en = plat_win_errno(e);
        return fail_with(en == EOPNOTSUPP ? EINVAL : en); /* wine, FAT: no ranges to ask for */
      }
    }
    size_t n = got / sizeof(out[0]);
    if (n == 0)
      return want_hole ? (int64_t)at : fail_with(ENXIO); /* only a hole remains */
    for (size_t i = 0; i < n; i++) {
      uint64_t s = (uint64_t)out[i].FileOffset.QuadPart, e = s + (uint64_t)out[i].Length.QuadPart;
      if (!want_hole)
        return (int64_t)(s > at ? s : at);
      if (s > at)
        return (int64_t)at; /* a hole before this range */
      at = e > at ? e : at;
    }
    if (!more)
      break;
  }
  return want_hole ? (int64_t)(at < end ? at : end) : fail_with(ENXIO);
}

int64_t plat_seek_data(int fd, uint64_t off) {
  return seek_allocated(fd, off, 0);
}

int64_t plat_seek_hole(int fd, uint64_t off) {
  return seek_allocated(fd, off, 1);
}

uint64_t plat_allocated_bytes(int fd, const struct stat *st) {
  (void)st;
  FILE_STANDARD_INFO info;
  if (!GetFileInformationByHandleEx(plat_win_handle(fd), FileStandardInfo, &info, sizeof(info)))
    return 0;
  return (uint64_t)info.AllocationSize.QuadPart;
}

int plat_clone(int in_fd, int out_fd) {
  LARGE_INTEGER size;
  if (!GetFileSizeEx(plat_win_handle(in_fd), &size))
    return -plat_win_errno(GetLastError());
  FSCTL_GET_INTEGRITY_INFORMATION_BUFFER integrity = {0};
  uint64_t cluster = 4096;
  if (fsctl(out_fd, FSCTL_GET_INTEGRITY_INFORMATION, NULL, 0, &integrity, sizeof(integrity), NULL) == 0 &&
      integrity.ClusterSizeInBytes)
    cluster = integrity.ClusterSizeInBytes;
  else
    return -EOPNOTSUPP; /* not ReFS: no block cloning */
  if (plat_ftruncate(out_fd, (uint64_t)size.QuadPart) < 0)
    return -errno;
  uint64_t bytes = ((uint64_t)size.QuadPart + cluster - 1) / cluster * cluster;
  for (uint64_t off = 0; off < bytes;) {
    uint64_t n = bytes - off > ((uint64_t)1 << 30) ? ((uint64_t)1 << 30) : bytes - off;
    DUPLICATE_EXTENTS_DATA dup = {.FileHandle = plat_win_handle(in_fd)};
    dup.SourceFileOffset.QuadPart = (LONGLONG)off;
    dup.TargetFileOffset.QuadPart = (LONGLONG)off;
    dup.ByteCount.QuadPart = (LONGLONG)n;
    int r = fsctl(out_fd, FSCTL_DUPLICATE_EXTENTS_TO_FILE, &dup, sizeof(dup), NULL, 0, NULL);
    if (r < 0)
      return r;
    off += n;
  }
  return 0;
}

ssize_t plat_copy_range(int in_fd, uint64_t *in_off, int out_fd, uint64_t *out_off, size_t len) {
  (void)in_fd, (void)in_off, (void)out_fd, (void)out_off, (void)len;
  return fail_with(ENOSYS);
}
