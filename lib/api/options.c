/* SPDX-License-Identifier: Apache-2.0 */
#include "api/options.h"

#include "api/pull_limits.h"
#include "net/http.h"

#include <stddef.h>
#include <string.h>

/* A field added after the first ABI: read it only when the caller's struct has it. */
#define OPTION(o, field, dflt)                                                                                         \
  ((o)->struct_size >= offsetof(vmpull_pull_options, field) + sizeof((o)->field) ? (o)->field : (dflt))

/* The network settings every request of this call shares: the defaults, then what o overrides. */
static void http_config_from_options(struct http_config *c, const vmpull_pull_options *o) {
  http_config_defaults(c);
  c->tls_verify = o->tls_verify != 0;
  c->ca_cert = o->ca_cert && *o->ca_cert ? o->ca_cert : NULL;
  if (o->user_agent && *o->user_agent)
    c->user_agent = o->user_agent;
  if (o->connect_timeout > 0)
    c->connect_timeout = o->connect_timeout;
  if (o->stall_timeout > 0)
    c->stall_timeout = o->stall_timeout;
  if (o->stall_min_rate > 0)
    c->stall_min_rate = o->stall_min_rate;
  if (o->retries >= 0)
    c->retries = o->retries;
  c->warning = o->warning;
  c->warning_data = o->warning_data;
  c->cancel = o->cancel;
  c->log = OPTION(o, log, NULL);
  c->log_data = OPTION(o, log_data, NULL);
}

void pull_config_from_options(const vmpull_pull_options *o, struct pull_config *c) {
  *c = (struct pull_config){0};
  c->hooks = (struct call_hooks){
      .warning = o->warning,
      .warning_data = o->warning_data,
      .progress = o->progress,
      .progress_data = o->progress_data,
      .cancel = o->cancel,
      .log = OPTION(o, log, NULL),
      .log_data = OPTION(o, log_data, NULL),
  };
  c->expected_digest = o->expected_digest;
  c->max_size = pull_max_size(o);
  c->mode = o->mode;
  c->replace = o->replace;
  c->out_fd = -1;
  c->threads = o->threads;
  c->assume_zeroed = OPTION(o, assume_zeroed, 0);
  c->bmap_path = OPTION(o, bmap, NULL);
  c->bmap_replace = o->replace;

  c->fetch = (struct fetch_settings){
      .cache_dir = o->cache_dir,
      .no_cache = o->no_cache,
      .offline = o->offline,
      .keep_uncompressed = OPTION(o, keep_uncompressed, 0),
      .refresh = OPTION(o, refresh, 0),
      .connections = OPTION(o, connections, 0u),
      .expected_digest = o->expected_digest,
      .hooks = c->hooks,
  };

  struct http_config http;
  http_config_from_options(&http, o);
  const char *const *mirrors = OPTION(o, mirrors, NULL);
  c->resolve = (struct resolve_settings){
      .source = o->source,
      .naming = {.output = o->output, .data_dir = o->data_dir, .machine_name = o->machine_name},
      .checksums = o->checksums,
      .stream_url = OPTION(o, stream_url, NULL),
      .http = http,
      .hooks = c->hooks,
      .oci =
          {
              .source = o->source,
              .selection = {.arch = o->arch, .provider = o->provider},
              .default_image = {.image = o->default_image, .os_version = o->os_version},
              .http = http,
              .cert_dir = o->cert_dir,
              .auth = {.creds = o->creds, .authfile = o->authfile, .none = OPTION(o, no_creds, 0)},
              .mirrors = mirrors,
              .n_mirrors = mirrors ? OPTION(o, n_mirrors, 0) : 0,
              .mirror_by_digest_only = OPTION(o, mirror_by_digest_only, 0),
              .no_registries_conf = OPTION(o, no_registries_conf, 0),
              .registries_conf = OPTION(o, registries_conf, NULL),
              .offline = o->offline,
              .hooks = c->hooks,
              .signature_policy = OPTION(o, signature_policy, NULL),
              .registries_d = OPTION(o, registries_d, NULL),
          },
      .trust =
          {
              .keyring = OPTION(o, keyring, NULL),
              .keys_dir = VMPULL_KEYS_DIR,
              .checksums_signature = OPTION(o, checksums_signature, NULL),
              .insecure_skip_signature = OPTION(o, insecure_skip_signature, 0),
          },
  };
}
