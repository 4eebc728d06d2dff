/* SPDX-License-Identifier: Apache-2.0 */
/* vmpull pull [OPTIONS] SOURCE */
#include "tool.h"
#include "tool_opts.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The progress events also say which registry mirror served the pull (--json reports it). */
struct pull_watch {
  struct tool_progress *display;
  char mirror[256];
};

static int on_progress(const vmpull_progress *ev, void *userdata) {
  struct pull_watch *w = userdata;
  if (ev->mirror && !w->mirror[0])
    snprintf(w->mirror, sizeof(w->mirror), "%s", ev->mirror);
  return tool_progress_cb(ev, w->display);
}

static void print_result_json(const vmpull_result *r, const char *provider, const char *mirror) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "path", json_object_new_string(r->path));
  json_object_object_add(o, "source", json_object_new_string(r->source));
  json_object_object_add(o, "format", json_object_new_string(r->format));
  json_object_object_add(o, "digest", json_object_new_string(r->digest));
  json_object_object_add(o, "image_name", json_object_new_string(r->image_name ? r->image_name : ""));
  json_object_object_add(o, "provider", json_object_new_string(provider));
  json_object_object_add(o, "fetched", json_object_new_int64((int64_t)r->fetched));
  json_object_object_add(o, "size", json_object_new_int64((int64_t)r->size));
  json_object_object_add(o, "allocated", json_object_new_int64((int64_t)r->allocated));
  if (r->content_disposition)
    json_object_object_add(o, "content_disposition", json_object_new_string(r->content_disposition));
  if (r->reference)
    json_object_object_add(o, "reference", json_object_new_string(r->reference));
  if (mirror && *mirror)
    json_object_object_add(o, "mirror", json_object_new_string(mirror));
  tool_print_json(o);
}

int tool_pull(int argc, char **argv) {
  struct pull_cli cli;
  int r = pull_cli_parse(&cli, argc, argv);
  if (r != PULL_CLI_OK)
    return r == PULL_CLI_HELP ? 0 : EXIT_USAGE;

  struct tool_progress progress;
  tool_progress_init(&progress, cli.progress_mode, cli.quiet);
  tool_prepare_call(&cli.opts, &progress);
  struct pull_watch watch = {.display = &progress};
  cli.opts.progress = on_progress;
  cli.opts.progress_data = &watch;

  vmpull_error err;
  vmpull_result res;
  r = vmpull_pull(&cli.opts, &res, &err);
  tool_progress_finish(&progress);
  if (r < 0) {
    r = tool_report_failure(&err, cli.json);
    pull_cli_free(&cli);
    return r;
  }
  if (cli.json)
    print_result_json(&res, cli.opts.provider, watch.mirror);
  else
    puts(res.path);
  /* The caller learns where the disk is from this line only: not printed is not pulled. */
  if (tool_stdout_flush() < 0) {
    tool_error("pull: the disk is at %s, but its path could not be written to stdout: %s", res.path, strerror(errno));
    vmpull_result_free(&res);
    pull_cli_free(&cli);
    return EXIT_PULL_FAILED;
  }
  /* Keep the cache from growing without bound: entries unused for 14 days go (podman's expiry). */
  if (cli.opts.cache_dir && !cli.opts.no_cache && !cli.opts.offline && !cli.keep_cache) {
    vmpull_error perr;
    if (vmpull_cache_prune(cli.opts.cache_dir, 14 * 86400, UINT64_MAX, NULL, &perr) < 0)
      tool_warn("cache prune: %s", perr.message);
  }
  vmpull_result_free(&res);
  pull_cli_free(&cli);
  return 0;
}
