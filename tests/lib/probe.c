/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib_probe: one libvmpull call, as another program makes it (the shared library and
 * include/vmpull.h only), reporting what the caller sees: the stages its progress callback was
 * given, and the error struct after the call, success included. tests/cli/test_library_net.py
 * runs it against the real servers the pytest fixtures start.
 *
 *   lib_probe [-k] [-w] [-l] [-n N] [-C CACHE] [-c CREDS] [-M REG=MIRROR] [-m pull|inspect|save] SOURCE OUTPUT
 *   lib_probe -V
 *     -k   tls_verify = 0
 *     -w   once a warning came (a retry announced), return non-zero from the progress callback
 *          when it runs a second time with nothing moved (same stage, same bytes fetched) since
 *          the first call after the warning: in the wait the warning announced
 *     -l   set the log hook: print each line as "log LEVEL MESSAGE" when it arrives
 *     -n   once a warning said the pull waits for another vmpull (a cache lock), return non-zero
 *          from the Nth progress callback after it
 *     -C   cache_dir;  -c: creds;  -M REGISTRY=MIRROR: a mirror (up to 4)
 *     -m   which call (default pull; save writes OUTPUT as "oci-dir://OUTPUT")
 *     -V   print "header VERSION_STRING", "header_parts MAJOR.MINOR.PATCH", "library
 *          vmpull_version()" and "check_version" results, and exit
 *
 * Prints "stages A B ..." (each change of stage), "in_wait N" (callbacks during announced
 * waits), "lock_wait N" (callbacks after a lock wait was announced), "written_after_warning N"
 * (the written bytes of the first callback after the last warning, -1: none), "code NAME", "message
 * TEXT", and exits 0 when the call returned 0, else 1.
 */
#include "vmpull.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* This file is built against the header it tests: VMPULL_CHECK_VERSION must hold for it. */
#if !VMPULL_CHECK_VERSION(0, 3, 0) || VMPULL_CHECK_VERSION(VMPULL_VERSION_MAJOR, VMPULL_VERSION_MINOR + 1, 0)
#error "VMPULL_CHECK_VERSION is wrong"
#endif

struct probe {
  int cancel_in_wait;
  int waiting;  /* a warning announced a wait; nothing moved since */
  int baseline; /* the next callback records where things stand */
  vmpull_stage wait_stage;
  uint64_t wait_fetched;
  unsigned in_wait;
  char stages[256];
  int last_stage;
  unsigned cancel_in_lock_wait; /* -n: the Nth callback after the lock wait was announced cancels */
  int lock_waiting;
  unsigned lock_wait_calls;
  int warned;                      /* a warning came: the next callback's written is recorded */
  long long written_after_warning; /* -1: no callback after a warning */
};

static const char *stage_name(vmpull_stage s) {
  switch (s) {
  case VMPULL_STAGE_RESOLVE: return "resolve";
  case VMPULL_STAGE_TRANSFER: return "transfer";
  case VMPULL_STAGE_DONE: return "done";
  }
  return "unknown";
}

static int on_progress(const vmpull_progress *ev, void *userdata) {
  struct probe *p = userdata;
  if (p->lock_waiting) {
    p->lock_wait_calls++;
    if (p->cancel_in_lock_wait && p->lock_wait_calls >= p->cancel_in_lock_wait)
      return 1;
  }
  if ((int)ev->stage != p->last_stage) {
    size_t len = strlen(p->stages);
    snprintf(p->stages + len, sizeof(p->stages) - len, " %s", stage_name(ev->stage));
    p->last_stage = (int)ev->stage;
  }
  if (p->waiting && !p->baseline) {
    if (ev->stage == p->wait_stage && ev->fetched == p->wait_fetched) {
      p->in_wait++;
      if (p->cancel_in_wait)
        return 1;
    } else {
      p->waiting = 0;
    }
  }
  if (p->warned) {
    p->warned = 0;
    p->written_after_warning = (long long)ev->written;
  }
  p->baseline = 0;
  p->wait_stage = ev->stage;
  p->wait_fetched = ev->fetched;
  return 0;
}

static void on_warning(const char *message, void *userdata) {
  struct probe *p = userdata;
  fprintf(stderr, "lib_probe: warning: %s\n", message);
  p->warned = 1;
  if (strstr(message, "; retry ")) {
    p->waiting = 1;
    p->baseline = 1;
  }
  if (strstr(message, "waiting for another vmpull"))
    p->lock_waiting = 1;
}

static void on_log(int level, const char *message, void *userdata) {
  (void)userdata;
  printf("log %s %s\n", level == VMPULL_LOG_DEBUG ? "debug" : level == VMPULL_LOG_INFO ? "info" : "unknown", message);
}

static int print_versions(void) {
  printf("header %s\nheader_parts %d.%d.%d\nlibrary %s\n", VMPULL_VERSION_STRING, VMPULL_VERSION_MAJOR,
         VMPULL_VERSION_MINOR, VMPULL_VERSION_PATCH, vmpull_version());
  printf("check_version_same %d\ncheck_version_older %d\ncheck_version_newer %d\n",
         VMPULL_CHECK_VERSION(VMPULL_VERSION_MAJOR, VMPULL_VERSION_MINOR, VMPULL_VERSION_PATCH),
         VMPULL_CHECK_VERSION(0, 1, 99),
         VMPULL_CHECK_VERSION(VMPULL_VERSION_MAJOR, VMPULL_VERSION_MINOR, VMPULL_VERSION_PATCH + 1));
  return 0;
}

int main(int argc, char **argv) {
  struct probe p = {.last_stage = -1, .written_after_warning = -1};
  vmpull_pull_options o;
  vmpull_pull_options_init(&o, sizeof(o));
  const char *mode = "pull";
  const char *mirrors[4];
  size_t n_mirrors = 0;
  int c;
  while ((c = getopt(argc, argv, "kwln:C:c:M:m:V")) != -1) {
    switch (c) {
    case 'k': o.tls_verify = 0; break;
    case 'w': p.cancel_in_wait = 1; break;
    case 'l': o.log = on_log; break;
    case 'n': p.cancel_in_lock_wait = (unsigned)strtoul(optarg, NULL, 10); break;
    case 'C': o.cache_dir = optarg; break;
    case 'c': o.creds = optarg; break;
    case 'M':
      if (n_mirrors == 4)
        return 2;
      mirrors[n_mirrors++] = optarg;
      break;
    case 'm': mode = optarg; break;
    case 'V': return print_versions();
    default: return 2;
    }
  }
  if (argc - optind != 2) {
    fprintf(stderr, "usage: lib_probe [-k] [-w] [-l] [-n N] [-C CACHE] [-c CREDS] [-M REG=MIRROR] [-m "
                    "pull|inspect|save] SOURCE OUTPUT\n");
    return 2;
  }
  o.mirrors = n_mirrors ? mirrors : NULL;
  o.n_mirrors = n_mirrors;
  o.source = argv[optind];
  o.output = argv[optind + 1];
  o.arch = "x86_64";
  o.progress = on_progress;
  o.progress_data = &p;
  o.warning = on_warning;
  o.warning_data = &p;

  vmpull_error err;
  memset(&err, 0x55, sizeof(err)); /* whatever the caller's stack held: the call must set it */
  err.message[sizeof(err.message) - 1] = '\0';
  int rc;
  if (!strcmp(mode, "inspect")) {
    char *json = NULL;
    rc = vmpull_inspect(&o, 0, &json, &err);
    free(json);
  } else if (!strcmp(mode, "save")) {
    char *dest = NULL, *json = NULL;
    if (asprintf(&dest, "oci-dir://%s", o.output) < 0)
      return 2;
    o.output = NULL;
    rc = vmpull_save(&o, dest, 0, &json, &err);
    free(json);
    free(dest);
  } else {
    vmpull_result result;
    rc = vmpull_pull(&o, &result, &err);
    vmpull_result_free(&result);
  }
  printf("lock_wait %u\nwritten_after_warning %lld\n", p.lock_wait_calls, p.written_after_warning);
  printf("stages%s\nin_wait %u\ncode %s\nmessage %s\n", p.stages, p.in_wait, vmpull_code_name(err.code), err.message);
  return rc == 0 ? 0 : 1;
}
