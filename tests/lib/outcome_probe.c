/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outcome_probe: one vmpull_pull2() or vmpull_pull_to_fd() call, as another program makes it (the
 * shared library and include/vmpull.h only), printing every accessor of the outcome as one JSON
 * line on stdout (null for a NULL string). tests/cli/test_outcome.py runs it against the real
 * servers the pytest fixtures start.
 *
 *   outcome_probe [-k] [-O] [-K] [-R] [-c CACHE] [-r RETRIES] [-a ARCH] [-m REG=MIRROR] [-F|-W|-P|-N] SOURCE OUTPUT
 *     -k  tls_verify = 0         -O  offline       -K  keep_uncompressed       -R  refresh
 *     -F  vmpull_pull_to_fd into OUTPUT opened O_RDWR|O_CREAT|O_TRUNC (-W: O_WRONLY; -A: O_WRONLY|O_APPEND)
 *     -P  vmpull_pull_to_fd into a pipe; a child process copies what comes out of it into OUTPUT
 *     -N  vmpull_pull2 with outcome == NULL (only the return value and err)
 * Exits 0 when the call returned 0, else 1.
 */
#include "vmpull.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void print_string(const char *key, const char *v) {
  printf("\"%s\": ", key);
  if (!v) {
    fputs("null, ", stdout);
    return;
  }
  putchar('"');
  for (; *v; v++) {
    if (*v == '"' || *v == '\\')
      putchar('\\');
    putchar(*v);
  }
  fputs("\", ", stdout);
}

static void print_outcome(const vmpull_outcome *o, int rc, const vmpull_error *err) {
  printf("{\"rc\": %d, \"outcome\": %s, ", rc, o ? "true" : "false");
  print_string("path", vmpull_outcome_path(o));
  print_string("source", vmpull_outcome_source(o));
  print_string("format", vmpull_outcome_format(o));
  print_string("digest", vmpull_outcome_digest(o));
  print_string("image_name", vmpull_outcome_image_name(o));
  print_string("content_disposition", vmpull_outcome_content_disposition(o));
  print_string("reference", vmpull_outcome_reference(o));
  print_string("mirror", vmpull_outcome_mirror(o));
  print_string("error_message", vmpull_outcome_error_message(o));
  print_string("err_message", err->message);
  printf("\"fetched\": %" PRIu64 ", \"size\": %" PRIu64 ", \"allocated\": %" PRIu64 ", ", vmpull_outcome_fetched(o),
         vmpull_outcome_size(o), vmpull_outcome_allocated(o));
  printf("\"bytes_transferred\": %" PRIu64 ", \"resumed_from\": %" PRIu64 ", \"cache\": %d, ",
         vmpull_outcome_bytes_transferred(o), vmpull_outcome_resumed_from(o), (int)vmpull_outcome_cache(o));
  printf("\"error_code\": %d, \"err_code\": %d, \"errno\": %d, \"http_status\": %d, \"curl_code\": %d}\n",
         vmpull_outcome_error_code(o), err->code, vmpull_outcome_errno(o), vmpull_outcome_http_status(o),
         vmpull_outcome_curl_code(o));
}

/* The reading end of the pipe, copied into path by a child process. */
static pid_t start_reader(int rfd, int wfd, const char *path) {
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  close(wfd); /* else the pipe never ends */
  int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0)
    _exit(2);
  char buf[65536];
  ssize_t n;
  while ((n = read(rfd, buf, sizeof(buf))) > 0)
    if (write(out, buf, (size_t)n) != n)
      _exit(2);
  _exit(n < 0 ? 2 : 0);
}

int main(int argc, char **argv) {
  vmpull_pull_options opts;
  vmpull_pull_options_init(&opts, sizeof(opts));
  const char *mirrors[8];
  size_t n_mirrors = 0;
  char mode = '2';
  int c;
  while ((c = getopt(argc, argv, "kOKRc:r:a:m:FWAPN")) != -1) {
    switch (c) {
    case 'k': opts.tls_verify = 0; break;
    case 'O': opts.offline = 1; break;
    case 'R': opts.refresh = 1; break;
    case 'K': opts.keep_uncompressed = 1; break;
    case 'c': opts.cache_dir = optarg; break;
    case 'r': opts.retries = atoi(optarg); break;
    case 'a': opts.arch = optarg; break;
    case 'm':
      if (n_mirrors < 8)
        mirrors[n_mirrors++] = optarg;
      break;
    case 'F':
    case 'W':
    case 'A':
    case 'P':
    case 'N': mode = (char)c; break;
    default: return 2;
    }
  }
  if (argc - optind != 2) {
    fprintf(stderr, "usage: outcome_probe [options] SOURCE OUTPUT\n");
    return 2;
  }
  opts.source = argv[optind];
  opts.mirrors = n_mirrors ? mirrors : NULL;
  opts.n_mirrors = n_mirrors;
  const char *output = argv[optind + 1];

  vmpull_outcome *o = NULL;
  vmpull_error err;
  int rc;
  if (mode == 'F' || mode == 'W' || mode == 'A') {
    int how = mode == 'F' ? O_RDWR | O_TRUNC : mode == 'W' ? O_WRONLY | O_TRUNC : O_WRONLY | O_APPEND;
    int fd = open(output, how | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      return 2;
    rc = vmpull_pull_to_fd(&opts, fd, &o, &err);
    close(fd);
  } else if (mode == 'P') {
    int p[2];
    if (pipe(p) < 0)
      return 2;
    pid_t reader = start_reader(p[0], p[1], output);
    close(p[0]);
    rc = vmpull_pull_to_fd(&opts, p[1], &o, &err);
    close(p[1]);
    int status = 0;
    if (reader < 0 || waitpid(reader, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return 2;
  } else {
    opts.output = output;
    rc = vmpull_pull2(&opts, mode == 'N' ? NULL : &o, &err);
  }
  print_outcome(o, rc, &err);
  vmpull_outcome_free(o);
  return rc == 0 ? 0 : 1;
}
