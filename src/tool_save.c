/* SPDX-License-Identifier: Apache-2.0 */
/* vmpull save [--all] [PULL OPTIONS] SOURCE DEST | SOURCE --to-archive FILE */
#include "tool.h"
#include "tool_opts.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

int tool_save(int argc, char **argv) {
  /* --all and --to-archive are save's own; everything else is a pull option (provider, arch,
   * credentials, TLS, mirrors). */
  char **args = NULL;
  int n = 0, all = 0;
  const char *archive = NULL;
  int r = tool_take_extra_options("save", argc, argv, &all, &archive, &args, &n);
  if (r != TOOL_GO_ON)
    return r;
  args[0] = "save"; /* pull_cli_parse takes a second operand (DEST) for save */

  struct pull_cli cli;
  r = pull_cli_parse(&cli, n, args);
  if (r != PULL_CLI_OK) {
    free(args);
    return r == PULL_CLI_HELP ? 0 : EXIT_USAGE;
  }
  char *dest = NULL;
  if (archive && cli.dest)
    tool_error("save: give DEST or --to-archive FILE, not both");
  else if (!archive && !cli.dest)
    tool_error("save: missing DEST: oci-dir://PATH[:REF], oci-archive://FILE[:REF] or --to-archive FILE (see "
               "'vmpull save --help')");
  else if (archive && asprintf(&dest, "oci-archive://%s", archive) < 0)
    tool_error("save: out of memory");
  else if (!archive && !(dest = strdup(cli.dest)))
    tool_error("save: out of memory");
  if (!dest) {
    pull_cli_free(&cli);
    free(args);
    return EXIT_USAGE;
  }

  struct tool_progress progress;
  tool_progress_init(&progress, cli.progress_mode, cli.quiet);
  progress.verbose = cli.verbose;
  progress.creds_flags = cli.skopeo.creds_flags;
  if (tool_progress_open(&progress, "save", cli.progress_fd) < 0) {
    free(dest);
    pull_cli_free(&cli);
    free(args);
    return EXIT_USAGE;
  }
  tool_prepare_call(&cli.opts, &progress);

  vmpull_error err;
  char *json = NULL;
  r = vmpull_save(&cli.opts, dest, all ? VMPULL_SAVE_ALL : 0, &json, &err);
  tool_progress_finish(&progress);
  if (r < 0) {
    r = tool_report_failure(&err, cli.json, &progress);
  } else {
    json_object *o = json_tokener_parse(json), *d = NULL;
    if (cli.json) {
      puts(json);
    } else {
      /* What to pull on the far side: the destination with its REF. */
      puts(o && json_object_object_get_ex(o, "destination", &d) ? json_object_get_string(d) : json);
    }
    fflush(stdout);
    json_object *digest = NULL;
    if (o && json_object_object_get_ex(o, "digest", &digest))
      digest = json_object_get(digest); /* (outlives o's release below, when the stream takes o) */
    tool_events_done(progress.events, digest ? json_object_get_string(digest) : NULL, o);
    json_object_put(digest);
    r = 0;
  }
  tool_progress_close(&progress);
  free(json);
  free(dest);
  pull_cli_free(&cli);
  free(args);
  return r;
}
