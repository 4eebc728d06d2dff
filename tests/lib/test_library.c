/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvmpull as another program sees it: linked against the shared library,
 * using nothing but include/vmpull.h. Checks the promises the header makes
 * about threads, callbacks, cancellation and the error model.
 */
#include "vmpull.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
// clang-format off
#include <cmocka.h>
// clang-format on

#define IMAGE_SIZE (6u << 20)

static char workdir[] = "/tmp/vmpull-libtest-XXXXXX";

static char *path_in_workdir(const char *name) {
  char *p = NULL;
  assert_true(asprintf(&p, "%s/%s", workdir, name) > 0);
  return p;
}

/* Disk-like content: data blocks with zero runs between them, different per seed. */
static uint8_t *make_content(unsigned seed) {
  uint8_t *buf = calloc(1, IMAGE_SIZE);
  assert_non_null(buf);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t off = 0; off < IMAGE_SIZE; off += 65536) {
    if ((off / 65536) % 3 == 1)
      continue; /* a hole */
    for (size_t i = 0; i < 65536; i++) {
      x = x * 1103515245u + 12345u;
      buf[off + i] = (uint8_t)((x >> 16) % 7); /* compressible, not trivial */
    }
  }
  return buf;
}

static void write_gzip(const char *path, const uint8_t *data, size_t len) {
  gzFile gz = gzopen(path, "wb6");
  assert_non_null(gz);
  assert_int_equal(gzwrite(gz, data, (unsigned)len), (int)len);
  assert_int_equal(gzclose(gz), Z_OK);
}

static uint8_t *read_whole(const char *path, size_t *len) {
  FILE *f = fopen(path, "rbe");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

/* Nothing at all in dir: no output, no temporary. */
static int dir_entries(const char *dir) {
  char *cmd = NULL;
  assert_true(asprintf(&cmd, "test -z \"$(ls -A '%s')\"", dir) > 0);
  int empty = system(cmd) == 0;
  free(cmd);
  return empty ? 0 : 1;
}

static char *make_empty_dir(const char *name) {
  char *dir = path_in_workdir(name);
  assert_int_equal(mkdir(dir, 0700), 0);
  return dir;
}

/* ---- two pulls in two threads ---- */

struct thread_pull {
  const char *source;
  const char *output;
  pthread_t thread;
  int rc;
  vmpull_result result;
  vmpull_error err;
  int events, done_events, wrong_thread, went_backwards;
  int stages_seen; /* bit per stage, in the order they came: each stage after the ones before it */
  int stages_out_of_order;
  uint64_t last_fetched;
  const char *names_seen;
};

static int thread_progress(const vmpull_progress *p, void *userdata) {
  struct thread_pull *t = userdata;
  t->events++;
  if (!pthread_equal(pthread_self(), t->thread))
    t->wrong_thread++;
  if (p->fetched < t->last_fetched)
    t->went_backwards++;
  t->last_fetched = p->fetched;
  if (p->stage == VMPULL_STAGE_DONE)
    t->done_events++;
  if (t->stages_seen >> (p->stage + 1))
    t->stages_out_of_order++;
  t->stages_seen |= 1 << p->stage;
  return 0;
}

static void *thread_main(void *arg) {
  struct thread_pull *t = arg;
  vmpull_pull_options o;
  vmpull_pull_options_init(&o, sizeof(o));
  o.source = t->source;
  o.output = t->output;
  o.threads = 1;
  o.progress = thread_progress;
  o.progress_data = t;
  t->rc = vmpull_pull(&o, &t->result, &t->err);
  return NULL;
}

static void test_two_pulls_in_two_threads(void **state) {
  (void)state;
  vmpull_error err;
  assert_int_equal(vmpull_global_init(&err), 0);

  uint8_t *content[2] = {make_content(1), make_content(2)};
  struct thread_pull t[2];
  memset(t, 0, sizeof(t));
  char *src[2] = {path_in_workdir("a.raw.gz"), path_in_workdir("b.raw.gz")};
  char *out[2] = {path_in_workdir("a.raw"), path_in_workdir("b.raw")};
  for (int i = 0; i < 2; i++) {
    write_gzip(src[i], content[i], IMAGE_SIZE);
    t[i].source = src[i];
    t[i].output = out[i];
  }
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&t[i].thread, NULL, thread_main, &t[i]), 0);
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_join(t[i].thread, NULL), 0);

  for (int i = 0; i < 2; i++) {
    if (t[i].rc != 0)
      fail_msg("pull %d: %s", i, t[i].err.message);
    assert_int_equal(t[i].err.code, VMPULL_OK);
    assert_string_equal(t[i].err.message, "");
    /* resolve, transfer, done: each stage delivered, in the header's order */
    assert_int_equal(t[i].stages_seen, 1 << VMPULL_STAGE_RESOLVE | 1 << VMPULL_STAGE_TRANSFER | 1 << VMPULL_STAGE_DONE);
    assert_int_equal(t[i].stages_out_of_order, 0);
    assert_string_equal(t[i].result.path, out[i]);
    assert_string_equal(t[i].result.format, "gzip");
    assert_int_equal(strncmp(t[i].result.digest, "sha256:", 7), 0);
    assert_int_equal(strlen(t[i].result.digest), 7 + 64);
    assert_int_equal(t[i].result.size, IMAGE_SIZE);
    assert_true(t[i].events >= 2);
    assert_int_equal(t[i].done_events, 1);
    assert_int_equal(t[i].wrong_thread, 0);
    assert_int_equal(t[i].went_backwards, 0);
    size_t len = 0;
    uint8_t *got = read_whole(out[i], &len);
    assert_non_null(got);
    assert_int_equal(len, IMAGE_SIZE);
    assert_memory_equal(got, content[i], IMAGE_SIZE);
    free(got);
    vmpull_result_free(&t[i].result);
    assert_null(t[i].result.path);
    vmpull_result_free(&t[i].result); /* twice is fine */
    unlink(out[i]);
    unlink(src[i]);
    free(src[i]);
    free(out[i]);
    free(content[i]);
  }
}

/* ---- cancellation ---- */

/* Feeds a FIFO slowly so that a pull is still running when it is cancelled. */
struct slow_writer {
  char *fifo;
  pthread_t thread;
  uint64_t written;
  int stop;
};

static void *slow_writer_main(void *arg) {
  struct slow_writer *w = arg;
  int fd = -1;
  /* O_NONBLOCK open fails with ENXIO until the pull opens its end: never block forever. */
  for (int i = 0; i < 5000 && fd < 0 && !__atomic_load_n(&w->stop, __ATOMIC_RELAXED); i++) {
    fd = open(w->fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
      nanosleep(&(struct timespec){0, 2000000}, NULL);
  }
  if (fd < 0)
    return NULL;
  fcntl(fd, F_SETFL, 0);
  static const uint8_t chunk[32768] = {1, 2, 3};
  for (int i = 0; i < 2000 && !__atomic_load_n(&w->stop, __ATOMIC_RELAXED); i++) {
    if (write(fd, chunk, sizeof(chunk)) < 0)
      break; /* EPIPE: the pull closed its end */
    __atomic_add_fetch(&w->written, sizeof(chunk), __ATOMIC_RELAXED);
    nanosleep(&(struct timespec){0, 5000000}, NULL);
  }
  close(fd);
  return NULL;
}

static void slow_writer_start(struct slow_writer *w, const char *name) {
  memset(w, 0, sizeof(*w));
  w->fifo = path_in_workdir(name);
  assert_int_equal(mkfifo(w->fifo, 0600), 0);
  assert_int_equal(pthread_create(&w->thread, NULL, slow_writer_main, w), 0);
}

static void slow_writer_stop(struct slow_writer *w) {
  __atomic_store_n(&w->stop, 1, __ATOMIC_RELAXED);
  pthread_join(w->thread, NULL);
  unlink(w->fifo);
  free(w->fifo);
}

struct cancel_state {
  int calls;
  int after_call;              /* return non-zero from this call on */
  volatile sig_atomic_t *flag; /* set it instead of returning non-zero */
  uint64_t fetched_at_cancel;
};

static int cancelling_progress(const vmpull_progress *p, void *userdata) {
  struct cancel_state *c = userdata;
  c->calls++;
  if (c->calls < c->after_call || p->fetched == 0)
    return 0;
  if (!c->fetched_at_cancel)
    c->fetched_at_cancel = p->fetched;
  if (c->flag) {
    *c->flag = 1;
    return 0;
  }
  return 1;
}

static void run_cancelled_pull(const char *fifo_name, struct cancel_state *c, volatile sig_atomic_t *flag) {
  struct slow_writer w;
  slow_writer_start(&w, fifo_name);
  char outname[256];
  snprintf(outname, sizeof(outname), "%s.out", fifo_name);
  char *outdir = make_empty_dir(outname);
  snprintf(outname, sizeof(outname), "%s.out/disk.raw", fifo_name);
  char *out = path_in_workdir(outname);

  vmpull_pull_options o;
  vmpull_pull_options_init(&o, sizeof(o));
  o.source = w.fifo;
  o.output = out;
  o.progress = cancelling_progress;
  o.progress_data = c;
  o.cancel = flag;
  vmpull_result res;
  vmpull_error err;
  int rc = vmpull_pull(&o, &res, &err);
  uint64_t fed = __atomic_load_n(&w.written, __ATOMIC_RELAXED);
  char source[512];
  snprintf(source, sizeof(source), "%s", w.fifo);
  slow_writer_stop(&w);

  assert_int_equal(rc, -VMPULL_E_CANCELLED);
  assert_int_equal(err.code, VMPULL_E_CANCELLED);
  assert_string_equal(vmpull_code_name(err.code), "cancelled");
  assert_non_null(strstr(err.message, "cancelled"));
  if (!strstr(err.message, source))
    fail_msg("the message does not name the source: %s", err.message);
  assert_null(res.path);
  /* It stopped mid-stream, long before the writer ran out (2000 chunks). */
  assert_true(c->fetched_at_cancel > 0);
  assert_true(fed < 1000u * 32768u);
  assert_int_equal(dir_entries(outdir), 0);
  rmdir(outdir);
  free(outdir);
  free(out);
}

static void test_progress_callback_cancels(void **state) {
  (void)state;
  struct cancel_state c = {.after_call = 2};
  run_cancelled_pull("cancel-cb.fifo", &c, NULL);
}

static void test_cancel_flag_from_callback(void **state) {
  (void)state;
  volatile sig_atomic_t flag = 0;
  struct cancel_state c = {.after_call = 2, .flag = &flag};
  run_cancelled_pull("cancel-flag.fifo", &c, &flag);
  assert_int_equal(flag, 1); /* the library never clears it */
}

/* The flag set from a signal handler, the way examples/embed.c uses it. */
static volatile sig_atomic_t signal_flag = 0;
static void on_usr1(int sig) {
  (void)sig;
  signal_flag = 1;
}

static void *send_signal_later(void *arg) {
  pthread_t target = *(pthread_t *)arg;
  nanosleep(&(struct timespec){0, 200000000}, NULL);
  pthread_kill(target, SIGUSR1);
  return NULL;
}

static void test_cancel_flag_from_signal_handler(void **state) {
  (void)state;
  struct sigaction sa = {0};
  sa.sa_handler = on_usr1;
  sigemptyset(&sa.sa_mask);
  assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
  pthread_t self = pthread_self(), killer;
  assert_int_equal(pthread_create(&killer, NULL, send_signal_later, &self), 0);
  struct cancel_state c = {.after_call = 1000000}; /* the callback never cancels */
  c.fetched_at_cancel = 1;
  run_cancelled_pull("cancel-signal.fifo", &c, &signal_flag);
  pthread_join(killer, NULL);
  assert_int_equal(signal_flag, 1);
  signal(SIGUSR1, SIG_DFL);
}

static void test_cancel_flag_already_set(void **state) {
  (void)state;
  char *src = path_in_workdir("small.raw");
  char *out = path_in_workdir("small-out.raw");
  uint8_t data[4096] = {7};
  FILE *f = fopen(src, "we");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, sizeof(data), f), sizeof(data));
  fclose(f);
  volatile sig_atomic_t flag = 1;
  vmpull_pull_options o;
  vmpull_pull_options_init(&o, sizeof(o));
  o.source = src;
  o.output = out;
  o.cancel = &flag;
  vmpull_result res;
  vmpull_error err;
  assert_int_equal(vmpull_pull(&o, &res, &err), -VMPULL_E_CANCELLED);
  assert_int_equal(access(out, F_OK), -1);
  unlink(src);
  free(src);
  free(out);
}

/* ---- error model ---- */

static void test_error_model(void **state) {
  (void)state;
  vmpull_pull_options o;
  vmpull_pull_options_init(&o, sizeof(o));
  assert_int_equal(o.struct_size, sizeof(o));
  assert_int_equal(o.tls_verify, 1);
  assert_int_equal(o.retries, -1);

  char *missing = path_in_workdir("no-such-image.qcow2.xz");
  char *out = path_in_workdir("never.raw");
  o.source = missing;
  o.output = out;
  vmpull_result res;
  vmpull_error err;
  int rc = vmpull_pull(&o, &res, &err);
  assert_int_equal(rc, -VMPULL_E_NOT_FOUND);
  assert_int_equal(err.code, VMPULL_E_NOT_FOUND);
  assert_non_null(strstr(err.message, missing));
  assert_null(strchr(err.message, '\n'));
  assert_null(res.path);
  assert_int_equal(access(out, F_OK), -1);

  /* err may be NULL: the code alone comes back. */
  assert_int_equal(vmpull_pull(&o, &res, NULL), -VMPULL_E_NOT_FOUND);

  /* Options not made by vmpull_pull_options_init. */
  vmpull_pull_options raw;
  memset(&raw, 0, sizeof(raw));
  raw.source = missing;
  assert_int_equal(vmpull_pull(&raw, &res, &err), -VMPULL_E_USAGE);
  assert_int_equal(err.code, VMPULL_E_USAGE);

  /* Credentials never reach a message. */
  o.source = "https://alice:s3cret@127.0.0.1:1/disk.raw.xz";
  o.retries = 0;
  o.connect_timeout = 2;
  rc = vmpull_pull(&o, &res, &err);
  assert_true(rc < 0);
  assert_int_equal(-rc, err.code);
  assert_null(strstr(err.message, "s3cret"));

  free(missing);
  free(out);
}

/* The outcome (0.3): its accessors take NULL, and a failed pull still hands one back with the
 * error's details and no product. */
static void test_outcome_on_failure(void **state) {
  (void)state;
  assert_null(vmpull_outcome_path(NULL));
  assert_null(vmpull_outcome_mirror(NULL));
  assert_null(vmpull_outcome_error_message(NULL));
  assert_int_equal(vmpull_outcome_fetched(NULL), UINT64_MAX);
  assert_int_equal(vmpull_outcome_bytes_transferred(NULL), 0);
  assert_int_equal(vmpull_outcome_cache(NULL), VMPULL_CACHE_NONE);
  assert_int_equal(vmpull_outcome_errno(NULL), 0);
  vmpull_outcome_free(NULL);

  vmpull_pull_options o;
  vmpull_pull_options_init(&o, sizeof(o));
  char *missing = path_in_workdir("no-such-image.raw.gz");
  char *out = path_in_workdir("never2.raw");
  o.source = missing;
  o.output = out;
  vmpull_outcome *oc = NULL;
  vmpull_error err;
  assert_int_equal(vmpull_pull2(&o, &oc, &err), -VMPULL_E_NOT_FOUND);
  assert_non_null(oc);
  assert_int_equal(vmpull_outcome_error_code(oc), VMPULL_E_NOT_FOUND);
  assert_string_equal(vmpull_outcome_error_message(oc), err.message);
  assert_int_equal(vmpull_outcome_errno(oc), ENOENT);
  assert_string_equal(vmpull_outcome_source(oc), missing);
  assert_null(vmpull_outcome_path(oc));
  assert_null(vmpull_outcome_digest(oc));
  assert_int_equal(vmpull_outcome_size(oc), UINT64_MAX);
  vmpull_outcome_free(oc);

  /* pull_to_fd: no fd, or one not open for writing, is a usage error, with an outcome all the same. */
  assert_int_equal(vmpull_pull_to_fd(&o, -1, &oc, &err), -VMPULL_E_USAGE);
  assert_non_null(oc);
  assert_int_equal(vmpull_outcome_error_code(oc), VMPULL_E_USAGE);
  vmpull_outcome_free(oc);

  /* Credentials reach neither the outcome's source nor its message. */
  o.source = "https://alice:s3cret@127.0.0.1:1/disk.raw.xz";
  o.retries = 0;
  assert_true(vmpull_pull2(&o, &oc, NULL) < 0);
  assert_null(strstr(vmpull_outcome_source(oc), "s3cret"));
  assert_null(strstr(vmpull_outcome_error_message(oc), "s3cret"));
  assert_int_equal(vmpull_outcome_curl_code(oc), 7); /* CURLE_COULDNT_CONNECT */
  assert_int_equal(vmpull_outcome_errno(oc), ECONNREFUSED);
  vmpull_outcome_free(oc);
  free(missing);
  free(out);
}

/* An embedder's machine name follows podman's rule, and an output path prints on one line: both are
 * refused before anything is read, naming what is wrong. */
static void test_machine_name_and_output_path(void **state) {
  (void)state;
  char *src = path_in_workdir("names.raw.gz");
  uint8_t *content = make_content(9);
  write_gzip(src, content, IMAGE_SIZE);
  free(content);
  char *dir = make_empty_dir("names");
  vmpull_pull_options o;
  vmpull_pull_options_init(&o, sizeof(o));
  o.source = src;
  o.data_dir = dir;
  vmpull_result res;
  vmpull_error err;
  static const struct {
    const char *name, *says;
  } bad[] = {
      {"vm\nname", "'\\x0a' is not allowed"}, {"\x1b[31mvm", "'\\x1b' cannot start it"},
      {"-vm", "'-' cannot start it"},         {"v\xc3\xa9m", "'\xc3\xa9' is not allowed"},
      {"vm/../x", "'/' is not allowed"},      {"", "machine name is empty"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    o.machine_name = bad[i].name;
    assert_int_equal(vmpull_pull(&o, &res, &err), -VMPULL_E_USAGE);
    if (!strstr(err.message, bad[i].says))
      fail_msg("machine name %zu: '%s' does not say \"%s\"", i, err.message, bad[i].says);
    assert_null(strchr(err.message, '\n'));
    assert_null(strchr(err.message, '\x1b'));
    assert_int_equal(dir_entries(dir), 0);
  }
  o.machine_name = "vm.1_a-B";
  assert_int_equal(vmpull_pull(&o, &res, &err), 0);
  char *want = NULL;
  assert_true(asprintf(&want, "%s/vm.1_a-B_names.raw", dir) > 0);
  assert_string_equal(res.path, want);
  vmpull_result_free(&res);
  free(want);

  o.machine_name = NULL;
  o.data_dir = NULL;
  char *out = path_in_workdir("names/two\nlines.raw");
  o.output = out;
  assert_int_equal(vmpull_pull(&o, &res, &err), -VMPULL_E_USAGE);
  assert_non_null(strstr(err.message, "two\\x0alines.raw' holds a control character"));
  assert_int_equal(access(out, F_OK), -1);
  free(out);
  free(dir);
  free(src);
}

static void test_code_names_and_version(void **state) {
  (void)state;
  static const char *const want[] = {
      "ok",      "usage", "not_found", "io",   "unsupported_format", "corrupt",  "digest_mismatch", "limit",
      "network", "http",  "tls",       "auth", "manifest",           "no_match", "cancelled",       "exists"};
  for (int c = 0; c <= VMPULL_E_EXISTS; c++)
    assert_string_equal(vmpull_code_name(c), want[c]);
  assert_string_equal(vmpull_code_name(VMPULL_E_CONFIG), "config");
  assert_string_equal(vmpull_code_name(VMPULL_E_SIGNATURE), "signature");
  assert_string_equal(vmpull_code_name(-1), "unknown");
  assert_string_equal(vmpull_code_name(9999), "unknown");
  assert_non_null(vmpull_version());
  assert_true(strlen(vmpull_version()) >= 5);
  /* the cache uses, named as --json prints them (0.3) */
  static const char *const uses[] = {"none", "miss", "hit", "revalidated", "kept-disk", "stale"};
  for (int u = VMPULL_CACHE_NONE; u <= VMPULL_CACHE_STALE; u++)
    assert_string_equal(vmpull_cache_use_name((vmpull_cache_use)u), uses[u]);
  assert_string_equal(vmpull_cache_use_name((vmpull_cache_use)99), "unknown");
}

/* vmpull_text_clean (0.3): what a program echoes itself is cleaned as the library's messages are. */
static void test_text_clean_exported(void **state) {
  (void)state;
  static const char raw[] = "a\x1b[31m\xff\xc2\x9b\xc3\xa9\n";
  char out[64];
  size_t need = vmpull_text_clean(out, sizeof(out), raw, sizeof(raw) - 1);
  assert_string_equal(out, "a\\x1b[31m\\xff\\xc2\\x9b\xc3\xa9\\x0a");
  assert_int_equal(need, strlen(out));
  char again[64]; /* clean text stays as it is */
  assert_int_equal(vmpull_text_clean(again, sizeof(again), out, strlen(out)), strlen(out));
  assert_string_equal(again, out);
  char small[5]; /* cut before an escape, never inside it */
  assert_int_equal(vmpull_text_clean(small, sizeof(small), raw, sizeof(raw) - 1), need);
  assert_string_equal(small, "a");
  assert_int_equal(vmpull_text_clean(NULL, 0, raw, sizeof(raw) - 1), need); /* only the length */
}

static int setup(void **state) {
  (void)state;
  signal(SIGPIPE, SIG_IGN); /* the slow writer learns of a cancelled pull through EPIPE */
  return mkdtemp(workdir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char *cmd = NULL;
  if (asprintf(&cmd, "rm -rf '%s'", workdir) > 0) {
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", workdir);
  }
  free(cmd);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_pulls_in_two_threads),  cmocka_unit_test(test_progress_callback_cancels),
      cmocka_unit_test(test_cancel_flag_from_callback), cmocka_unit_test(test_cancel_flag_from_signal_handler),
      cmocka_unit_test(test_cancel_flag_already_set),   cmocka_unit_test(test_error_model),
      cmocka_unit_test(test_code_names_and_version),    cmocka_unit_test(test_machine_name_and_output_path),
      cmocka_unit_test(test_text_clean_exported),       cmocka_unit_test(test_outcome_on_failure),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
