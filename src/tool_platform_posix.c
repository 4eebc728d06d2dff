/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's platform calls on Linux (and other POSIX systems): src/tool_platform.h. The code that
 * was in tool_process.c, tool_progress.c, tool_opts.c and tool_opts_skopeo.c, moved. */
#include "tool.h"
#include "tool_opts_skopeo.h"
#include "tool_platform.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

void tool_platform_args(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
}

int tool_fd_closed(int fd) {
  return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

void tool_fd_null(int fd) {
  int null = open("/dev/null", O_RDWR);
  if (null >= 0 && null != fd) {
    dup2(null, fd);
    close(null);
  }
}

int tool_fd_dup(int fd) {
  return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

int tool_is_terminal(int fd) {
  return isatty(fd);
}

int tool_capable_terminal(int fd) {
  const char *term = getenv("TERM");
  return isatty(fd) && term && *term && strcmp(term, "dumb") != 0;
}

int tool_terminal_width(int fd) {
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  const char *columns = getenv("COLUMNS");
  int c = columns ? atoi(columns) : 0;
  return c > 0 ? c : 80;
}

/* (beside the handlers that set them) */
volatile sig_atomic_t tool_cancel = 0;
volatile sig_atomic_t tool_signal = 0;

static void on_signal(int sig) {
  tool_signal = sig;
  tool_cancel = 1;
}

void tool_install_signals(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

void tool_ignore_sigpipe(void) {
  signal(SIGPIPE, SIG_IGN);
}

/* The terminal while its echo is off, for a signal to put it back before the process dies. */
static int prompt_fd = -1;
static struct termios prompt_saved;

static void restore_echo_and_die(int sig) {
  tcsetattr(prompt_fd, TCSAFLUSH, &prompt_saved);
  signal(sig, SIG_DFL);
  raise(sig);
}

int tool_ask_password(const char *cmd, char *buf, size_t cap) {
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  struct termios t;
  if (fd < 0 || tcgetattr(fd, &t) < 0) {
    tool_error("%s: --creds has no password and there is no terminal to ask for it on (/dev/tty: %s)", cmd,
               strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  prompt_fd = fd;
  prompt_saved = t;
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
  struct sigaction sa = {.sa_handler = restore_echo_and_die}, old[sizeof(sigs) / sizeof(sigs[0])];
  for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
    sigaction(sigs[i], &sa, &old[i]);
  t.c_lflag &= ~(tcflag_t)ECHO;
  t.c_lflag |= ECHONL;
  int ok = tcsetattr(fd, TCSAFLUSH, &t) == 0;
  ssize_t len = -1;
  if (ok && write(fd, "Password: ", 10) == 10)
    len = tool_read_line(fd, buf, cap);
  tcsetattr(fd, TCSAFLUSH, &prompt_saved);
  for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
    sigaction(sigs[i], &old[i], NULL);
  prompt_fd = -1;
  close(fd);
  if (len <= 0) {
    tool_error("%s: no password was typed", cmd);
    return -1;
  }
  return 0;
}

char *tool_default_data_dir(const char *provider) {
  const char *xdg = getenv("XDG_DATA_HOME");
  char *out = NULL;
  if (xdg && *xdg == '/') {
    if (asprintf(&out, "%s/vmpull/%s", xdg, provider) < 0)
      return NULL;
  } else {
    const char *home = getenv("HOME");
    if (!home || !*home)
      home = "/";
    if (asprintf(&out, "%s/.local/share/vmpull/%s", home, provider) < 0)
      return NULL;
  }
  return out;
}

/* $XDG_CACHE_HOME/vmpull, else ~/.cache/vmpull. */
char *tool_default_cache_dir(void) {
  const char *xdg = getenv("XDG_CACHE_HOME");
  char *out = NULL;
  if (xdg && *xdg == '/')
    return asprintf(&out, "%s/vmpull", xdg) < 0 ? NULL : out;
  const char *home = getenv("HOME");
  if (!home || !*home)
    home = "/";
  return asprintf(&out, "%s/.cache/vmpull", home) < 0 ? NULL : out;
}
