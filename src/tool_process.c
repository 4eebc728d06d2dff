/* SPDX-License-Identifier: Apache-2.0 */
/* What every subcommand shares with the process: its standard fds, its signals, its exit statuses,
 * and the setup of one library call. Not in tool_main.c, which calls every subcommand: a helper
 * there would make each subcommand call back into its own caller. */
#include "tool.h"
#include "tool_opts_skopeo.h"
#include "tool_platform.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int stdout_closed; /* vmpull was started without a stdout */

/* Started with 0, 1 or 2 closed, the first files vmpull opens would take those numbers, and a
 * progress line or the path line would be written into them (the disk, a cache entry): /dev/null
 * holds each place instead, and a closed stdout is remembered as a failure to print. */
void tool_hold_standard_fds(void) {
  for (int fd = 0; fd <= 2; fd++) {
    if (!tool_fd_closed(fd))
      continue;
    if (fd == STDOUT_FILENO)
      stdout_closed = 1;
    tool_fd_null(fd);
  }
}

int tool_stdout_flush(void) {
  if (stdout_closed) {
    errno = EBADF;
    return -1;
  }
  errno = 0;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    if (!errno)
      errno = EIO;
    return -1;
  }
  return 0;
}

int tool_exit_for_error(const vmpull_error *err) {
  if (err->code == VMPULL_E_CANCELLED && tool_signal)
    return tool_signal == SIGTERM ? EXIT_SIGTERM : EXIT_SIGINT;
  if (err->code == VMPULL_E_USAGE)
    return EXIT_USAGE;
  return EXIT_PULL_FAILED;
}

void tool_error_names_creds(const struct tool_progress *progress, vmpull_error *err) {
  char *renamed = progress ? tool_creds_renamed(progress->creds_flags, err->message) : NULL;
  if (renamed)
    snprintf(err->message, sizeof(err->message), "%s", renamed);
  free(renamed);
}

int tool_report_failure(const vmpull_error *failure, int json, struct tool_progress *progress) {
  vmpull_error shown = *failure;
  const vmpull_error *err = &shown;
  tool_error_names_creds(progress, &shown);
  json_object *result = tool_error_object(err);
  if (json)
    tool_print_json(json_object_get(result));
  if (progress && progress->events) {
    tool_events_error(progress->events, err);
    tool_events_done(progress->events, NULL, result);
  } else {
    json_object_put(result);
    tool_error("%s", err->message);
  }
  return tool_exit_for_error(err);
}

void tool_prepare_call(vmpull_pull_options *opts, struct tool_progress *progress) {
  if (progress->enabled || progress->events || !progress->quiet) {
    /* (not drawn, the events still tell when a download resumes) */
    opts->progress = tool_progress_cb;
    opts->progress_data = progress;
  }
  if (progress->verbose) {
    opts->log = tool_progress_log;
    opts->log_data = progress;
  }
  opts->warning = tool_progress_warning;
  opts->warning_data = progress;
  tool_install_signals();
  opts->cancel = &tool_cancel;
  if (!opts->tls_verify)
    tool_warn("TLS certificate verification is disabled (--tls-verify=false)");
}
