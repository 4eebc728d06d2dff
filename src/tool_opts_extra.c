/* SPDX-License-Identifier: Apache-2.0 */
/* The options inspect and save take beyond pull's (--all, --to-archive): taken out before pull_cli_parse. */
#include "tool.h"
#include "tool_args.h"

#include <stdlib.h>
#include <string.h>

int tool_take_extra_options(const char *cmd, int argc, char **argv, int *all, const char **archive, char ***rest,
                            int *nrest) {
  char **args = calloc((size_t)argc + 1, sizeof(*args));
  if (!args) {
    tool_error("%s: out of memory", cmd);
    return EXIT_PULL_FAILED;
  }
  int n = 0;
  for (int i = 0; i < argc; i++) {
    if (i > 0 && !strcmp(argv[i], "--")) {
      while (i < argc)
        args[n++] = argv[i++];
      break;
    }
    if (i > 0 && !strcmp(argv[i], "--all")) {
      *all = 1;
      continue;
    }
    if (archive && i > 0 && (!strcmp(argv[i], "--to-archive") || !strncmp(argv[i], "--to-archive=", 13))) {
      const char *v = argv[i][12] == '=' ? argv[i] + 13 : i + 1 < argc ? argv[++i] : NULL;
      if (!v || !*v) {
        free(args);
        return tool_missing_value(cmd, cmd, "--to-archive", "a FILE");
      }
      *archive = v;
      continue;
    }
    if (i > 0 && tool_is_help(argv[i])) {
      free(args);
      return tool_help(cmd);
    }
    args[n++] = argv[i];
  }
  *rest = args;
  *nrest = n;
  return TOOL_GO_ON;
}
