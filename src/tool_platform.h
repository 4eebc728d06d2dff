/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's own calls that differ between Linux and Windows: the library's go through
 * lib/base/platform.h, which src/ does not include (src/ sees include/vmpull.h only). One file a
 * system, picked by meson: tool_platform_posix.c (the code that was in tool_process.c,
 * tool_progress.c, tool_opts.c and tool_opts_skopeo.c, moved) and tool_platform_windows.c.
 *
 * | function               | Linux (tool_platform_posix.c)   | Windows (tool_platform_windows.c)        |
 * |------------------------|---------------------------------|------------------------------------------|
 * | tool_platform_args     | argv as given                   | the wide command line as UTF-8           |
 * | tool_fd_closed, _null  | fcntl(F_GETFD) EBADF, /dev/null | _get_osfhandle answers none, NUL         |
 * | tool_fd_dup            | fcntl(F_DUPFD_CLOEXEC, 3)       | _dup                                     |
 * | tool_is_terminal       | isatty                          | GetConsoleMode                           |
 * | tool_capable_terminal  | isatty, TERM not dumb           | a console that takes VT sequences        |
 * |                        |                                 | (ENABLE_VIRTUAL_TERMINAL_PROCESSING),    |
 * |                        |                                 | TERM not dumb                            |
 * | tool_terminal_width    | ioctl(TIOCGWINSZ), COLUMNS      | GetConsoleScreenBufferInfo, COLUMNS      |
 * | tool_install_signals   | sigaction SIGINT, SIGTERM       | SetConsoleCtrlHandler: Ctrl-C and        |
 * |                        |                                 | Ctrl-Break as SIGINT (exit 130), the     |
 * |                        |                                 | console closed as SIGTERM (exit 143)     |
 * | tool_ignore_sigpipe    | signal(SIGPIPE, SIG_IGN)        | nothing: no SIGPIPE (EPIPE comes back)   |
 * | tool_ask_password      | /dev/tty, termios echo off      | CONIN$/CONOUT$, ENABLE_ECHO_INPUT off    |
 * | tool_default_cache_dir | $XDG_CACHE_HOME/vmpull,         | %LOCALAPPDATA%\vmpull\cache              |
 * |                        | ~/.cache/vmpull                 |                                          |
 * | tool_default_data_dir  | $XDG_DATA_HOME/vmpull/PROVIDER, | %LOCALAPPDATA%\vmpull\PROVIDER           |
 * |                        | ~/.local/share/vmpull/PROVIDER  |                                          |
 */
#ifndef VMPULL_TOOL_PLATFORM_H
#define VMPULL_TOOL_PLATFORM_H

#include <stddef.h>
#include <sys/types.h>

/* argv in UTF-8, the library's encoding of paths (on Windows main's argv is in the ANSI code page). */
void tool_platform_args(int *argc, char ***argv);

/* 1 when fd (0, 1 or 2) is not open; tool_fd_null puts the null device there. */
int tool_fd_closed(int fd);
void tool_fd_null(int fd);
/* A copy of fd that a child does not inherit (and above 2): the new fd, or -1 and errno. */
int tool_fd_dup(int fd);

/* fd is a terminal (a console). */
int tool_is_terminal(int fd);
/* A terminal that moves the cursor (carriage return, "\033[K"): TERM=dumb (Emacs shell buffers)
 * does not. */
int tool_capable_terminal(int fd);
/* The terminal's columns, else $COLUMNS, else 80. */
int tool_terminal_width(int fd);

/* SIGINT and SIGTERM (Ctrl-C, a closed console) set tool_cancel and tool_signal. */
void tool_install_signals(void);
/* A write to a pipe whose reader left answers EPIPE instead of killing the process. */
void tool_ignore_sigpipe(void);

/* "Password: " on the terminal, the answer read without echo into buf (without its newline):
 * 0, or -1 with the message printed (cmd first). */
int tool_ask_password(const char *cmd, char *buf, size_t cap);

/* The default folders (malloc'd; NULL on OOM). */
char *tool_default_cache_dir(void);
char *tool_default_data_dir(const char *provider);

#ifdef _WIN32
#include <time.h>
/* What mingw-w64's C runtime lacks (localtime_r only with _POSIX_C_SOURCE). */
void tool_explicit_bzero(void *p, size_t n);
#undef explicit_bzero /* (the unit tests see lib/base/compat.h's too) */
#define explicit_bzero tool_explicit_bzero
static inline struct tm *tool_localtime_r(const time_t *t, struct tm *out) {
  return localtime_s(out, t) ? NULL : out;
}
#undef localtime_r
#define localtime_r tool_localtime_r
#endif

#endif
