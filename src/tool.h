/* SPDX-License-Identifier: Apache-2.0 */
/* The vmpull command-line tool: all output lives here, never in lib/. */
#ifndef VMPULL_TOOL_H
#define VMPULL_TOOL_H

#include "vmpull.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>

/* Exit statuses. */
#define EXIT_PULL_FAILED 1
#define EXIT_USAGE 2
#define EXIT_SIGINT 130
#define EXIT_SIGTERM 143

/* The process (tool_process.c). */
/* Put /dev/null on a closed 0, 1 or 2 (a closed stdout is remembered: tool_stdout_flush fails). */
void tool_hold_standard_fds(void);
extern volatile sig_atomic_t tool_cancel; /* set by SIGINT/SIGTERM */
extern volatile sig_atomic_t tool_signal; /* which one */
void tool_install_signals(void);
int tool_exit_for_error(const vmpull_error *err);
/* Flush stdout: 0, or -1 with errno when what was printed did not all get out (a full disk, a
 * closed stdout). */
int tool_stdout_flush(void);

/* One-line message "vmpull: ..." on stderr. */
void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tool_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Usage error with a hint for a mistyped option; returns EXIT_USAGE. */
int tool_unknown_option(const char *cmd, const char *arg, const struct option *longopts);
/* Levenshtein distance, (size_t)-1 for words of 63 characters or more. */
size_t tool_edit_distance(const char *a, const char *b);
/* Usage error for a mistyped command (suggesting the closest one); returns EXIT_USAGE. */
int tool_unknown_command(const char *word);
/* Print {"error": {"code", "message"}} on stdout for --json. */
void tool_json_error(const vmpull_error *err);
/* A failed library call: its --json error (when json), its "vmpull: " line; returns the exit status. */
int tool_report_failure(const vmpull_error *err, int json);
/* Print o as one compact JSON line on stdout, then release it. */
struct json_object;
void tool_print_json(struct json_object *o);
/* The same on f (`pull -o -`: stdout carries the disk, the object goes to stderr). */
void tool_print_json_to(FILE *f, struct json_object *o);
/* Before a library call: its progress drawn on progress (when not NULL), its warnings printed below
 * it, SIGINT/SIGTERM cancel it, and a warning when TLS verification is off. */
struct tool_progress;
void tool_prepare_call(vmpull_pull_options *opts, struct tool_progress *progress);

/* Progress display (tool_progress.c). */
enum progress_mode { PROGRESS_AUTO, PROGRESS_ALWAYS, PROGRESS_NEVER };
struct tool_progress {
  int enabled;       /* draw at all */
  int tty;           /* stderr is a terminal: redraw in place */
  int drawn;         /* a partial line is on screen */
  int cursor_hidden; /* we hid the cursor: show it again before anything else */
  int last_len;      /* columns the partial line on screen takes */
  int layout_width;  /* terminal width the layout below was made for */
  int stats_width;   /* widest figures so far: the bar only ever shrinks, it never jitters */
  int stats_level;   /* how much detail the figures show at this width (0: all) */
  uint64_t start_ns, last_ns;
  uint64_t rate_ref_ns, rate_ref_bytes; /* for the smoothed rate */
  double rate;                          /* bytes/s, smoothed */
};
void tool_progress_init(struct tool_progress *p, enum progress_mode mode, int quiet);
int tool_progress_cb(const vmpull_progress *ev, void *userdata);
/* End a half-drawn line (on errors and signals). */
void tool_progress_finish(struct tool_progress *p);
/* A library warning (vmpull_pull_options.warning; userdata: the struct tool_progress or NULL), below any bar. */
void tool_progress_warning(const char *message, void *userdata);
/* Human IEC units: "1.5 GiB". */
void tool_format_bytes(uint64_t n, char *buf, size_t len);

static inline uint64_t MIN_U64(uint64_t a, uint64_t b) {
  return a < b ? a : b;
}
static inline int MIN_INT(int a, int b) {
  return a < b ? a : b;
}

int tool_pull(int argc, char **argv);
int tool_inspect(int argc, char **argv);
int tool_cache(int argc, char **argv);
int tool_save(int argc, char **argv);
int tool_help(const char *topic);

/* inspect and save (tool_opts_extra.c): take --all (and, with archive, save's --to-archive FILE) out of argv; *rest
 * (freed by the caller) and *nrest are what is left for pull_cli_parse. TOOL_GO_ON, or the exit
 * status when --help was shown or the usage was wrong. */
#define TOOL_GO_ON (-1)
int tool_take_extra_options(const char *cmd, int argc, char **argv, int *all, const char **archive, char ***rest,
                            int *nrest);

#endif
