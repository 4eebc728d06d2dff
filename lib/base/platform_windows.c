/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The platform layer on Windows (lib/base/platform.h), first part: files and folders
 * (platform_windows_io.c has locks, I/O and sparse files; platform_windows_proc.c processes, threads,
 * the machine, the errno of a Windows error and compat.h's functions).
 *
 * fds are the C runtime's, each over a HANDLE (_open_osfhandle), folders included (opened with
 * FILE_FLAG_BACKUP_SEMANTICS), so the code above keeps its `int dirfd`. A name relative to a folder
 * is joined to the folder's own path (GetFinalPathNameByHandleW: the "\\?\C:\..." form, which
 * takes long paths and no "." or ".." components; the callers give none). Files are opened with
 * FILE_SHARE_DELETE, so that a file in use can be renamed or removed as on Linux.
 *
 * What only a real Windows machine can confirm (wine 8 answers "not supported" or does nothing):
 * FSCTL_QUERY_ALLOCATED_RANGES, FSCTL_SET_ZERO_DATA, FSCTL_DUPLICATE_EXTENTS_TO_FILE (ReFS only),
 * and that a delete-pending temporary vanishes when the process is killed.
 */
/* Windows 10 and later; before any header, which would pick an older one. */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif

#include "base/platform_windows.h"

#include "base/platform.h"
#include "base/util.h"

/* windows.h first: the others need its types. */
// clang-format off
#include <windows.h>
#include <bcrypt.h>
#include <io.h>
#include <stdio.h>
#include <winioctl.h>
// clang-format on

/* ---- text, paths ---- */

/* -1 with errno from GetLastError(). */
static int fail_win(void) {
  errno = plat_win_errno(GetLastError());
  return -1;
}

static int fail_errno(int e) {
  errno = e;
  return -1;
}

/* UTF-8 to UTF-16, '/' turned into '\\' (malloc'd), or NULL and errno. */
static wchar_t *wide(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
  if (n <= 0) {
    errno = EINVAL;
    return NULL;
  }
  wchar_t *w = malloc((size_t)n * sizeof(wchar_t));
  if (!w) {
    errno = ENOMEM;
    return NULL;
  }
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n);
  for (wchar_t *p = w; *p; p++)
    if (*p == L'/')
      *p = L'\\';
  return w;
}

/* UTF-16 to UTF-8 into out (size bytes): 0, or -1 and errno. */
static int narrow_into(const wchar_t *w, char *out, size_t size) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)size, NULL, NULL);
  return n > 0 ? 0 : fail_errno(ENAMETOOLONG);
}

void *plat_win_handle(int fd) {
  return (void *)_get_osfhandle(fd);
}

static HANDLE handle_of(int fd) {
  return plat_win_handle(fd);
}

/* The folder fd's own path ("\\?\C:\..."), malloc'd, or NULL and errno. */
static wchar_t *fd_path(int fd) {
  HANDLE h = handle_of(fd);
  if (h == INVALID_HANDLE_VALUE) {
    errno = EBADF;
    return NULL;
  }
  DWORD n = GetFinalPathNameByHandleW(h, NULL, 0, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
  if (n == 0) {
    fail_win();
    return NULL;
  }
  wchar_t *p = malloc(((size_t)n + 1) * sizeof(wchar_t));
  if (!p) {
    errno = ENOMEM;
    return NULL;
  }
  DWORD got = GetFinalPathNameByHandleW(h, p, n + 1, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
  if (got == 0 || got > n) {
    free(p);
    fail_win();
    return NULL;
  }
  return p;
}

static int is_absolute(const char *name) {
  return name[0] == '/' || name[0] == '\\' || (((name[0] | 0x20) >= 'a' && (name[0] | 0x20) <= 'z') && name[1] == ':');
}

/* name below the folder dirfd as one path (malloc'd): name itself for AT_FDCWD, the folder for
 * ".". NULL and errno. Below a folder, a name with a drive, a backslash or a colon (an alternate
 * data stream) is refused (EXDEV), as fs_beneath refuses "/": it would leave the folder or name
 * something else than a file in it. */
static wchar_t *path_at(int dirfd, const char *name) {
  if (dirfd == AT_FDCWD)
    return wide(name);
  if (is_absolute(name) || strchr(name, '\\') || strchr(name, ':')) {
    errno = EXDEV;
    return NULL;
  }
  _cleanup_free_ wchar_t *dir = fd_path(dirfd);
  if (!dir)
    return NULL;
  if (!strcmp(name, ".") || !*name)
    return TAKE_PTR(dir);
  _cleanup_free_ wchar_t *leaf = wide(name);
  if (!leaf)
    return NULL;
  size_t a = wcslen(dir), b = wcslen(leaf);
  wchar_t *p = malloc((a + b + 2) * sizeof(wchar_t));
  if (!p) {
    errno = ENOMEM;
    return NULL;
  }
  memcpy(p, dir, a * sizeof(wchar_t));
  p[a] = L'\\';
  memcpy(p + a + 1, leaf, (b + 1) * sizeof(wchar_t));
  return p;
}

/* HANDLE to a C runtime fd (the handle is the fd's from now on), or -1 and errno. */
static int fd_of(HANDLE h, int flags) {
  int crt = _O_BINARY | (flags & O_CLOEXEC ? _O_NOINHERIT : 0);
  if ((flags & O_ACCMODE) == O_RDONLY)
    crt |= _O_RDONLY;
  int fd = _open_osfhandle((intptr_t)h, crt);
  if (fd < 0) {
    CloseHandle(h);
    return fail_errno(EMFILE);
  }
  return fd;
}

/* ---- folder-relative access ---- */

int plat_openat(int dirfd, const char *name, int flags, mode_t mode) {
  if ((flags & O_TMPFILE) == O_TMPFILE)
    return plat_tmpfile_open(dirfd, name, mode);
  _cleanup_free_ wchar_t *path = path_at(dirfd, name);
  if (!path)
    return -1;
  /* No DELETE access: FindFirstFile (wine's at least) refuses a folder open with it. A file stays
   * renamable and removable by name anyway: FILE_SHARE_DELETE. */
  DWORD access = 0;
  if (flags & O_PATH)
    access |= FILE_READ_ATTRIBUTES;
  else if ((flags & O_ACCMODE) == O_RDONLY)
    access |= GENERIC_READ;
  else if ((flags & O_ACCMODE) == O_WRONLY)
    access |= GENERIC_WRITE | FILE_READ_ATTRIBUTES;
  else
    access |= GENERIC_READ | GENERIC_WRITE;
  DWORD disposition = OPEN_EXISTING;
  if ((flags & O_CREAT) && (flags & O_EXCL))
    disposition = CREATE_NEW;
  else if ((flags & O_CREAT) && (flags & O_TRUNC))
    disposition = CREATE_ALWAYS;
  else if (flags & O_CREAT)
    disposition = OPEN_ALWAYS;
  else if (flags & O_TRUNC)
    disposition = TRUNCATE_EXISTING;
  DWORD attrs = FILE_FLAG_BACKUP_SEMANTICS | FILE_ATTRIBUTE_NORMAL;
  if (flags & O_NOFOLLOW)
    attrs |= FILE_FLAG_OPEN_REPARSE_POINT;
  (void)mode; /* Windows' files have ACLs; a new file gets its folder's */
  HANDLE h =
      CreateFileW(path, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, disposition, attrs, NULL);
  if (h == INVALID_HANDLE_VALUE)
    return fail_win();
  BY_HANDLE_FILE_INFORMATION info;
  if (!GetFileInformationByHandle(h, &info)) {
    int e = plat_win_errno(GetLastError());
    CloseHandle(h);
    return fail_errno(e);
  }
  int is_dir = !!(info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY);
  int e = 0;
  if ((flags & O_NOFOLLOW) && (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT))
    e = ELOOP; /* a symbolic link or a junction: not followed */
  else if ((flags & O_DIRECTORY) && !is_dir)
    e = ENOTDIR;
  else if (is_dir && (flags & O_ACCMODE) != O_RDONLY)
    e = EISDIR;
  if (e) {
    CloseHandle(h);
    return fail_errno(e);
  }
  return fd_of(h, flags);
}

int plat_open_beneath(int dirfd, const char *path, int flags, mode_t mode) {
  (void)dirfd, (void)path, (void)flags, (void)mode;
  return -ENOSYS; /* no RESOLVE_BENEATH: fs_beneath walks with O_NOFOLLOW */
}

int plat_mkdirat(int dirfd, const char *name, mode_t mode) {
  (void)mode;
  _cleanup_free_ wchar_t *path = path_at(dirfd, name);
  if (!path)
    return -1;
  return CreateDirectoryW(path, NULL) ? 0 : fail_win();
}

int plat_unlinkat(int dirfd, const char *name, int flags) {
  _cleanup_free_ wchar_t *path = path_at(dirfd, name);
  if (!path)
    return -1;
  if (flags & AT_REMOVEDIR)
    return RemoveDirectoryW(path) ? 0 : fail_win();
  if (DeleteFileW(path))
    return 0;
  DWORD e = GetLastError();
  /* A symbolic link to a folder is removed as a folder. */
  DWORD a = GetFileAttributesW(path);
  if (e == ERROR_ACCESS_DENIED && a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_REPARSE_POINT) &&
      (a & FILE_ATTRIBUTE_DIRECTORY))
    return RemoveDirectoryW(path) ? 0 : fail_win();
  if (e == ERROR_ACCESS_DENIED && a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY))
    return fail_errno(EISDIR);
  return fail_errno(plat_win_errno(e));
}

static time_t time_of(FILETIME ft) {
  uint64_t t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
  return (time_t)((int64_t)(t / 10000000u) - 11644473600LL);
}

static void stat_fill(struct stat *st, DWORD attrs, uint64_t size, FILETIME atime, FILETIME mtime, FILETIME ctime,
                      int nofollow, DWORD links) {
  memset(st, 0, sizeof(*st));
  if (nofollow && (attrs & FILE_ATTRIBUTE_REPARSE_POINT))
    st->st_mode = S_IFLNK | 0777;
  else if (attrs & FILE_ATTRIBUTE_DIRECTORY)
    st->st_mode = S_IFDIR | 0755;
  else
    st->st_mode = S_IFREG | ((attrs & FILE_ATTRIBUTE_READONLY) ? 0444 : 0644);
  st->st_size = (off_t)size;
  st->st_atime = time_of(atime);
  st->st_mtime = time_of(mtime);
  st->st_ctime = time_of(ctime);
  st->st_nlink = (short)(links ? links : 1);
}

int plat_fstatat(int dirfd, const char *name, struct stat *st, int flags) {
  _cleanup_free_ wchar_t *path = path_at(dirfd, name);
  if (!path)
    return -1;
  int nofollow = !!(flags & AT_SYMLINK_NOFOLLOW);
  HANDLE h =
      CreateFileW(path, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                  OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | (nofollow ? FILE_FLAG_OPEN_REPARSE_POINT : 0), NULL);
  if (h == INVALID_HANDLE_VALUE) {
    /* A delete-pending or locked file: its attributes still answer. */
    WIN32_FILE_ATTRIBUTE_DATA d;
    if (!GetFileAttributesExW(path, GetFileExInfoStandard, &d))
      return fail_win();
    stat_fill(st, d.dwFileAttributes, ((uint64_t)d.nFileSizeHigh << 32) | d.nFileSizeLow, d.ftLastAccessTime,
              d.ftLastWriteTime, d.ftCreationTime, nofollow, 1);
    return 0;
  }
  BY_HANDLE_FILE_INFORMATION info;
  int ok = GetFileInformationByHandle(h, &info);
  DWORD e = GetLastError();
  CloseHandle(h);
  if (!ok)
    return fail_errno(plat_win_errno(e));
  stat_fill(st, info.dwFileAttributes, ((uint64_t)info.nFileSizeHigh << 32) | info.nFileSizeLow, info.ftLastAccessTime,
            info.ftLastWriteTime, info.ftCreationTime, nofollow, info.nNumberOfLinks);
  return 0;
}

/* FileRenameInfoEx (Windows 10 1809), which mingw-w64 names only for NTDDI 0x0A000002 and up. */
#define FILE_RENAME_INFO_EX ((FILE_INFO_BY_HANDLE_CLASS)22)

/* from renamed to to (full paths) by handle with POSIX semantics (Windows 10 1809): a file that is open (a disk a
 * VM holds) is replaced as on Linux. 0, or -1 and errno (EACCES where the system has no such
 * rename: before Windows 10 1809, FAT, wine). */
static int rename_posix(const wchar_t *from, const wchar_t *to) {
  HANDLE h = CreateFileW(from, DELETE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
                         FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  if (h == INVALID_HANDLE_VALUE)
    return fail_win();
  size_t len = wcslen(to);
  size_t size = sizeof(FILE_RENAME_INFO) + (len + 1) * sizeof(wchar_t);
  FILE_RENAME_INFO *ri = calloc(1, size);
  if (!ri) {
    CloseHandle(h);
    return fail_errno(ENOMEM);
  }
  /* FileRenameInfoEx reads FILE_RENAME_INFO's first member as a DWORD of flags. */
  DWORD flags = FILE_RENAME_FLAG_REPLACE_IF_EXISTS | FILE_RENAME_FLAG_POSIX_SEMANTICS;
  memcpy(ri, &flags, sizeof(flags));
  ri->FileNameLength = (DWORD)(len * sizeof(wchar_t));
  memcpy(ri->FileName, to, (len + 1) * sizeof(wchar_t));
  int ok = SetFileInformationByHandle(h, FILE_RENAME_INFO_EX, ri, (DWORD)size);
  DWORD e = GetLastError();
  free(ri);
  CloseHandle(h);
  return ok ? 0 : fail_errno(e == ERROR_INVALID_PARAMETER || e == ERROR_NOT_SUPPORTED ? EACCES : plat_win_errno(e));
}

int compat_fstat(int fd, struct stat *st) {
  HANDLE h = handle_of(fd);
  if (h == INVALID_HANDLE_VALUE)
    return fail_errno(EBADF);
  DWORD type = GetFileType(h);
  if (type != FILE_TYPE_DISK) {
    memset(st, 0, sizeof(*st));
    st->st_mode = (type == FILE_TYPE_PIPE ? _S_IFIFO : _S_IFCHR) | 0600;
    st->st_nlink = 1;
    return 0;
  }
  BY_HANDLE_FILE_INFORMATION info;
  if (!GetFileInformationByHandle(h, &info))
    return fail_win();
  stat_fill(st, info.dwFileAttributes, ((uint64_t)info.nFileSizeHigh << 32) | info.nFileSizeLow, info.ftLastAccessTime,
            info.ftLastWriteTime, info.ftCreationTime, 0, info.nNumberOfLinks);
  return 0;
}

int plat_renameat(int olddirfd, const char *oldname, int newdirfd, const char *newname) {
  _cleanup_free_ wchar_t *from = path_at(olddirfd, oldname);
  _cleanup_free_ wchar_t *to = from ? path_at(newdirfd, newname) : NULL;
  if (!to)
    return -1;
  if (MoveFileExW(from, to, MOVEFILE_REPLACE_EXISTING))
    return 0;
  if (GetLastError() != ERROR_ACCESS_DENIED)
    return fail_win();
  return rename_posix(from, to); /* the target is open somewhere */
}

int plat_rename_noreplace(int olddirfd, const char *oldname, int newdirfd, const char *newname) {
  _cleanup_free_ wchar_t *from = path_at(olddirfd, oldname);
  _cleanup_free_ wchar_t *to = from ? path_at(newdirfd, newname) : NULL;
  if (!to)
    return -1;
  return MoveFileExW(from, to, 0) ? 0 : fail_win();
}

int plat_linkat(int olddirfd, const char *oldname, int newdirfd, const char *newname) {
  _cleanup_free_ wchar_t *from = path_at(olddirfd, oldname);
  _cleanup_free_ wchar_t *to = from ? path_at(newdirfd, newname) : NULL;
  if (!to)
    return -1;
  return CreateHardLinkW(to, from, NULL) ? 0 : fail_win();
}

int plat_touch(int dirfd, const char *name) {
  _cleanup_free_ wchar_t *path = path_at(dirfd, name);
  if (!path)
    return -1;
  HANDLE h = CreateFileW(path, FILE_WRITE_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                         OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  if (h == INVALID_HANDLE_VALUE)
    return fail_win();
  FILETIME now;
  GetSystemTimeAsFileTime(&now);
  int ok = SetFileTime(h, NULL, &now, &now);
  DWORD e = GetLastError();
  CloseHandle(h);
  return ok ? 0 : fail_errno(plat_win_errno(e));
}

static int file_id(HANDLE h, DWORD *volume, uint64_t *index) {
  BY_HANDLE_FILE_INFORMATION info;
  if (!GetFileInformationByHandle(h, &info))
    return -1;
  *volume = info.dwVolumeSerialNumber;
  *index = ((uint64_t)info.nFileIndexHigh << 32) | info.nFileIndexLow;
  return 0;
}

int plat_same_file(int fd, int dirfd, const char *name) {
  _cleanup_free_ wchar_t *path = path_at(dirfd, name);
  if (!path)
    return 0;
  HANDLE there = CreateFileW(path, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                             OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  if (there == INVALID_HANDLE_VALUE)
    return 0;
  DWORD va = 0, vb = 0;
  uint64_t ia = 0, ib = 0;
  int same = file_id(handle_of(fd), &va, &ia) == 0 && file_id(there, &vb, &ib) == 0 && va == vb && ia == ib;
  CloseHandle(there);
  return same;
}

/* "\\?\C:\x" -> "C:\x", "\\?\UNC\host\share" -> "\\host\share", in place. */
static void strip_verbatim(wchar_t *p) {
  if (!wcsncmp(p, L"\\\\?\\UNC\\", 8)) {
    memmove(p + 2, p + 8, (wcslen(p + 8) + 1) * sizeof(wchar_t));
  } else if (!wcsncmp(p, L"\\\\?\\", 4)) {
    memmove(p, p + 4, (wcslen(p + 4) + 1) * sizeof(wchar_t));
  }
}

char *plat_realpath(const char *path) {
  _cleanup_free_ wchar_t *w = wide(path);
  if (!w)
    return NULL;
  HANDLE h = CreateFileW(w, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                         OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
  if (h == INVALID_HANDLE_VALUE) {
    fail_win();
    return NULL;
  }
  int fd = fd_of(h, O_RDONLY);
  if (fd < 0)
    return NULL;
  _cleanup_free_ wchar_t *full = fd_path(fd);
  _close(fd);
  if (!full)
    return NULL;
  strip_verbatim(full);
  size_t cap = wcslen(full) * 3 + 1;
  char *out = malloc(cap);
  if (!out) {
    errno = ENOMEM;
    return NULL;
  }
  if (narrow_into(full, out, cap) < 0) {
    free(out);
    return NULL;
  }
  return out;
}

struct plat_dir {
  int fd;
  HANDLE find;
  WIN32_FIND_DATAW data;
  int pending; /* data holds an entry not handed out yet */
  char name[MAX_PATH * 3];
};

struct plat_dir *plat_dir_open(int fd) {
  _cleanup_free_ wchar_t *dir = fd_path(fd);
  int e = errno;
  if (!dir) {
    _close(fd);
    errno = e;
    return NULL;
  }
  size_t n = wcslen(dir);
  _cleanup_free_ wchar_t *pattern = malloc((n + 3) * sizeof(wchar_t));
  struct plat_dir *d = calloc(1, sizeof(*d));
  if (!pattern || !d) {
    free(d);
    _close(fd);
    errno = ENOMEM;
    return NULL;
  }
  d->fd = fd;
  memcpy(pattern, dir, n * sizeof(wchar_t));
  memcpy(pattern + n, L"\\*", 3 * sizeof(wchar_t));
  d->find =
      FindFirstFileExW(pattern, FindExInfoBasic, &d->data, FindExSearchNameMatch, NULL, FIND_FIRST_EX_LARGE_FETCH);
  if (d->find == INVALID_HANDLE_VALUE) {
    if (GetLastError() != ERROR_FILE_NOT_FOUND) {
      e = plat_win_errno(GetLastError());
      free(d);
      _close(fd);
      errno = e;
      return NULL;
    }
  } else {
    d->pending = 1;
  }
  return d;
}

const char *plat_dir_read(struct plat_dir *d) {
  for (;;) {
    if (d->find == INVALID_HANDLE_VALUE)
      return NULL;
    if (!d->pending && !FindNextFileW(d->find, &d->data))
      return NULL;
    d->pending = 0;
    if (narrow_into(d->data.cFileName, d->name, sizeof(d->name)) == 0)
      return d->name;
    /* a name that is not valid UTF-16 cannot be a name of ours: skipped */
  }
}

void plat_dir_close(struct plat_dir *d) {
  if (!d)
    return;
  if (d->find != INVALID_HANDLE_VALUE)
    FindClose(d->find);
  _close(d->fd);
  free(d);
}

int plat_dir_fd(struct plat_dir *d) {
  return d->fd;
}

/* ---- temporary and publish ---- */

static int set_delete_pending(HANDLE h, BOOL on) {
  FILE_DISPOSITION_INFO di = {.DeleteFile = on};
  return SetFileInformationByHandle(h, FileDispositionInfo, &di, sizeof(di)) ? 0 : -1;
}

int plat_tmpfile_open(int dirfd, const char *dir, mode_t mode) {
  (void)mode;
  uint8_t rnd[12];
  if (plat_random_bytes(rnd, sizeof(rnd)) < 0)
    return -1;
  char name[PATH_MAX];
  /* "\\?\" paths take no "." component */
  int at = strcmp(dir, ".") ? snprintf(name, sizeof(name), "%s/.vmpull-tmp-", dir)
                            : snprintf(name, sizeof(name), ".vmpull-tmp-");
  for (size_t i = 0; i < sizeof(rnd); i++)
    at += snprintf(name + at, sizeof(name) - (size_t)at, "%02x", rnd[i]);
  if ((size_t)at >= sizeof(name))
    return fail_errno(ENAMETOOLONG);
  _cleanup_free_ wchar_t *path = path_at(dirfd, name);
  if (!path)
    return -1;
  HANDLE h =
      CreateFileW(path, GENERIC_READ | GENERIC_WRITE | DELETE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                  NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
  if (h == INVALID_HANDLE_VALUE)
    return fail_win();
  /* Delete-pending from the start: a process that dies leaves nothing behind. */
  if (set_delete_pending(h, TRUE) < 0) {
    int e = plat_win_errno(GetLastError());
    CloseHandle(h);
    DeleteFileW(path);
    return fail_errno(e == EOPNOTSUPP ? EOPNOTSUPP : e);
  }
  return fd_of(h, O_RDWR | O_CLOEXEC);
}

int plat_tmpfile_link(int fd, int dirfd, const char *name) {
  HANDLE h = handle_of(fd);
  _cleanup_free_ wchar_t *to = path_at(dirfd, name);
  if (!to)
    return -errno;
  size_t len = wcslen(to);
  size_t size = sizeof(FILE_RENAME_INFO) + (len + 1) * sizeof(wchar_t);
  _cleanup_free_ FILE_RENAME_INFO *ri = calloc(1, size);
  if (!ri)
    return -ENOMEM;
  ri->ReplaceIfExists = FALSE;
  ri->RootDirectory = NULL;
  ri->FileNameLength = (DWORD)(len * sizeof(wchar_t));
  memcpy(ri->FileName, to, (len + 1) * sizeof(wchar_t));
  if (set_delete_pending(h, FALSE) < 0)
    return -plat_win_errno(GetLastError());
  if (!SetFileInformationByHandle(h, FileRenameInfo, ri, (DWORD)size)) {
    int e = plat_win_errno(GetLastError());
    (void)set_delete_pending(h, TRUE);
    return -e;
  }
  return 0;
}
