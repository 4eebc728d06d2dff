/* SPDX-License-Identifier: Apache-2.0 */
/* The public options become typed configuration once (lib/api/options.c): defaults, and an older
 * caller's shorter struct, whose later fields are never read. */
/* clang-format off */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
/* clang-format on */

#include "api/options.h"

static int on_progress(const vmpull_progress *ev, void *data) {
  (void)ev;
  (void)data;
  return 0;
}

static void on_warning(const char *msg, void *data) {
  (void)msg;
  (void)data;
}

static void test_defaults_and_routing(void **state) {
  (void)state;
  vmpull_pull_options o;
  vmpull_pull_options_init(&o, sizeof(o));
  static const char *const mirrors[] = {"quay.io=mirror.example:5000"};
  volatile sig_atomic_t cancel = 0;
  int token = 0;
  o.source = "docker://quay.io/a/b:c";
  o.output = "/tmp/out.raw";
  o.creds = "me:secret";
  o.authfile = "/tmp/auth.json";
  o.arch = "arm64";
  o.provider = "applehv";
  o.cache_dir = "/tmp/cache";
  o.offline = 1;
  o.mirrors = mirrors;
  o.n_mirrors = 1;
  o.stream_url = "https://example/stream.json";
  o.keep_uncompressed = 1;
  o.refresh = 1;
  o.progress = on_progress;
  o.progress_data = &token;
  o.warning = on_warning;
  o.warning_data = &token;
  o.cancel = &cancel;
  struct pull_config c;
  pull_config_from_options(&o, &c);

  assert_int_equal(c.max_size, 1ull << 40);
  assert_int_equal(c.resolve.http.retries, 5);
  assert_int_equal(c.resolve.http.tls_verify, 1);
  assert_int_equal(c.resolve.oci.http.retries, 5);
  assert_string_equal(c.resolve.source, o.source);
  assert_string_equal(c.resolve.oci.source, o.source);
  assert_string_equal(c.resolve.naming.output, o.output);
  assert_string_equal(c.resolve.stream_url, o.stream_url);
  assert_string_equal(c.resolve.oci.auth.creds, o.creds);
  assert_string_equal(c.resolve.oci.auth.authfile, o.authfile);
  assert_string_equal(c.resolve.oci.selection.arch, "arm64");
  assert_string_equal(c.resolve.oci.selection.provider, "applehv");
  assert_ptr_equal(c.resolve.oci.mirrors, mirrors);
  assert_int_equal(c.resolve.oci.n_mirrors, 1);
  assert_int_equal(c.resolve.oci.offline, 1);
  assert_string_equal(c.fetch.cache_dir, "/tmp/cache");
  assert_int_equal(c.fetch.offline, 1);
  assert_int_equal(c.fetch.keep_uncompressed, 1);
  assert_int_equal(c.fetch.refresh, 1);
  for (const struct call_hooks *h = &c.hooks; h; h = h == &c.hooks ? &c.fetch.hooks : NULL) {
    assert_ptr_equal(h->progress, on_progress);
    assert_ptr_equal(h->warning, on_warning);
    assert_ptr_equal(h->cancel, &cancel);
  }
  assert_ptr_equal(c.resolve.oci.hooks.warning_data, &token);
}

/* A caller built against the first ABI: its struct ends at cancel. What lies beyond (here 0xff
 * bytes) is not its memory and is never read: the later fields take their defaults. */
static void test_older_caller(void **state) {
  (void)state;
  vmpull_pull_options *o = malloc(sizeof(*o));
  assert_non_null(o);
  memset(o, 0xff, sizeof(*o));
  size_t first_abi = offsetof(vmpull_pull_options, cancel) + sizeof(o->cancel);
  vmpull_pull_options_init(o, first_abi);
  o->source = "docker://quay.io/a/b:c";
  o->data_dir = "/tmp/data";
  struct pull_config c;
  pull_config_from_options(o, &c);
  assert_int_equal(c.fetch.keep_uncompressed, 0);
  assert_int_equal(c.fetch.refresh, 0);
  assert_null(c.resolve.stream_url);
  assert_null(c.resolve.oci.mirrors);
  assert_int_equal(c.resolve.oci.n_mirrors, 0);
  assert_int_equal(c.resolve.oci.mirror_by_digest_only, 0);
  assert_string_equal(c.resolve.naming.data_dir, "/tmp/data");
  free(o);
}

static void on_log(int level, const char *message, void *userdata) {
  (void)level, (void)message, (void)userdata;
}

/* The log hook (added in 0.3) reaches every floor; a caller built against the 0.2 header, whose
 * struct ends at mirror_by_digest_only, has none: what lies beyond is never read. */
static void test_log_hook_and_older_caller(void **state) {
  (void)state;
  int token;
  vmpull_pull_options o;
  vmpull_pull_options_init(&o, sizeof(o));
  o.log = on_log;
  o.log_data = &token;
  struct pull_config c;
  pull_config_from_options(&o, &c);
  assert_ptr_equal(c.hooks.log, on_log);
  assert_ptr_equal(c.hooks.log_data, &token);
  assert_ptr_equal(c.fetch.hooks.log, on_log);
  assert_ptr_equal(c.resolve.oci.hooks.log, on_log);
  assert_ptr_equal(c.resolve.http.log, on_log);
  assert_ptr_equal(c.resolve.oci.http.log_data, &token);

  vmpull_pull_options *old = malloc(sizeof(*old));
  assert_non_null(old);
  memset(old, 0xff, sizeof(*old));
  vmpull_pull_options_init(old,
                           offsetof(vmpull_pull_options, mirror_by_digest_only) + sizeof(old->mirror_by_digest_only));
  old->source = "disk.raw.xz";
  pull_config_from_options(old, &c);
  assert_null(c.hooks.log);
  assert_null(c.hooks.log_data);
  assert_null(c.fetch.hooks.log);
  assert_null(c.resolve.oci.hooks.log);
  assert_null(c.resolve.http.log);
  assert_null(c.resolve.oci.http.log);
  /* A 0.3 caller built before refresh (its struct ends at registries_d): the stale copy is allowed. */
  vmpull_pull_options_init(old, offsetof(vmpull_pull_options, registries_d) + sizeof(old->registries_d));
  old->source = "https://example/disk.raw.xz";
  pull_config_from_options(old, &c);
  assert_int_equal(c.fetch.refresh, 0);
  free(old);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_and_routing),
      cmocka_unit_test(test_older_caller),
      cmocka_unit_test(test_log_hook_and_older_caller),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
