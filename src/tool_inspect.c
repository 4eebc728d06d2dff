/* SPDX-License-Identifier: Apache-2.0 */
/* vmpull inspect [--all] [PULL OPTIONS] SOURCE: what pull would fetch from an OCI source, as JSON. */
#include "tool.h"
#include "tool_opts.h"

#include <json-c/json.h>
#include <stdlib.h>

int tool_inspect(int argc, char **argv) {
  /* Everything but --all is a pull option (provider, arch, credentials, TLS, naming). */
  char **args = NULL;
  int n = 0, all = 0;
  int r = tool_take_extra_options("inspect", argc, argv, &all, NULL, &args, &n);
  if (r != TOOL_GO_ON)
    return r;

  struct pull_cli cli;
  r = pull_cli_parse(&cli, n, args);
  if (r != PULL_CLI_OK) {
    free(args);
    return r == PULL_CLI_HELP ? 0 : EXIT_USAGE;
  }
  /* nothing to draw (no disk moves), but --progress json still has its events, -v its lines */
  struct tool_progress progress;
  tool_progress_init(&progress, cli.progress_mode == PROGRESS_JSON ? PROGRESS_JSON : PROGRESS_NEVER, 1);
  progress.verbose = cli.verbose;
  progress.creds_flags = cli.skopeo.creds_flags;
  if (tool_progress_open(&progress, "inspect", cli.progress_fd) < 0) {
    pull_cli_free(&cli);
    free(args);
    return EXIT_USAGE;
  }
  tool_prepare_call(&cli.opts, &progress);

  vmpull_error err;
  char *json = NULL;
  r = vmpull_inspect(&cli.opts, all ? VMPULL_INSPECT_ALL : 0, &json, &err);
  if (r < 0) {
    r = tool_report_failure(&err, cli.json, &progress);
  } else {
    puts(json);
    fflush(stdout);
    tool_events_done(progress.events, NULL, json_tokener_parse(json));
    r = 0;
  }
  tool_progress_close(&progress);
  free(json);
  pull_cli_free(&cli);
  free(args);
  return r;
}
