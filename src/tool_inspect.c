/* SPDX-License-Identifier: Apache-2.0 */
/* vmpull inspect [--all] [PULL OPTIONS] SOURCE: what pull would fetch from an OCI source, as JSON. */
#include "tool.h"
#include "tool_opts.h"

#include <stdlib.h>
#include <string.h>

static void on_warning(const char *message, void *userdata) {
  (void)userdata;
  tool_warn("%s", message);
}

int tool_inspect(int argc, char **argv) {
  /* Everything but --all is a pull option (provider, arch, credentials, TLS, naming). */
  char **args = calloc((size_t)argc + 1, sizeof(*args));
  if (!args) {
    tool_error("inspect: out of memory");
    return EXIT_PULL_FAILED;
  }
  int n = 0, all = 0;
  for (int i = 0; i < argc; i++) {
    if (i > 0 && !strcmp(argv[i], "--")) {
      while (i < argc)
        args[n++] = argv[i++];
      break;
    }
    if (i > 0 && !strcmp(argv[i], "--all")) {
      all = 1;
      continue;
    }
    if (i > 0 && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) {
      free(args);
      return tool_help("inspect");
    }
    args[n++] = argv[i];
  }

  struct pull_cli cli;
  int r = pull_cli_parse(&cli, n, args);
  if (r != PULL_CLI_OK) {
    free(args);
    return r == PULL_CLI_HELP ? 0 : EXIT_USAGE;
  }
  tool_install_signals();
  cli.opts.cancel = &tool_cancel;
  cli.opts.warning = on_warning;
  if (!cli.opts.tls_verify)
    tool_warn("TLS certificate verification is disabled (--tls-verify=false)");

  vmpull_error err;
  char *json = NULL;
  r = vmpull_inspect(&cli.opts, all ? VMPULL_INSPECT_ALL : 0, &json, &err);
  if (r < 0) {
    if (cli.json)
      tool_json_error(&err);
    tool_error("%s", err.message);
    pull_cli_free(&cli);
    free(args);
    return tool_exit_for_error(&err);
  }
  puts(json);
  free(json);
  pull_cli_free(&cli);
  free(args);
  return 0;
}
