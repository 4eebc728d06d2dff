/* SPDX-License-Identifier: Apache-2.0 */
/* vmpull pull [OPTIONS] SOURCE */
#include "tool.h"
#include "tool_opts.h"
#include "tool_platform.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static json_object *string_or_null(const char *s) {
  return s ? json_object_new_string(s) : NULL;
}

static json_object *nonzero_or_null(int v) {
  return v ? json_object_new_int(v) : NULL;
}

static json_object *result_json(const vmpull_outcome *o, const char *provider) {
  const char *image_name = vmpull_outcome_image_name(o);
  json_object *j = json_object_new_object();
  json_object_object_add(j, "version", json_object_new_int(1));
  /* null: the disk went to stdout (-o -) */
  json_object_object_add(j, "path", string_or_null(vmpull_outcome_path(o)));
  json_object_object_add(j, "source", json_object_new_string(vmpull_outcome_source(o)));
  json_object_object_add(j, "format", json_object_new_string(vmpull_outcome_format(o)));
  /* null: a local file copied as it is, nothing to check, was not hashed */
  const char *digest = vmpull_outcome_digest(o);
  json_object_object_add(j, "digest", digest ? json_object_new_string(digest) : NULL);
  json_object_object_add(j, "image_name", json_object_new_string(image_name ? image_name : ""));
  json_object_object_add(j, "provider", json_object_new_string(provider));
  json_object_object_add(j, "fetched", json_object_new_int64((int64_t)vmpull_outcome_fetched(o)));
  json_object_object_add(j, "size", json_object_new_int64((int64_t)vmpull_outcome_size(o)));
  json_object_object_add(j, "allocated", json_object_new_int64((int64_t)vmpull_outcome_allocated(o)));
  if (vmpull_outcome_content_disposition(o))
    json_object_object_add(j, "content_disposition", json_object_new_string(vmpull_outcome_content_disposition(o)));
  if (vmpull_outcome_reference(o))
    json_object_object_add(j, "reference", json_object_new_string(vmpull_outcome_reference(o)));
  json_object_object_add(j, "mirror", string_or_null(vmpull_outcome_mirror(o)));
  json_object_object_add(j, "cache", json_object_new_string(vmpull_cache_use_name(vmpull_outcome_cache(o))));
  json_object_object_add(j, "resumed_from", json_object_new_int64((int64_t)vmpull_outcome_resumed_from(o)));
  json_object_object_add(j, "bytes_transferred", json_object_new_int64((int64_t)vmpull_outcome_bytes_transferred(o)));
  json_object *signature = NULL;
  if (vmpull_outcome_signature_type(o)) {
    signature = json_object_new_object();
    json_object_object_add(signature, "type", json_object_new_string(vmpull_outcome_signature_type(o)));
    json_object_object_add(signature, "key", string_or_null(vmpull_outcome_signature_key(o)));
  }
  json_object_object_add(j, "signature", signature);
  return j;
}

/* A failed pull: with --json the error object also carries what the outcome knows of its cause;
 * with --progress json it is the done event's result, after the error event (and, as every line on
 * stderr is then an event, the object is not printed there again for -o -). */
static int report_pull_failure(const vmpull_error *failure, const vmpull_outcome *o, int json, FILE *to,
                               struct tool_progress *progress) {
  vmpull_error shown = *failure;
  const vmpull_error *err = &shown;
  tool_error_names_creds(progress, &shown);
  json_object *root = json_object_new_object();
  json_object *e = json_object_new_object();
  json_object_object_add(e, "code", json_object_new_string(vmpull_code_name(err->code)));
  json_object_object_add(e, "message", json_object_new_string(err->message));
  json_object_object_add(e, "errno", nonzero_or_null(vmpull_outcome_errno(o)));
  json_object_object_add(e, "http_status", nonzero_or_null(vmpull_outcome_http_status(o)));
  json_object_object_add(e, "curl_code", nonzero_or_null(vmpull_outcome_curl_code(o)));
  json_object_object_add(root, "error", e);
  if (progress->events) {
    if (json && to != stderr)
      tool_print_json_to(to, json_object_get(root));
    tool_events_error(progress->events, err);
    tool_events_done(progress->events, NULL, root);
    return tool_exit_for_error(err);
  }
  /* (on stderr the object comes last, after the message: a reader takes the last line) */
  if (to == stderr)
    tool_error("%s", err->message);
  if (json)
    tool_print_json_to(to, json_object_get(root));
  json_object_put(root);
  if (to != stderr)
    tool_error("%s", err->message);
  return tool_exit_for_error(err);
}

/* -o -: stdout takes the disk, in order (vmpull_pull_to_fd); a terminal would only show garbage, and a
 * block device there would escape the checks -o DEVICE makes. 0, or the exit status. */
static int stdout_ready_for_a_disk(void) {
  struct stat st;
  if (tool_stdout_flush() < 0 || fstat(STDOUT_FILENO, &st) < 0) {
    tool_error("pull: -o -: stdout cannot be written (%s)", strerror(errno));
    return EXIT_PULL_FAILED;
  }
  if (tool_is_terminal(STDOUT_FILENO)) {
    tool_error("pull: -o - writes the disk to stdout, which is a terminal; redirect it to a file or a pipe");
    return EXIT_USAGE;
  }
  if (S_ISBLK(st.st_mode)) {
    tool_error("pull: -o -: stdout is a block device; write to it with -o DEVICE, which checks the device first");
    return EXIT_USAGE;
  }
  /* A reader that went away is an error (EPIPE, exit 1), not a silent death by SIGPIPE. */
  tool_ignore_sigpipe();
  return 0;
}

int tool_pull(int argc, char **argv) {
  struct pull_cli cli;
  int r = pull_cli_parse(&cli, argc, argv);
  if (r != PULL_CLI_OK)
    return r == PULL_CLI_HELP ? 0 : EXIT_USAGE;
  int to_stdout = cli.opts.output && !strcmp(cli.opts.output, "-");
  if (to_stdout && (r = stdout_ready_for_a_disk()) != 0) {
    pull_cli_free(&cli);
    return r;
  }
  /* with the disk on stdout, the --json object is the last line of stderr */
  FILE *json_to = to_stdout ? stderr : stdout;

  struct tool_progress progress;
  tool_progress_init(&progress, cli.progress_mode, cli.quiet);
  progress.verbose = cli.verbose;
  progress.creds_flags = cli.skopeo.creds_flags;
  if (tool_progress_open(&progress, "pull", cli.progress_fd) < 0) {
    pull_cli_free(&cli);
    return EXIT_USAGE;
  }
  tool_prepare_call(&cli.opts, &progress);

  vmpull_error err;
  vmpull_outcome *outcome = NULL;
  r = to_stdout ? vmpull_pull_to_fd(&cli.opts, STDOUT_FILENO, &outcome, &err) : vmpull_pull2(&cli.opts, &outcome, &err);
  tool_progress_finish(&progress);
  if (r < 0) {
    r = report_pull_failure(&err, outcome, cli.json, json_to, &progress);
    vmpull_outcome_free(outcome);
    tool_progress_close(&progress);
    pull_cli_free(&cli);
    return r;
  }
  json_object *result = result_json(outcome, cli.opts.provider);
  /* (with --progress json and -o -, stderr has only events: the done event carries the object) */
  if (cli.json && !(to_stdout && progress.events))
    tool_print_json_to(json_to, json_object_get(result));
  else if (!cli.json && !to_stdout)
    puts(vmpull_outcome_path(outcome));
  /* The caller learns where the disk is from this line only: not printed is not pulled. */
  r = 0;
  if (!to_stdout && tool_stdout_flush() < 0) {
    tool_error("pull: the disk is at %s, but its path could not be written to stdout: %s", vmpull_outcome_path(outcome),
               strerror(errno));
    r = EXIT_PULL_FAILED;
  }
  /* Keep the cache from growing without bound: entries unused for 14 days go (podman's expiry). */
  if (r == 0 && cli.opts.cache_dir && !cli.opts.no_cache && !cli.opts.offline && !cli.keep_cache) {
    vmpull_error perr;
    if (vmpull_cache_prune(cli.opts.cache_dir, 14 * 86400, UINT64_MAX, NULL, &perr) < 0)
      tool_warn("cache prune: %s", perr.message);
  }
  /* the last event: nothing is said after it */
  tool_events_done(progress.events, vmpull_outcome_digest(outcome), result);
  tool_progress_close(&progress);
  vmpull_outcome_free(outcome);
  pull_cli_free(&cli);
  return r;
}
