/* SPDX-License-Identifier: Apache-2.0 */
/* Option parsing for `vmpull pull`, separate from running it so unit tests can drive it. */
#ifndef VMPULL_TOOL_OPTS_H
#define VMPULL_TOOL_OPTS_H

#include "tool.h"
#include "tool_args.h"
#include "tool_opts_skopeo.h"
#include "tool_platform.h"

struct pull_cli {
  vmpull_pull_options opts;
  enum progress_mode progress_mode;
  int quiet;
  int json;
  int verbose;              /* -v, --verbose, VMPULL_DEBUG=1: the library's log lines on stderr */
  int progress_fd;          /* --progress-fd N: where progress goes instead of stderr; -1: stderr */
  char *owned_data_dir;     /* computed default, freed by pull_cli_free */
  char *owned_cache_dir;    /* computed default, freed by pull_cli_free */
  int keep_cache;           /* no automatic prune after a successful pull */
  const char *mirrors[64];  /* --mirror values, else VMPULL_MIRRORS split at commas (opts.mirrors) */
  char *owned_mirror_env;   /* the split copy of VMPULL_MIRRORS */
  const char *dest;         /* `vmpull save`: the second operand (DEST), or NULL */
  struct cli_skopeo skopeo; /* --creds, --username, --password(-stdin), --no-creds, --platform */
};

enum { PULL_CLI_OK = 0, PULL_CLI_HELP = 1, PULL_CLI_USAGE = 2 };

/* Parses argv (argv[0] is "pull", "inspect" or "save"; save takes a second operand). Prints its own usage
 * errors, each starting with argv[0] ("inspect: --threads takes ..."). */
int pull_cli_parse(struct pull_cli *cli, int argc, char **argv);
void pull_cli_free(struct pull_cli *cli);

#endif
