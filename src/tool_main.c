/* SPDX-License-Identifier: Apache-2.0 */
/* vmpull: main() and the dispatch to subcommands (their shared helpers: tool_process.c). */
#include "tool.h"
#include "tool_completion.h"
#include "tool_platform.h"

#include <errno.h>
#include <string.h>

static int run_command(int argc, char **argv) {
  if (argc < 2)
    return tool_help(NULL) == 0 ? EXIT_USAGE : EXIT_USAGE;
  const char *cmd = argv[1];
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    printf("vmpull %s\n", vmpull_version());
    return 0;
  }
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
    return tool_help(NULL);
  if (strcmp(cmd, "help") == 0)
    return tool_help(argc > 2 ? argv[2] : NULL);
  if (strcmp(cmd, "pull") == 0)
    return tool_pull(argc - 1, argv + 1);
  if (strcmp(cmd, "inspect") == 0)
    return tool_inspect(argc - 1, argv + 1);
  if (strcmp(cmd, "cache") == 0)
    return tool_cache(argc - 1, argv + 1);
  if (strcmp(cmd, "save") == 0)
    return tool_save(argc - 1, argv + 1);
  if (strcmp(cmd, "completion") == 0)
    return tool_completion(argc - 1, argv + 1);
  return tool_unknown_command(cmd);
}

int main(int argc, char **argv) {
  tool_hold_standard_fds();
  tool_platform_args(&argc, &argv);
  int rc = run_command(argc, argv);
  /* What a command printed must have got out: a caller reads its answer from stdout. */
  if (rc == 0 && tool_stdout_flush() < 0) {
    tool_error("could not write to stdout: %s", strerror(errno));
    rc = EXIT_PULL_FAILED;
  }
  return rc;
}
