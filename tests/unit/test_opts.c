/* SPDX-License-Identifier: Apache-2.0 */
/* `vmpull pull` option parsing (src/tool_opts.c): defaults, every option, and every usage error. */
/* cmocka.h needs these headers before it. */
/* clang-format off */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#ifdef _WIN32
#include "base/compat.h" /* setenv, unsetenv */
#endif
/* clang-format on */

#include "tool_opts.h"

/* stderr of one parse, so that usage messages can be checked. */
static char captured[4096];
static int saved_stderr = -1;
static FILE *capture_file;

static void capture_start(void) {
  fflush(stderr);
  capture_file = tmpfile();
  assert_non_null(capture_file);
  saved_stderr = dup(STDERR_FILENO);
  dup2(fileno(capture_file), STDERR_FILENO);
}

static const char *capture_end(void) {
  fflush(stderr);
  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr);
  rewind(capture_file);
  size_t n = fread(captured, 1, sizeof(captured) - 1, capture_file);
  captured[n] = '\0';
  fclose(capture_file);
  return captured;
}

/* Parse a NULL-terminated argv (argv[0] = "pull"); argv strings must outlive cli. */
static int parse(struct pull_cli *cli, char **argv) {
  int argc = 0;
  while (argv[argc])
    argc++;
  return pull_cli_parse(cli, argc, argv);
}

/* Expect a usage error whose stderr mentions want. */
static void expect_usage(char **argv, const char *want) {
  struct pull_cli cli;
  capture_start();
  int r = parse(&cli, argv);
  const char *msg = capture_end();
  pull_cli_free(&cli);
  if (r != PULL_CLI_USAGE)
    fail_msg("%s %s: returned %d, expected a usage error", argv[1], argv[2] ? argv[2] : "", r);
  if (!strstr(msg, want))
    fail_msg("%s: stderr '%s' lacks '%s'", argv[1], msg, want);
  if (strncmp(msg, "vmpull: ", 8) != 0 || strchr(msg, '\n') != msg + strlen(msg) - 1)
    fail_msg("%s: not one 'vmpull: ' line: '%s'", argv[1], msg);
}

/* The default folders: XDG's on Linux, %LOCALAPPDATA%\vmpull on Windows (src/tool_platform_*.c). */
#ifdef _WIN32
#define LOCAL_APP_DATA "C:\\Users\\someone\\AppData\\Local"
#define DEFAULT_DATA_DIR(on_linux, provider) LOCAL_APP_DATA "\\vmpull\\" provider
#else
#define DEFAULT_DATA_DIR(on_linux, provider) on_linux
#endif

static void test_defaults(void **state) {
  (void)state;
#ifdef _WIN32
  setenv("LOCALAPPDATA", LOCAL_APP_DATA, 1);
#endif
  setenv("XDG_DATA_HOME", "/xdg/data", 1);
  unsetenv("VMPULL_DEFAULT_IMAGE");
  char *argv[] = {"pull", "disk.raw.xz", NULL};
  struct pull_cli cli;
  assert_int_equal(parse(&cli, argv), PULL_CLI_OK);
  assert_string_equal(cli.opts.source, "disk.raw.xz");
  assert_string_equal(cli.opts.machine_name, "podman-machine-default");
  assert_string_equal(cli.opts.provider, "qemu");
  assert_string_equal(cli.opts.data_dir, DEFAULT_DATA_DIR("/xdg/data/vmpull/qemu", "qemu"));
  assert_null(cli.opts.output);
  assert_null(cli.opts.expected_digest);
  assert_null(cli.opts.default_image);
  assert_int_equal(cli.opts.replace, 0);
  assert_int_equal(cli.opts.threads, 0);
  assert_int_equal(cli.opts.max_size, 0);
  assert_int_equal(cli.opts.mode, 0);
  assert_int_equal(cli.opts.tls_verify, 1);
  assert_int_equal(cli.opts.retries, -1);
  assert_int_equal(cli.opts.struct_size, sizeof(cli.opts));
  assert_int_equal(cli.progress_mode, PROGRESS_AUTO);
  assert_int_equal(cli.quiet, 0);
  assert_int_equal(cli.json, 0);
  pull_cli_free(&cli);
}

static void test_data_dir_default(void **state) {
  (void)state;
  struct pull_cli cli;
  setenv("HOME", "/home/someone", 1);
  /* XDG_DATA_HOME unset, empty or relative (invalid per the XDG spec): ~/.local/share. */
  static const char *const xdg[] = {NULL, "", "relative/dir"};
  for (size_t i = 0; i < sizeof(xdg) / sizeof(xdg[0]); i++) {
    if (xdg[i])
      setenv("XDG_DATA_HOME", xdg[i], 1);
    else
      unsetenv("XDG_DATA_HOME");
    char *argv[] = {"pull", "--provider", "wsl", "x.raw", NULL};
    assert_int_equal(parse(&cli, argv), PULL_CLI_OK);
    assert_string_equal(cli.opts.data_dir, DEFAULT_DATA_DIR("/home/someone/.local/share/vmpull/wsl", "wsl"));
    pull_cli_free(&cli);
  }
  setenv("XDG_DATA_HOME", "/x", 1);
  char *argv2[] = {"pull", "--provider=applehv", "x.raw", NULL};
  assert_int_equal(parse(&cli, argv2), PULL_CLI_OK);
  assert_string_equal(cli.opts.data_dir, DEFAULT_DATA_DIR("/x/vmpull/applehv", "applehv"));
  pull_cli_free(&cli);
  /* --data-dir and -o win over the default. */
  char *argv3[] = {"pull", "--data-dir", "/d", "x.raw", NULL};
  assert_int_equal(parse(&cli, argv3), PULL_CLI_OK);
  assert_string_equal(cli.opts.data_dir, "/d");
  assert_null(cli.owned_data_dir);
  pull_cli_free(&cli);
  char *argv4[] = {"pull", "-o", "/out/disk.raw", "x.raw", NULL};
  assert_int_equal(parse(&cli, argv4), PULL_CLI_OK);
  assert_string_equal(cli.opts.output, "/out/disk.raw");
  assert_null(cli.opts.data_dir);
  pull_cli_free(&cli);
}

static void test_every_option(void **state) {
  (void)state;
  unsetenv("VMPULL_DEFAULT_IMAGE");
  char *argv[] = {"pull",
                  "-n",
                  "dev",
                  "--provider",
                  "libkrun",
                  "--arch",
                  "aarch64",
                  "--data-dir",
                  "/data",
                  "--cache-dir",
                  "/cache",
                  "--replace",
                  "--digest",
                  "sha256:0123",
                  "--threads",
                  "3",
                  "--max-size",
                  "512M",
                  "--mode",
                  "0600",
                  "-q",
                  "--progress",
                  "always",
                  "--json",
                  "--tls-verify=false",
                  "--ca-cert",
                  "/ca.pem",
                  "--cert-dir",
                  "/certs.d",
                  "--user-agent",
                  "ua/1",
                  "--connect-timeout",
                  "7",
                  "--stall-timeout",
                  "90",
                  "--checksums",
                  "SHA256SUMS",
                  "--retries",
                  "0",
                  "--creds",
                  "u:p",
                  "--authfile",
                  "/auth.json",
                  "--default-image",
                  "quay.io/x/y:1",
                  "--os-version",
                  "5.3",
                  "--offline",
                  "--no-cache",
                  "docker://quay.io/podman/machine-os:5.3",
                  NULL};
  struct pull_cli cli;
  assert_int_equal(parse(&cli, argv), PULL_CLI_OK);
  vmpull_pull_options *o = &cli.opts;
  assert_string_equal(o->machine_name, "dev");
  assert_string_equal(o->provider, "libkrun");
  assert_string_equal(o->arch, "aarch64");
  assert_string_equal(o->data_dir, "/data");
  assert_string_equal(o->cache_dir, "/cache");
  assert_int_equal(o->replace, 1);
  assert_string_equal(o->expected_digest, "sha256:0123");
  assert_int_equal(o->threads, 3);
  assert_int_equal(o->max_size, 512ull << 20);
  assert_int_equal(o->mode, 0600);
  assert_int_equal(cli.quiet, 1);
  assert_int_equal(cli.progress_mode, PROGRESS_ALWAYS);
  assert_int_equal(cli.json, 1);
  assert_int_equal(o->tls_verify, 0);
  assert_string_equal(o->ca_cert, "/ca.pem");
  assert_string_equal(o->cert_dir, "/certs.d");
  assert_string_equal(o->user_agent, "ua/1");
  assert_int_equal(o->connect_timeout, 7);
  assert_int_equal(o->stall_timeout, 90);
  assert_string_equal(o->checksums, "SHA256SUMS");
  assert_int_equal(o->retries, 0);
  assert_string_equal(o->creds, "u:p");
  assert_string_equal(o->authfile, "/auth.json");
  assert_string_equal(o->default_image, "quay.io/x/y:1");
  assert_string_equal(o->os_version, "5.3");
  assert_int_equal(o->offline, 1);
  assert_int_equal(o->no_cache, 1);
  assert_string_equal(o->source, "docker://quay.io/podman/machine-os:5.3");
  pull_cli_free(&cli);
}

static void test_long_forms_and_order(void **state) {
  (void)state;
  struct pull_cli cli;
  /* --opt=value, --name, --output, --quiet, options after SOURCE, and "--" before a dash name. */
  char *argv[] = {"pull", "--name=m", "--output=/o.raw", "src.xz", "--quiet", "--threads=0", "--tls-verify", NULL};
  assert_int_equal(parse(&cli, argv), PULL_CLI_OK);
  assert_string_equal(cli.opts.machine_name, "m");
  assert_string_equal(cli.opts.output, "/o.raw");
  assert_string_equal(cli.opts.source, "src.xz");
  assert_int_equal(cli.quiet, 1);
  assert_int_equal(cli.opts.threads, 0);
  assert_int_equal(cli.opts.tls_verify, 1);
  pull_cli_free(&cli);
  char *argv2[] = {"pull", "--replace", "--", "-disk-.raw", NULL};
  assert_int_equal(parse(&cli, argv2), PULL_CLI_OK);
  assert_string_equal(cli.opts.source, "-disk-.raw");
  assert_int_equal(cli.opts.replace, 1);
  pull_cli_free(&cli);
  /* Progress modes. */
  static const char *const modes[] = {"auto", "always", "never"};
  for (int i = 0; i < 3; i++) {
    char arg[32];
    snprintf(arg, sizeof(arg), "--progress=%s", modes[i]);
    char *argv3[] = {"pull", arg, "x", NULL};
    assert_int_equal(parse(&cli, argv3), PULL_CLI_OK);
    assert_int_equal(cli.progress_mode, i == 0 ? PROGRESS_AUTO : i == 1 ? PROGRESS_ALWAYS : PROGRESS_NEVER);
    pull_cli_free(&cli);
  }
  /* Every provider. */
  static const char *const providers[] = {"qemu", "applehv", "libkrun", "hyperv", "wsl"};
  for (int i = 0; i < 5; i++) {
    char *argv4[] = {"pull", "--provider", (char *)providers[i], "--data-dir", "/d", "x", NULL};
    assert_int_equal(parse(&cli, argv4), PULL_CLI_OK);
    assert_string_equal(cli.opts.provider, providers[i]);
    pull_cli_free(&cli);
  }
}

static void test_default_image_env(void **state) {
  (void)state;
  struct pull_cli cli;
  setenv("VMPULL_DEFAULT_IMAGE", "quay.io/env/image:2", 1);
  char *argv[] = {"pull", "-o", "/o", "x", NULL};
  assert_int_equal(parse(&cli, argv), PULL_CLI_OK);
  assert_string_equal(cli.opts.default_image, "quay.io/env/image:2");
  pull_cli_free(&cli);
  /* The option wins over the environment. */
  char *argv2[] = {"pull", "--default-image", "quay.io/opt/image:3", "-o", "/o", "x", NULL};
  assert_int_equal(parse(&cli, argv2), PULL_CLI_OK);
  assert_string_equal(cli.opts.default_image, "quay.io/opt/image:3");
  pull_cli_free(&cli);
  setenv("VMPULL_DEFAULT_IMAGE", "", 1);
  assert_int_equal(parse(&cli, argv), PULL_CLI_OK);
  assert_null(cli.opts.default_image);
  pull_cli_free(&cli);
  unsetenv("VMPULL_DEFAULT_IMAGE");
}

static void test_help(void **state) {
  (void)state;
  struct pull_cli cli;
  char *argv[] = {"pull", "--help", NULL};
  /* Help goes to stdout; keep the test log tidy. */
  fflush(stdout);
  int saved = dup(STDOUT_FILENO);
#ifdef _WIN32
  int devnull = open("NUL", O_WRONLY);
#else
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
#endif
  dup2(devnull, STDOUT_FILENO);
  int r = parse(&cli, argv);
  fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  close(devnull);
  assert_int_equal(r, PULL_CLI_HELP);
  pull_cli_free(&cli);
}

static void test_usage_errors(void **state) {
  (void)state;
  char *missing[] = {"pull", NULL};
  expect_usage(missing, "missing SOURCE");
  char *only_opts[] = {"pull", "--replace", "-q", NULL};
  expect_usage(only_opts, "missing SOURCE");
  char *two[] = {"pull", "a.raw", "b.raw", NULL};
  expect_usage(two, "one SOURCE expected, got also 'b.raw'");
  char *typo[] = {"pull", "--replce", "x", NULL};
  expect_usage(typo, "did you mean '--replace'");
  char *typo2[] = {"pull", "--dat-dir=/x", "x", NULL};
  expect_usage(typo2, "did you mean '--data-dir'");
  char *unknown[] = {"pull", "-Z", "x", NULL};
  expect_usage(unknown, "unknown or incomplete option '-Z'");
  char *noarg[] = {"pull", "x", "--digest", NULL};
  expect_usage(noarg, "option '--digest' needs a value");
  char *noarg2[] = {"pull", "x", "-o", NULL};
  expect_usage(noarg2, "option '-o' needs a value");
  char *provider[] = {"pull", "--provider", "vbox", "x", NULL};
  expect_usage(provider, "unknown provider 'vbox'");
  static const char *const bad_threads[] = {"-1", "1025", "x", "", "2x", "99999999999999999999"};
  for (size_t i = 0; i < sizeof(bad_threads) / sizeof(bad_threads[0]); i++) {
    char *a[] = {"pull", "--threads", (char *)bad_threads[i], "x", NULL};
    expect_usage(a, "--threads takes a number");
  }
  static const char *const bad_sizes[] = {"0", "", "G", "1.5G", "-1", "1X", "1GiBs", "17179869184G"};
  for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
    char *a[] = {"pull", "--max-size", (char *)bad_sizes[i], "x", NULL};
    expect_usage(a, "--max-size takes a size");
  }
  static const char *const bad_modes[] = {"0", "", "888", "rw", "10000"};
  for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
    char *a[] = {"pull", "--mode", (char *)bad_modes[i], "x", NULL};
    expect_usage(a, "--mode takes an octal file mode");
  }
  char *progress[] = {"pull", "--progress=sometimes", "x", NULL};
  expect_usage(progress, "--progress takes auto, always, never or json");
  char *tls[] = {"pull", "--tls-verify=maybe", "x", NULL};
  expect_usage(tls, "--tls-verify takes true or false");
  char *ct[] = {"pull", "--connect-timeout", "0", "x", NULL};
  expect_usage(ct, "--connect-timeout takes seconds");
  char *st[] = {"pull", "--stall-timeout", "86401", "x", NULL};
  expect_usage(st, "--stall-timeout takes seconds");
  char *rt[] = {"pull", "--retries", "101", "x", NULL};
  expect_usage(rt, "--retries takes a number");
}

static void test_reparse_is_fresh(void **state) {
  (void)state;
  /* getopt state is reset between parses: a second parse sees its own argv from the start. */
  struct pull_cli cli;
  char *a1[] = {"pull", "--replace", "-q", "one", NULL};
  assert_int_equal(parse(&cli, a1), PULL_CLI_OK);
  pull_cli_free(&cli);
  char *a2[] = {"pull", "two", NULL};
  assert_int_equal(parse(&cli, a2), PULL_CLI_OK);
  assert_string_equal(cli.opts.source, "two");
  assert_int_equal(cli.opts.replace, 0);
  assert_int_equal(cli.quiet, 0);
  pull_cli_free(&cli);
}

static void test_parse_size(void **state) {
  (void)state;
  static const struct {
    const char *s;
    uint64_t v;
  } good[] = {{"1024", 1024},     {"1K", 1024},           {"1k", 1024},       {"1KiB", 1024},
              {"1kb", 1024},      {"512M", 512ull << 20}, {"1G", 1ull << 30}, {"1GiB", 1ull << 30},
              {"2T", 2ull << 40}, {"1P", 1ull << 50},     {"0", 0},           {"16777215T", 16777215ull << 40}};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    uint64_t v = 0;
    if (parse_size(good[i].s, &v) != 0 || v != good[i].v)
      fail_msg("parse_size(%s) = %llu", good[i].s, (unsigned long long)v);
  }
  static const char *const bad[] = {"",     "K",  "-1",  "+1",  " 1",        "1 G",
                                    "1.5G", "1E", "1Gx", "1iB", "16777216T", "18446744073709551616"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    uint64_t v = 0;
    if (parse_size(bad[i], &v) != -1)
      fail_msg("parse_size(%s) accepted: %llu", bad[i], (unsigned long long)v);
  }
  uint64_t v;
  assert_int_equal(parse_size(NULL, &v), -1);
}

static void test_parse_bool(void **state) {
  (void)state;
  assert_int_equal(parse_bool(NULL), 1);
  assert_int_equal(parse_bool("true"), 1);
  assert_int_equal(parse_bool("TRUE"), 1);
  assert_int_equal(parse_bool("1"), 1);
  assert_int_equal(parse_bool("yes"), 1);
  assert_int_equal(parse_bool("false"), 0);
  assert_int_equal(parse_bool("0"), 0);
  assert_int_equal(parse_bool("No"), 0);
  assert_int_equal(parse_bool(""), -1);
  assert_int_equal(parse_bool("2"), -1);
  assert_int_equal(parse_bool("on"), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),          cmocka_unit_test(test_data_dir_default),
      cmocka_unit_test(test_every_option),      cmocka_unit_test(test_long_forms_and_order),
      cmocka_unit_test(test_default_image_env), cmocka_unit_test(test_help),
      cmocka_unit_test(test_usage_errors),      cmocka_unit_test(test_reparse_is_fresh),
      cmocka_unit_test(test_parse_size),        cmocka_unit_test(test_parse_bool),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
