/* SPDX-License-Identifier: Apache-2.0 */
/* The platform layer on Windows, second part: processes, signals, threads, the machine, the errno
 * of a Windows error, and compat.h's C library functions (the files are in platform_windows.c). */
/* Windows 10 and later; before any header, which would pick an older one. */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif

#include "base/platform.h"
#include "base/platform_windows.h"
#include "base/util.h"

/* windows.h first: the others need its types. */
// clang-format off
#include <winsock2.h>
#include <windows.h>
#include <bcrypt.h>
#include <io.h>
#include <stdio.h>
// clang-format on

static int fail_with(int e) {
  errno = e;
  return -1;
}

/* ---- processes ---- */

/* argv as one command line that the child's C runtime splits back into argv (the rules of
 * CommandLineToArgvW: quotes, and backslashes before a quote doubled). */
static wchar_t *command_line(const char *const argv[]) {
  size_t cap = 1;
  for (size_t i = 0; argv[i]; i++)
    cap += strlen(argv[i]) * 2 + 3;
  _cleanup_free_ char *line = malloc(cap);
  if (!line) {
    errno = ENOMEM;
    return NULL;
  }
  char *p = line;
  for (size_t i = 0; argv[i]; i++) {
    if (i)
      *p++ = ' ';
    *p++ = '"';
    size_t slashes = 0;
    for (const char *c = argv[i];; c++) {
      if (*c == '\\') {
        slashes++;
        continue;
      }
      size_t times = *c == '"' || !*c ? slashes * 2 : slashes;
      for (size_t k = 0; k < times; k++)
        *p++ = '\\';
      slashes = 0;
      if (!*c)
        break;
      if (*c == '"')
        *p++ = '\\';
      *p++ = *c;
    }
    *p++ = '"';
  }
  *p = '\0';
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, line, -1, NULL, 0);
  wchar_t *w = n > 0 ? malloc((size_t)n * sizeof(wchar_t)) : NULL;
  if (!w) {
    errno = n > 0 ? ENOMEM : EINVAL;
    return NULL;
  }
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, line, -1, w, n);
  return w;
}

int plat_spawn_piped(const char *const argv[], plat_pid *pid, int *to_child, int *from_child) {
  _cleanup_free_ wchar_t *cmd = command_line(argv);
  if (!cmd)
    return -errno;
  SECURITY_ATTRIBUTES inherit = {.nLength = sizeof(inherit), .bInheritHandle = TRUE};
  HANDLE in_r = NULL, in_w = NULL, out_r = NULL, out_w = NULL, null = INVALID_HANDLE_VALUE;
  int r = 0;
  if (!CreatePipe(&in_r, &in_w, &inherit, 0) || !CreatePipe(&out_r, &out_w, &inherit, 0))
    r = -plat_win_errno(GetLastError());
  if (r == 0 &&
      (!SetHandleInformation(in_w, HANDLE_FLAG_INHERIT, 0) || !SetHandleInformation(out_r, HANDLE_FLAG_INHERIT, 0)))
    r = -plat_win_errno(GetLastError());
  if (r == 0) {
    null = CreateFileW(L"NUL", GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit, OPEN_EXISTING, 0, NULL);
    if (null == INVALID_HANDLE_VALUE)
      r = -plat_win_errno(GetLastError());
  }
  PROCESS_INFORMATION pi = {0};
  if (r == 0) {
    STARTUPINFOW si = {.cb = sizeof(si), .dwFlags = STARTF_USESTDHANDLES};
    si.hStdInput = in_r;
    si.hStdOutput = out_w;
    si.hStdError = null;
    if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, CREATE_NO_WINDOW, NULL, NULL, &si, &pi))
      r = -plat_win_errno(GetLastError());
  }
  if (in_r)
    CloseHandle(in_r);
  if (out_w)
    CloseHandle(out_w);
  if (null != INVALID_HANDLE_VALUE)
    CloseHandle(null);
  if (r < 0) {
    if (in_w)
      CloseHandle(in_w);
    if (out_r)
      CloseHandle(out_r);
    return r;
  }
  CloseHandle(pi.hThread);
  *pid = (plat_pid)pi.hProcess;
  *to_child = _open_osfhandle((intptr_t)in_w, _O_BINARY | _O_NOINHERIT);
  *from_child = _open_osfhandle((intptr_t)out_r, _O_BINARY | _O_NOINHERIT | _O_RDONLY);
  return 0;
}

int plat_wait(plat_pid pid, int *exited, int *code) {
  HANDLE h = (HANDLE)pid;
  if (WaitForSingleObject(h, INFINITE) != WAIT_OBJECT_0)
    return -plat_win_errno(GetLastError());
  DWORD status = 0;
  int ok = GetExitCodeProcess(h, &status);
  CloseHandle(h);
  if (!ok)
    return -EIO;
  *exited = 1;
  *code = (int)(status & 0xff);
  return 0;
}

int plat_run_quiet(const char *const argv[]) {
  _cleanup_free_ wchar_t *cmd = command_line(argv);
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, argv[0], -1, NULL, 0);
  _cleanup_free_ wchar_t *prog = n > 0 ? malloc((size_t)n * sizeof(wchar_t)) : NULL;
  if (!cmd || !prog)
    return cmd && n <= 0 ? -EINVAL : -ENOMEM;
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, argv[0], -1, prog, n);
  SECURITY_ATTRIBUTES inherit = {.nLength = sizeof(inherit), .bInheritHandle = TRUE};
  HANDLE null = CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit,
                            OPEN_EXISTING, 0, NULL);
  if (null == INVALID_HANDLE_VALUE)
    return -plat_win_errno(GetLastError());
  STARTUPINFOW si = {.cb = sizeof(si), .dwFlags = STARTF_USESTDHANDLES};
  si.hStdInput = si.hStdOutput = si.hStdError = null;
  PROCESS_INFORMATION pi = {0};
  int ok = CreateProcessW(prog, cmd, NULL, NULL, TRUE, CREATE_NO_WINDOW, NULL, NULL, &si, &pi);
  int e = ok ? 0 : plat_win_errno(GetLastError());
  CloseHandle(null);
  if (!ok)
    return -e;
  WaitForSingleObject(pi.hProcess, INFINITE);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  return 0;
}

/* ---- sockets ---- */

int plat_socket_has_byte(plat_socket s) {
  u_long n = 0;
  return ioctlsocket((SOCKET)s, FIONREAD, &n) == 0 && n > 0;
}

int plat_socket_close(plat_socket s) {
  return closesocket((SOCKET)s) == 0 ? 0 : fail_with(EIO);
}

/* No SIGPIPE on Windows: a write to a closed pipe answers EPIPE. */
void plat_sigpipe_block(struct plat_sigpipe_guard *g) {
  g->unused = 0;
}

void plat_sigpipe_unblock(struct plat_sigpipe_guard *g) {
  (void)g;
}

int plat_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg) {
  return pthread_create(thread, NULL, fn, arg);
}

/* ---- the machine ---- */

static char temp_dir[MAX_PATH * 3];
static pthread_once_t temp_dir_once = PTHREAD_ONCE_INIT;

static void temp_dir_find(void) {
  const char *env = getenv("TMPDIR");
  wchar_t w[MAX_PATH + 1];
  DWORD n = env && *env ? 0 : GetTempPathW(MAX_PATH + 1, w);
  if (env && *env)
    snprintf(temp_dir, sizeof(temp_dir), "%s", env);
  else if (n == 0 || n > MAX_PATH || !WideCharToMultiByte(CP_UTF8, 0, w, -1, temp_dir, sizeof(temp_dir), NULL, NULL))
    snprintf(temp_dir, sizeof(temp_dir), "C:\\Windows\\Temp");
  size_t len = strlen(temp_dir);
  while (len > 3 && (temp_dir[len - 1] == '\\' || temp_dir[len - 1] == '/'))
    temp_dir[--len] = '\0'; /* GetTempPath ends with one */
}

const char *plat_home_dir(void) {
  const char *home = getenv("HOME");
  return home && *home ? home : getenv("USERPROFILE");
}

const char *plat_temp_dir(void) {
  pthread_once(&temp_dir_once, temp_dir_find);
  return temp_dir;
}

int plat_random_bytes(void *buf, size_t n) {
  return BCryptGenRandom(NULL, buf, (ULONG)n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0 ? 0 : -1;
}

long plat_cpu_count(void) {
  DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
  return n < 1 ? 1 : (long)n;
}

int plat_machine(char *out, size_t size) {
  SYSTEM_INFO si;
  GetNativeSystemInfo(&si);
  const char *m = si.wProcessorArchitecture == PROCESSOR_ARCHITECTURE_AMD64   ? "x86_64"
                  : si.wProcessorArchitecture == PROCESSOR_ARCHITECTURE_ARM64 ? "aarch64"
                  : si.wProcessorArchitecture == PROCESSOR_ARCHITECTURE_INTEL ? "i686"
                                                                              : "unknown";
  snprintf(out, size, "%s", m);
  return 0;
}

int plat_is_admin(void) {
  HANDLE token;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
    return 0;
  TOKEN_ELEVATION e = {0};
  DWORD n = 0;
  int admin = GetTokenInformation(token, TokenElevation, &e, sizeof(e), &n) && e.TokenIsElevated;
  CloseHandle(token);
  return admin;
}

/* ---- errors ---- */

int plat_win_errno(unsigned long e) {
  switch (e) {
  case ERROR_FILE_NOT_FOUND:
  case ERROR_PATH_NOT_FOUND:
  case ERROR_INVALID_DRIVE:
  case ERROR_BAD_NETPATH:
  case ERROR_BAD_NET_NAME: return ENOENT;
  case ERROR_ACCESS_DENIED:
  case ERROR_PRIVILEGE_NOT_HELD: return EACCES;
  case ERROR_FILE_EXISTS:
  case ERROR_ALREADY_EXISTS: return EEXIST;
  case ERROR_DIR_NOT_EMPTY: return ENOTEMPTY;
  case ERROR_NOT_SAME_DEVICE: return EXDEV;
  case ERROR_SHARING_VIOLATION:
  case ERROR_BUSY: return EBUSY;
  case ERROR_LOCK_VIOLATION:
  case ERROR_IO_PENDING: return EWOULDBLOCK;
  case ERROR_INVALID_PARAMETER:
  case ERROR_INVALID_NAME: return EINVAL;
  case ERROR_INVALID_FUNCTION:
  case ERROR_NOT_SUPPORTED: return EOPNOTSUPP;
  case ERROR_DISK_FULL:
  case ERROR_HANDLE_DISK_FULL: return ENOSPC;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY: return ENOMEM;
  case ERROR_DIRECTORY: return ENOTDIR;
  case ERROR_BROKEN_PIPE:
  case ERROR_NO_DATA: return EPIPE;
  case ERROR_FILENAME_EXCED_RANGE: return ENAMETOOLONG;
  case ERROR_CANT_RESOLVE_FILENAME: return ELOOP;
  case ERROR_INVALID_HANDLE: return EBADF;
  case ERROR_WRITE_PROTECT: return EROFS;
  default: return EIO;
  }
}

/* ---- compat.h ---- */

char *compat_strndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *p = malloc(len + 1);
  if (!p)
    return NULL;
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

void *compat_memmem(const void *hay, size_t hay_len, const void *needle, size_t needle_len) {
  if (needle_len == 0)
    return (void *)hay;
  const uint8_t *h = hay;
  for (size_t i = 0; i + needle_len <= hay_len; i++)
    if (h[i] == *(const uint8_t *)needle && !memcmp(h + i, needle, needle_len))
      return (void *)(h + i);
  return NULL;
}

void *compat_memrchr(const void *s, int c, size_t n) {
  const uint8_t *p = s;
  while (n-- > 0)
    if (p[n] == (uint8_t)c)
      return (void *)(p + n);
  return NULL;
}

void compat_explicit_bzero(void *p, size_t n) {
  SecureZeroMemory(p, n);
}

/* The runtime names the errno values of old C (up to EILSEQ) and calls the POSIX ones that the
 * platform layer hands out "Unknown error": those in glibc's words, so that an error reads the same
 * on both systems. */
static const struct {
  int errnum;
  const char *text;
} posix_errors[] = {
    {EOPNOTSUPP, "Operation not supported"},
    {ENOTSUP, "Operation not supported"},
    {EWOULDBLOCK, "Resource temporarily unavailable"},
    {ELOOP, "Too many levels of symbolic links"},
    {ETIMEDOUT, "Connection timed out"},
    {ECONNREFUSED, "Connection refused"},
    {ECONNRESET, "Connection reset by peer"},
    {ECANCELED, "Operation canceled"},
    {EOVERFLOW, "Value too large for defined data type"},
    {ENODATA, "No data available"},
    {EPROTO, "Protocol error"},
    {EBADMSG, "Bad message"},
};

char *compat_strerror_r(int errnum, char *buf, size_t len) {
  for (size_t i = 0; i < sizeof(posix_errors) / sizeof(posix_errors[0]); i++)
    if (posix_errors[i].errnum == errnum) {
      snprintf(buf, len, "%s", posix_errors[i].text);
      return buf;
    }
  if (strerror_s(buf, len, errnum) != 0)
    snprintf(buf, len, "error %d", errnum);
  return buf;
}

struct tm *compat_localtime_r(const time_t *t, struct tm *out) {
  return localtime_s(out, t) == 0 ? out : NULL;
}

struct tm *compat_gmtime_r(const time_t *t, struct tm *out) {
  return gmtime_s(out, t) == 0 ? out : NULL;
}

int compat_setenv(const char *name, const char *value, int overwrite) {
  if (!overwrite && getenv(name))
    return 0;
  return _putenv_s(name, value) == 0 ? 0 : fail_with(EINVAL);
}

int compat_mkostemp(char *tmpl, int flags) {
  int fd = mkstemp(tmpl);
  if (fd >= 0 && (flags & O_CLOEXEC))
    SetHandleInformation((HANDLE)_get_osfhandle(fd), HANDLE_FLAG_INHERIT, 0);
  return fd;
}

int compat_unsetenv(const char *name) {
  return _putenv_s(name, "") == 0 ? 0 : fail_with(EINVAL);
}

/* The XXXXXX at the end of tmpl replaced until a new folder of that name could be made. */
char *compat_mkdtemp(char *tmpl) {
  size_t len = strlen(tmpl);
  if (len < 6 || strcmp(tmpl + len - 6, "XXXXXX") != 0) {
    errno = EINVAL;
    return NULL;
  }
  static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (int attempt = 0; attempt < 100; attempt++) {
    uint8_t rnd[6];
    if (plat_random_bytes(rnd, sizeof(rnd)) < 0) {
      errno = EIO;
      return NULL;
    }
    for (size_t i = 0; i < 6; i++)
      tmpl[len - 6 + i] = chars[rnd[i] % (sizeof(chars) - 1)];
    if (_mkdir(tmpl) == 0)
      return tmpl;
    if (errno != EEXIST)
      return NULL;
  }
  errno = EEXIST;
  return NULL;
}
