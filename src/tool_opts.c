/* SPDX-License-Identifier: Apache-2.0 */
#include "tool_opts.h"

#include "tool_completion.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum {
  OPT_PROVIDER = 256,
  OPT_DATA_DIR,
  OPT_CACHE_DIR,
  OPT_REPLACE,
  OPT_DIGEST,
  OPT_THREADS,
  OPT_PROGRESS,
  OPT_PROGRESS_FD,
  OPT_JSON,
  OPT_ARCH,
  OPT_MAX_SIZE,
  OPT_MODE,
  OPT_HELP,
  OPT_TLS_VERIFY,
  OPT_CA_CERT,
  OPT_CERT_DIR,
  OPT_USER_AGENT,
  OPT_CONNECT_TIMEOUT,
  OPT_STALL_TIMEOUT,
  OPT_CHECKSUMS,
  OPT_RETRIES,
  OPT_CONNECTIONS,
  OPT_CREDS,
  OPT_AUTHFILE,
  OPT_USERNAME,
  OPT_PASSWORD,
  OPT_PASSWORD_STDIN,
  OPT_NO_CREDS,
  OPT_PLATFORM,
  OPT_DEFAULT_IMAGE,
  OPT_OS_VERSION,
  OPT_OFFLINE,
  OPT_REFRESH,
  OPT_NO_CACHE,
  OPT_KEEP_CACHE,
  OPT_KEEP_UNCOMPRESSED,
  OPT_STREAM_URL,
  OPT_MIRROR,
  OPT_MIRROR_BY_DIGEST_ONLY,
  OPT_REGISTRIES_CONF,
  OPT_NO_REGISTRIES_CONF,
  OPT_SIGNATURE_POLICY,
  OPT_REGISTRIES_D,
  OPT_KEYRING,
  OPT_CHECKSUMS_SIGNATURE,
  OPT_INSECURE_SKIP_SIGNATURE,
  OPT_ASSUME_ZEROED,
  OPT_BMAP,
};

const struct option pull_longopts[] = {
    {"name", required_argument, NULL, 'n'},
    {"output", required_argument, NULL, 'o'},
    {"provider", required_argument, NULL, OPT_PROVIDER},
    {"arch", required_argument, NULL, OPT_ARCH},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
    {"replace", no_argument, NULL, OPT_REPLACE},
    {"digest", required_argument, NULL, OPT_DIGEST},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"mode", required_argument, NULL, OPT_MODE},
    {"quiet", no_argument, NULL, 'q'},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"json", no_argument, NULL, OPT_JSON},
    {"progress-fd", required_argument, NULL, OPT_PROGRESS_FD},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, OPT_HELP},
    {"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY},
    {"ca-cert", required_argument, NULL, OPT_CA_CERT},
    {"cert-dir", required_argument, NULL, OPT_CERT_DIR},
    {"user-agent", required_argument, NULL, OPT_USER_AGENT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"stall-timeout", required_argument, NULL, OPT_STALL_TIMEOUT},
    {"checksums", required_argument, NULL, OPT_CHECKSUMS},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"creds", required_argument, NULL, OPT_CREDS},
    {"authfile", required_argument, NULL, OPT_AUTHFILE},
    {"username", required_argument, NULL, OPT_USERNAME},
    {"password", required_argument, NULL, OPT_PASSWORD},
    {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
    {"no-creds", no_argument, NULL, OPT_NO_CREDS},
    {"platform", required_argument, NULL, OPT_PLATFORM},
    {"default-image", required_argument, NULL, OPT_DEFAULT_IMAGE},
    {"os-version", required_argument, NULL, OPT_OS_VERSION},
    {"offline", no_argument, NULL, OPT_OFFLINE},
    {"refresh", no_argument, NULL, OPT_REFRESH},
    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
    {"keep-cache", no_argument, NULL, OPT_KEEP_CACHE},
    {"keep-uncompressed", no_argument, NULL, OPT_KEEP_UNCOMPRESSED},
    {"stream-url", required_argument, NULL, OPT_STREAM_URL},
    {"mirror", required_argument, NULL, OPT_MIRROR},
    {"mirror-by-digest-only", no_argument, NULL, OPT_MIRROR_BY_DIGEST_ONLY},
    {"registries-conf", required_argument, NULL, OPT_REGISTRIES_CONF},
    {"no-registries-conf", no_argument, NULL, OPT_NO_REGISTRIES_CONF},
    {"signature-policy", required_argument, NULL, OPT_SIGNATURE_POLICY},
    {"registries.d", required_argument, NULL, OPT_REGISTRIES_D},
    {"keyring", required_argument, NULL, OPT_KEYRING},
    {"checksums-signature", required_argument, NULL, OPT_CHECKSUMS_SIGNATURE},
    {"insecure-skip-signature", no_argument, NULL, OPT_INSECURE_SKIP_SIGNATURE},
    {"assume-zeroed", no_argument, NULL, OPT_ASSUME_ZEROED},
    {"bmap", required_argument, NULL, OPT_BMAP},
    {NULL, 0, NULL, 0},
};

static const char *const providers[] = {"qemu", "applehv", "libkrun", "hyperv", "wsl", NULL};

/* A whole number of seconds in [min, max]; -1 when malformed. */
static long parse_seconds(const char *s, long min, long max) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max)
    return -1;
  return v;
}

/* --mirror values (argv strings), else VMPULL_MIRRORS split at commas. */
static int add_mirror(struct pull_cli *cli, const char *cmd, const char *spec) {
  if (!strchr(spec, '=')) {
    tool_bad_value(cmd, "--mirror", "REGISTRY=MIRROR (e.g. quay.io=cache.example:5000)", spec);
    return -1;
  }
  if (cli->opts.n_mirrors == sizeof(cli->mirrors) / sizeof(cli->mirrors[0])) {
    tool_error("%s: at most %zu mirrors", cmd, cli->opts.n_mirrors);
    return -1;
  }
  cli->mirrors[cli->opts.n_mirrors++] = spec;
  cli->opts.mirrors = cli->mirrors;
  return 0;
}

static int mirrors_from_env(struct pull_cli *cli, const char *cmd) {
  const char *env = getenv("VMPULL_MIRRORS");
  if (!env || !*env)
    return 0;
  cli->owned_mirror_env = strdup(env);
  if (!cli->owned_mirror_env) {
    tool_error("%s: out of memory", cmd);
    return -1;
  }
  for (char *save = NULL, *tok = strtok_r(cli->owned_mirror_env, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ')
      tok++;
    if (*tok && add_mirror(cli, cmd, tok) < 0)
      return -1;
  }
  return 0;
}

void pull_cli_free(struct pull_cli *cli) {
  tool_creds_free(&cli->skopeo);
  free(cli->owned_mirror_env);
  cli->owned_mirror_env = NULL;
  free(cli->owned_data_dir);
  cli->owned_data_dir = NULL;
  free(cli->owned_cache_dir);
  cli->owned_cache_dir = NULL;
}

static int parse_pull_cli(struct pull_cli *cli, int argc, char **argv) {
  /* inspect and save share these options: messages name the command the user typed */
  const char *cmd = argc > 0 && argv[0] ? argv[0] : "pull";
  memset(cli, 0, sizeof(*cli));
  vmpull_pull_options_init(&cli->opts, sizeof(cli->opts));
  cli->opts.provider = "qemu";
  cli->opts.machine_name = VMPULL_DEFAULT_MACHINE_NAME;
  cli->progress_mode = PROGRESS_AUTO;
  cli->progress_fd = -1;
  const char *debug = getenv("VMPULL_DEBUG");
  cli->verbose = debug && *debug && strcmp(debug, "0") != 0;

  optind = 0; /* re-entrant for tests: also resets getopt's internal state */
  opterr = 0;
  int c;
  /* The leading ':' tells a missing value (':') apart from an unknown option ('?'). */
  while ((c = getopt_long(argc, argv, ":n:o:qv", pull_longopts, NULL)) != -1) {
    switch (c) {
    case 'n': cli->opts.machine_name = optarg; break;
    case 'o': cli->opts.output = optarg; break;
    case 'q': cli->quiet = 1; break;
    case 'v': cli->verbose = 1; break;
    case OPT_PROGRESS_FD: {
      long fd = parse_seconds(optarg, 0, 65535);
      if (fd < 0)
        return tool_bad_value(cmd, "--progress-fd", "an open file descriptor (a number)", optarg);
      cli->progress_fd = (int)fd;
      break;
    }
    case OPT_PROVIDER: {
      int ok = 0;
      for (const char *const *p = providers; *p; p++)
        ok |= strcmp(*p, optarg) == 0;
      if (!ok) {
        tool_error("%s: unknown provider '%s' (qemu, applehv, libkrun, hyperv, wsl)", cmd, optarg);
        return PULL_CLI_USAGE;
      }
      cli->opts.provider = optarg;
      break;
    }
    case OPT_ARCH: cli->opts.arch = optarg; break;
    case OPT_DATA_DIR: cli->opts.data_dir = optarg; break;
    case OPT_CACHE_DIR: cli->opts.cache_dir = optarg; break;
    case OPT_REPLACE: cli->opts.replace = 1; break;
    case OPT_DIGEST: cli->opts.expected_digest = optarg; break;
    case OPT_THREADS: {
      char *end;
      long n = strtol(optarg, &end, 10);
      if (end == optarg || *end || !isdigit((unsigned char)*optarg) || n > 1024)
        return tool_bad_value(cmd, "--threads", "a number from 0 (all CPUs) to 1024", optarg);
      cli->opts.threads = (unsigned)n;
      break;
    }
    case OPT_MAX_SIZE:
      if (parse_size(optarg, &cli->opts.max_size) < 0 || cli->opts.max_size == 0)
        return tool_bad_value(cmd, "--max-size", "a size like 512M, 1G or 2T", optarg);
      break;
    case OPT_MODE: {
      char *end;
      long m = strtol(optarg, &end, 8);
      if (*end || m <= 0 || m > 07777)
        return tool_bad_value(cmd, "--mode", "an octal file mode like 0644", optarg);
      cli->opts.mode = (unsigned)m;
      break;
    }
    case OPT_PROGRESS:
      if (!strcmp(optarg, "auto"))
        cli->progress_mode = PROGRESS_AUTO;
      else if (!strcmp(optarg, "always"))
        cli->progress_mode = PROGRESS_ALWAYS;
      else if (!strcmp(optarg, "never"))
        cli->progress_mode = PROGRESS_NEVER;
      else if (!strcmp(optarg, "json")) {
        cli->progress_mode = PROGRESS_JSON;
        tool_events_open(stderr); /* what goes wrong from here on is an event too */
      } else
        return tool_bad_value(cmd, "--progress", "auto, always, never or json", optarg);
      break;
    case OPT_JSON: cli->json = 1; break;
    case OPT_TLS_VERIFY: {
      int b = parse_bool(optarg);
      if (b < 0)
        return tool_bad_value(cmd, "--tls-verify", "true or false", optarg);
      cli->opts.tls_verify = b;
      break;
    }
    case OPT_CA_CERT: cli->opts.ca_cert = optarg; break;
    case OPT_CERT_DIR: cli->opts.cert_dir = optarg; break;
    case OPT_USER_AGENT: cli->opts.user_agent = optarg; break;
    case OPT_CONNECT_TIMEOUT:
    case OPT_STALL_TIMEOUT: {
      long v = parse_seconds(optarg, 1, 86400);
      if (v < 0)
        return tool_bad_value(cmd, c == OPT_CONNECT_TIMEOUT ? "--connect-timeout" : "--stall-timeout",
                              "seconds from 1 to 86400", optarg);
      if (c == OPT_CONNECT_TIMEOUT)
        cli->opts.connect_timeout = v;
      else
        cli->opts.stall_timeout = v;
      break;
    }
    case OPT_CHECKSUMS: cli->opts.checksums = optarg; break;
    case OPT_RETRIES: {
      long v = parse_seconds(optarg, 0, 100);
      if (v < 0)
        return tool_bad_value(cmd, "--retries", "a number from 0 to 100", optarg);
      cli->opts.retries = (int)v;
      break;
    }
    case OPT_CONNECTIONS: {
      long v = parse_seconds(optarg, 1, 32);
      if (v < 0)
        return tool_bad_value(cmd, "--connections", "a number from 1 to 32", optarg);
      cli->opts.connections = (unsigned)v;
      break;
    }
    case OPT_CREDS: cli->skopeo.creds = optarg; break;
    case OPT_AUTHFILE: cli->opts.authfile = optarg; break;
    case OPT_USERNAME: cli->skopeo.username = optarg; break;
    case OPT_PASSWORD: cli->skopeo.password = optarg; break;
    case OPT_PASSWORD_STDIN: cli->skopeo.password_stdin = 1; break;
    case OPT_NO_CREDS: cli->skopeo.no_creds = 1; break;
    case OPT_PLATFORM: cli->skopeo.platform = optarg; break;
    case OPT_DEFAULT_IMAGE: cli->opts.default_image = optarg; break;
    case OPT_OS_VERSION: cli->opts.os_version = optarg; break;
    case OPT_OFFLINE: cli->opts.offline = 1; break;
    case OPT_REFRESH: cli->opts.refresh = 1; break;
    case OPT_NO_CACHE: cli->opts.no_cache = 1; break;
    case OPT_KEEP_CACHE: cli->keep_cache = 1; break;
    case OPT_KEEP_UNCOMPRESSED: cli->opts.keep_uncompressed = 1; break;
    case OPT_STREAM_URL: cli->opts.stream_url = optarg; break;
    case OPT_MIRROR:
      if (add_mirror(cli, cmd, optarg) < 0)
        return PULL_CLI_USAGE;
      break;
    case OPT_MIRROR_BY_DIGEST_ONLY: cli->opts.mirror_by_digest_only = 1; break;
    case OPT_REGISTRIES_CONF: cli->opts.registries_conf = optarg; break;
    case OPT_NO_REGISTRIES_CONF: cli->opts.no_registries_conf = 1; break;
    case OPT_SIGNATURE_POLICY: cli->opts.signature_policy = optarg; break;
    case OPT_REGISTRIES_D: cli->opts.registries_d = optarg; break;
    case OPT_KEYRING: cli->opts.keyring = optarg; break;
    case OPT_CHECKSUMS_SIGNATURE: cli->opts.checksums_signature = optarg; break;
    case OPT_INSECURE_SKIP_SIGNATURE: cli->opts.insecure_skip_signature = 1; break;
    case OPT_ASSUME_ZEROED: cli->opts.assume_zeroed = 1; break;
    case OPT_BMAP: cli->opts.bmap = optarg; break;
    case OPT_HELP: tool_help(cmd); return PULL_CLI_HELP;
    case ':': return tool_missing_value(cmd, cmd, argv[optind - 1], "a value");
    default: tool_unknown_option(cmd, argv[optind - 1], pull_longopts); return PULL_CLI_USAGE;
    }
  }
  if (optind >= argc) {
    tool_error("%s: missing SOURCE (see 'vmpull %s --help')", cmd, cmd);
    return PULL_CLI_USAGE;
  }
  int save = !strcmp(cmd, "save"); /* SOURCE DEST */
  if (save && optind + 1 < argc)
    cli->dest = argv[optind + 1];
  if (optind + 1 + save < argc) {
    tool_error("%s: one SOURCE expected, got also '%s'", cmd, argv[optind + 1 + save]);
    return PULL_CLI_USAGE;
  }
  cli->opts.source = argv[optind];
  if (tool_platform_apply(&cli->skopeo, cmd, &cli->opts) < 0 || tool_creds_finish(&cli->skopeo, cmd, &cli->opts) < 0)
    return PULL_CLI_USAGE;
  if (!cli->opts.n_mirrors && mirrors_from_env(cli, cmd) < 0)
    return PULL_CLI_USAGE;
  if (!cli->opts.default_image) {
    const char *env = getenv("VMPULL_DEFAULT_IMAGE");
    if (env && *env)
      cli->opts.default_image = env;
  }
  if (!cli->opts.output && !cli->opts.data_dir) {
    cli->owned_data_dir = tool_default_data_dir(cli->opts.provider);
    if (!cli->owned_data_dir) {
      tool_error("%s: out of memory", cmd);
      return PULL_CLI_USAGE;
    }
    cli->opts.data_dir = cli->owned_data_dir;
  }
  if (!cli->opts.cache_dir && !cli->opts.no_cache) {
    cli->owned_cache_dir = tool_default_cache_dir();
    if (!cli->owned_cache_dir) {
      tool_error("%s: out of memory", cmd);
      return PULL_CLI_USAGE;
    }
    cli->opts.cache_dir = cli->owned_cache_dir;
  }
  return PULL_CLI_OK;
}

int pull_cli_parse(struct pull_cli *cli, int argc, char **argv) {
  int r = parse_pull_cli(cli, argc, argv);
  if (r != PULL_CLI_OK)
    pull_cli_free(cli); /* the caller only frees what parsed */
  return r;
}
