/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's platform calls on Windows (src/tool_platform.h): the console API for the terminal, its
 * width and the password prompt, SetConsoleCtrlHandler for Ctrl-C, %LOCALAPPDATA% for the folders. */
#include "tool.h"
#include "tool_platform.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
/* (after windows.h) */
#include <shellapi.h>

/* Another program's handle answers -1, a process without that standard handle -2. */
static HANDLE handle_of(int fd) {
  intptr_t h = _get_osfhandle(fd);
  return h == -1 || h == -2 ? INVALID_HANDLE_VALUE : (HANDLE)h;
}

static char *utf8_of(const wchar_t *w) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
  char *out = n > 0 ? malloc((size_t)n) : NULL;
  if (out && WideCharToMultiByte(CP_UTF8, 0, w, -1, out, n, NULL, NULL) != n) {
    free(out);
    out = NULL;
  }
  return out;
}

/* The library reads paths as UTF-8 (lib/base/platform_windows.c); main's argv is in the ANSI code
 * page, where a name outside it is lost. The arguments live as long as the process. */
void tool_platform_args(int *argc, char ***argv) {
  int n = 0;
  wchar_t **wide = CommandLineToArgvW(GetCommandLineW(), &n);
  if (!wide || n != *argc)
    return; /* (kept as the runtime split them) */
  char **args = calloc((size_t)n + 1, sizeof(*args));
  for (int i = 0; args && i < n; i++) {
    if (!(args[i] = utf8_of(wide[i]))) {
      for (int j = 0; j < i; j++)
        free(args[j]);
      free(args);
      args = NULL;
    }
  }
  LocalFree(wide);
  if (args)
    *argv = args;
}

int tool_fd_closed(int fd) {
  return handle_of(fd) == INVALID_HANDLE_VALUE;
}

void tool_fd_null(int fd) {
  int null = _open("NUL", _O_RDWR | _O_BINARY | _O_NOINHERIT);
  if (null >= 0 && null != fd) {
    _dup2(null, fd);
    _close(null);
  }
}

int tool_fd_dup(int fd) {
  return _dup(fd);
}

/* _isatty is true for any character device, NUL included: a console answers GetConsoleMode. */
int tool_is_terminal(int fd) {
  DWORD mode;
  HANDLE h = handle_of(fd);
  return h != INVALID_HANDLE_VALUE && GetConsoleMode(h, &mode);
}

static HANDLE vt_handle = INVALID_HANDLE_VALUE;
static DWORD vt_saved_mode;

static void vt_restore(void) {
  SetConsoleMode(vt_handle, vt_saved_mode);
}

/* The progress line redraws with "\r" and "\033[K": a console does that once it is asked to read VT
 * sequences (Windows 10 and later); the mode is put back when vmpull exits. */
int tool_capable_terminal(int fd) {
  const char *term = getenv("TERM");
  if (term && (!*term || !strcmp(term, "dumb")))
    return 0;
  DWORD mode;
  HANDLE h = handle_of(fd);
  if (h == INVALID_HANDLE_VALUE || !GetConsoleMode(h, &mode))
    return 0;
  if (mode & ENABLE_VIRTUAL_TERMINAL_PROCESSING)
    return 1;
  if (!SetConsoleMode(h, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING))
    return 0;
  if (vt_handle == INVALID_HANDLE_VALUE) {
    vt_handle = h;
    vt_saved_mode = mode;
    atexit(vt_restore);
  }
  return 1;
}

int tool_terminal_width(int fd) {
  CONSOLE_SCREEN_BUFFER_INFO info;
  HANDLE h = handle_of(fd);
  if (h != INVALID_HANDLE_VALUE && GetConsoleScreenBufferInfo(h, &info)) {
    int cols = info.srWindow.Right - info.srWindow.Left + 1;
    if (cols > 0)
      return cols;
  }
  const char *columns = getenv("COLUMNS");
  int c = columns ? atoi(columns) : 0;
  return c > 0 ? c : 80;
}

/* (beside the handlers that set them) */
volatile sig_atomic_t tool_cancel = 0;
volatile sig_atomic_t tool_signal = 0;

/* Runs on a thread of its own: the pull sees tool_cancel, returns VMPULL_E_CANCELLED, and main
 * exits 130 (143) as on Linux. A closed console ends the process when this returns: the wait gives
 * the pull its cleanup first (Windows allows about 5 seconds). */
static BOOL WINAPI on_console_event(DWORD event) {
  switch (event) {
  case CTRL_C_EVENT:
  case CTRL_BREAK_EVENT:
    tool_signal = SIGINT;
    tool_cancel = 1;
    return TRUE;
  case CTRL_CLOSE_EVENT:
  case CTRL_LOGOFF_EVENT:
  case CTRL_SHUTDOWN_EVENT:
    tool_signal = SIGTERM;
    tool_cancel = 1;
    Sleep(4000);
    return TRUE;
  default: return FALSE;
  }
}

void tool_install_signals(void) {
  SetConsoleCtrlHandler(on_console_event, TRUE);
}

void tool_ignore_sigpipe(void) {}

int tool_ask_password(const char *cmd, char *buf, size_t cap) {
  HANDLE in = CreateFileW(L"CONIN$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                          OPEN_EXISTING, 0, NULL);
  HANDLE out = CreateFileW(L"CONOUT$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                           OPEN_EXISTING, 0, NULL);
  DWORD mode = 0;
  if (in == INVALID_HANDLE_VALUE || out == INVALID_HANDLE_VALUE || !GetConsoleMode(in, &mode)) {
    tool_error("%s: --creds has no password and there is no console to ask for it on", cmd);
    if (in != INVALID_HANDLE_VALUE)
      CloseHandle(in);
    if (out != INVALID_HANDLE_VALUE)
      CloseHandle(out);
    return -1;
  }
  /* ReadConsoleW: the typed characters as UTF-16 whatever the code page, made UTF-8 below. */
  DWORD wrote, got = 0;
  wchar_t line[1024];
  int ok = SetConsoleMode(in, (mode & ~(DWORD)ENABLE_ECHO_INPUT) | ENABLE_LINE_INPUT | ENABLE_PROCESSED_INPUT) &&
           WriteConsoleW(out, L"Password: ", 10, &wrote, NULL) &&
           ReadConsoleW(in, line, sizeof(line) / sizeof(line[0]) - 1, &got, NULL);
  SetConsoleMode(in, mode);
  WriteConsoleW(out, L"\r\n", 2, &wrote, NULL);
  CloseHandle(in);
  CloseHandle(out);
  while (ok && got && (line[got - 1] == L'\n' || line[got - 1] == L'\r'))
    got--;
  line[ok ? got : 0] = L'\0';
  int n = ok && got ? WideCharToMultiByte(CP_UTF8, 0, line, -1, buf, (int)cap, NULL, NULL) : 0;
  SecureZeroMemory(line, sizeof(line));
  if (n <= 1) {
    SecureZeroMemory(buf, cap);
    tool_error("%s: no password was typed", cmd);
    return -1;
  }
  return 0;
}

/* %LOCALAPPDATA% (not roaming: disks and downloads stay on the machine), else the profile's. */
static char *local_app_data(void) {
  const char *base = getenv("LOCALAPPDATA");
  if (base && *base)
    return strdup(base);
  const char *profile = getenv("USERPROFILE");
  char *out = NULL;
  return asprintf(&out, "%s\\AppData\\Local", profile && *profile ? profile : "C:") < 0 ? NULL : out;
}

/* %LOCALAPPDATA%\vmpull\cache: a folder of its own beside the disks' (no provider is called "cache"). */
char *tool_default_cache_dir(void) {
  char *base = local_app_data(), *out = NULL;
  if (base && asprintf(&out, "%s\\vmpull\\cache", base) < 0)
    out = NULL;
  free(base);
  return out;
}

char *tool_default_data_dir(const char *provider) {
  char *base = local_app_data(), *out = NULL;
  if (base && asprintf(&out, "%s\\vmpull\\%s", base, provider) < 0)
    out = NULL;
  free(base);
  return out;
}

void tool_explicit_bzero(void *p, size_t n) {
  SecureZeroMemory(p, n);
}
