/* SPDX-License-Identifier: Apache-2.0 */
/* The options inspect and save take beyond pull's (--all, --to-archive): taken out before pull_cli_parse. */
#include "tool.h"
#include "tool_args.h"
#include "tool_completion.h"

#include <stdlib.h>
#include <string.h>

/* What inspect and save take beyond pull's options (the parsing below follows these tables). */
const struct option inspect_longopts[] = {
    {"all", no_argument, NULL, 0},
    {NULL, 0, NULL, 0},
};
const struct option save_longopts[] = {
    {"all", no_argument, NULL, 0},
    {"to-archive", required_argument, NULL, 0},
    {NULL, 0, NULL, 0},
};

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
    /* --help is answered where pull's options are parsed, in order: an unknown option before it
     * is still an error */
    args[n++] = i > 0 && tool_is_help(argv[i]) ? "--help" : argv[i];
  }
  *rest = args;
  *nrest = n;
  return TOOL_GO_ON;
}
