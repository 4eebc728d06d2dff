/* SPDX-License-Identifier: Apache-2.0 */
/* The vmpull command-line tool: all output lives here, never in lib/. */
#ifndef VMPULL_TOOL_H
#define VMPULL_TOOL_H

#include "vmpull.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>

/* printf-like (lib/base/compat.h's VMPULL_PRINTF, which src/ does not include): mingw-w64's gcc reads
 * format(printf) as Microsoft's runtime's, the tool prints with mingw's C99 one. */
#if defined(_WIN32) && !defined(__clang__)
#define TOOL_PRINTF(fmt, first) __attribute__((format(gnu_printf, fmt, first)))
#else
#define TOOL_PRINTF(fmt, first) __attribute__((format(printf, fmt, first)))
#endif

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
int tool_exit_for_error(const vmpull_error *err);
/* Flush stdout: 0, or -1 with errno when what was printed did not all get out (a full disk, a
 * closed stdout). */
int tool_stdout_flush(void);

/* One-line message "vmpull: ..." on stderr. */
void tool_error(const char *fmt, ...) TOOL_PRINTF(1, 2);
void tool_warn(const char *fmt, ...) TOOL_PRINTF(1, 2);
/* Usage error with a hint for a mistyped option; returns EXIT_USAGE. */
int tool_unknown_option(const char *cmd, const char *arg, const struct option *longopts);
/* Levenshtein distance, (size_t)-1 for words of 63 characters or more. */
size_t tool_edit_distance(const char *a, const char *b);
/* Usage error for a mistyped command (suggesting the closest one); returns EXIT_USAGE. */
int tool_unknown_command(const char *word);
struct json_object;
struct tool_progress;
/* {"error": {"code", "message"}} (tool_output.c) */
struct json_object *tool_error_object(const vmpull_error *err);
/* Print {"error": {"code", "message"}} on stdout for --json. */
void tool_json_error(const vmpull_error *err);
/* A failed library call: its --json error (when json), and its "vmpull: " line or, with --progress
 * json, its error and done events; returns the exit status. */
int tool_report_failure(const vmpull_error *err, int json, struct tool_progress *progress);
/* err as shown: the library's "--creds" named by the flags the credentials came from
 * (progress->creds_flags: --username with --password or --password-stdin), when they were not --creds. */
void tool_error_names_creds(const struct tool_progress *progress, vmpull_error *err);
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
enum progress_mode { PROGRESS_AUTO, PROGRESS_ALWAYS, PROGRESS_NEVER, PROGRESS_JSON };
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
  uint64_t rate_ref_ns, rate_ref_bytes; /* for the smoothed rate (of bytes from the network only) */
  double rate;                          /* bytes/s, smoothed */
  FILE *out;                            /* where the progress goes: stderr, or --progress-fd's */
  int json;                             /* --progress json */
  int always;                           /* --progress always */
  int quiet;                            /* -q: not even the resume line */
  int verbose;                          /* -v: the library's log lines */
  int resume_said;                      /* "resuming at ..." was told */
  unsigned item;                        /* save --all: the disk on the line (0: none yet) */
  char item_label[320];                 /* "[2/4] NAME" of the line drawn for it ("": none) */
  char done_label[32];                  /* "4 disks" */
  struct tool_events *events;           /* --progress json: the event stream (tool_events.c), else NULL */
  const char *creds_flags;              /* what the library's "--creds" was given as (cli_skopeo), or NULL */
};
void tool_progress_init(struct tool_progress *p, enum progress_mode mode, int quiet);
/* Progress (and with json every event) to fd instead of stderr; -1: stderr. -1 with a usage error
 * printed when fd is not open. */
int tool_progress_open(struct tool_progress *p, const char *cmd, int fd);
/* End the line, the event stream, and --progress-fd's stream. */
void tool_progress_close(struct tool_progress *p);
/* The library's log lines (vmpull_pull_options.log; userdata: the struct tool_progress). */
void tool_progress_log(int level, const char *message, void *userdata);
/* Network bytes of an event: what came from neither the cache nor a partial download. */
static inline uint64_t tool_network_bytes(const vmpull_progress *ev) {
  return ev->fetched >= ev->resumed ? ev->fetched - ev->resumed : 0;
}
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

/* The --progress json event stream (tool_events.c): one JSON object a line, each with "version": 1
 * and "event"; while one is open, every message tool_error and tool_warn would print becomes an
 * event on it. */
struct tool_events;
struct tool_events *tool_events_open(FILE *out);
void tool_events_close(struct tool_events *e);
/* The events a progress callback tells of (resolve, mirror, cache, resume, retry, transfer). */
void tool_events_progress(struct tool_events *e, const vmpull_progress *ev, double rate);
void tool_events_log(struct tool_events *e, int level, const char *message);
/* A message of tool_error/tool_warn: 1 when it went out as an event (then print nothing else). */
int tool_events_message(const char *event, const char *message);
/* The error event of a failed call. */
void tool_events_error(struct tool_events *e, const vmpull_error *err);
/* verify (when digest is not NULL), then done, carrying result (the --json object, a reference taken). */
void tool_events_done(struct tool_events *e, const char *digest, struct json_object *result);

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
