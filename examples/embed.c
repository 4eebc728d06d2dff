/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Embedding libvmpull: pull one image with a progress callback, and stop
 * cleanly on Ctrl-C or SIGTERM.
 *
 *   cc embed.c $(pkg-config --cflags --libs vmpull) -o embed
 *   ./embed SOURCE OUTPUT
 *
 * SOURCE is anything `vmpull pull` takes (a path, an http(s) URL, ...).
 * Prints the disk's path on stdout; progress goes to stderr, then how the
 * cache served the pull, or on failure what the error's details are (errno,
 * HTTP status, curl code). Exit status: 0 done, 1 failed, 130 interrupted,
 * 143 terminated.
 *
 * It uses vmpull_pull2() (libvmpull 0.3): the outcome it returns is read
 * through accessor functions, so later libraries can report more without
 * breaking this program.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <vmpull.h>

/* The signal handler only sets a flag; the library polls it between chunks. */
static volatile sig_atomic_t cancel_requested = 0;
static volatile sig_atomic_t caught_signal = 0;

static void on_signal(int sig) {
  caught_signal = sig;
  cancel_requested = 1;
}

/* Runs on this thread, at most every 50 ms. Returning non-zero would cancel too. */
static int on_progress(const vmpull_progress *p, void *userdata) {
  (void)userdata;
  const char *name = p->name ? p->name : "image";
  if (p->stage == VMPULL_STAGE_RESOLVE) /* looking up manifests, or waiting to retry: no bytes to show */
    return 0;
  if (p->stage == VMPULL_STAGE_DONE)
    fprintf(stderr, "%s: done, %llu bytes fetched, %llu bytes written\n", name, (unsigned long long)p->fetched,
            (unsigned long long)p->written);
  else if (p->fetched_total != UINT64_MAX)
    fprintf(stderr, "%s: %llu of %llu bytes\n", name, (unsigned long long)p->fetched,
            (unsigned long long)p->fetched_total);
  else
    fprintf(stderr, "%s: %llu bytes\n", name, (unsigned long long)p->fetched);
  return 0;
}

static void on_warning(const char *message, void *userdata) {
  (void)userdata;
  fprintf(stderr, "warning: %s\n", message);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s SOURCE OUTPUT\n", argv[0]);
    return 2;
  }

#ifdef _WIN32
  /* Windows' C runtime has signal() only: Ctrl-C arrives as SIGINT on a thread of its own. */
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
#else
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
#endif

  vmpull_pull_options opts;
  vmpull_pull_options_init(&opts, sizeof(opts));
  opts.source = argv[1];
  opts.output = argv[2];
  opts.replace = 1;
  opts.progress = on_progress;
  opts.warning = on_warning;
  opts.cancel = &cancel_requested;

  vmpull_outcome *outcome = NULL; /* returned on failure too: the error's details are in it */
  vmpull_error err;
  if (vmpull_pull2(&opts, &outcome, &err) < 0) {
    fprintf(stderr, "embed: %s (%s)\n", err.message, vmpull_code_name(err.code));
    fprintf(stderr, "embed: errno %d, HTTP status %d, curl code %d\n", vmpull_outcome_errno(outcome),
            vmpull_outcome_http_status(outcome), vmpull_outcome_curl_code(outcome));
    vmpull_outcome_free(outcome);
    if (err.code == VMPULL_E_CANCELLED && caught_signal)
      return 128 + caught_signal;
    return 1;
  }
  printf("%s\n", vmpull_outcome_path(outcome));
  fprintf(stderr, "embed: %s, %s, %" PRIu64 " bytes on disk\n", vmpull_outcome_format(outcome),
          vmpull_outcome_digest(outcome), vmpull_outcome_allocated(outcome));
  fprintf(stderr, "embed: cache %s, %" PRIu64 " bytes over the network, resumed from byte %" PRIu64 "%s%s\n",
          vmpull_cache_use_name(vmpull_outcome_cache(outcome)), vmpull_outcome_bytes_transferred(outcome),
          vmpull_outcome_resumed_from(outcome), vmpull_outcome_mirror(outcome) ? ", mirror " : "",
          vmpull_outcome_mirror(outcome) ? vmpull_outcome_mirror(outcome) : "");
  vmpull_outcome_free(outcome);
  return 0;
}
