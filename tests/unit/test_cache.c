/* SPDX-License-Identifier: Apache-2.0 */
/* The cache's pure parts: stream metadata selection (lib/resolve/fcos_stream.c), the retry policy
 * (lib/net/http_retry.c), the store's refs and blobs (lib/store/cache.c) and entry locks (lib/store/lock.c). */
/* cmocka.h needs these headers before it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "base/platform.h"
#include "base/util.h"
#include "net/http_retry.h"
#include "resolve/fcos_stream.h"
#include "store/cache.h"
#include "store/lock.h"
#include "test_files.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#ifndef _WIN32
#include <sys/wait.h>
#endif

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"

static const char stream[] =
    "{\"stream\":\"stable\",\"architectures\":{"
    "\"x86_64\":{\"artifacts\":{"
    "\"qemu\":{\"release\":\"40.1\",\"formats\":{\"qcow2.xz\":{\"disk\":{\"location\":\"https://b/q.qcow2.xz\","
    "\"sha256\":\"" H1 "\"}}}},"
    "\"metal\":{\"formats\":{\"raw.xz\":{\"disk\":{\"location\":\"https://b/m.raw.xz\",\"sha256\":\"" H2 "\"}}}}}},"
    "\"aarch64\":{\"artifacts\":{"
    "\"applehv\":{\"release\":\"40.2\",\"formats\":{\"raw.gz\":{\"disk\":{\"location\":\"http://b/a.raw.gz\","
    "\"sha256\":\"" H2 "\"}}}}}}}}";

static void expect_pick(const char *arch, const char *provider, const char *location, const char *sha) {
  struct fcos_artifact a;
  lib_error err = {0};
  int r = fcos_stream_select(stream, strlen(stream), arch, provider, &a, &err);
  if (r != 0)
    fail_msg("%s %s: %s", arch, provider, err.message);
  assert_string_equal(a.location, location);
  assert_string_equal(a.sha256, sha);
  fcos_artifact_clear(&a);
}

static void expect_refused(const char *json, const char *arch, const char *provider, int code, const char *needle) {
  struct fcos_artifact a;
  lib_error err = {0};
  int r = fcos_stream_select(json, strlen(json), arch, provider, &a, &err);
  assert_int_equal(r, -code);
  assert_null(a.location);
  if (!strstr(err.message, needle))
    fail_msg("message '%s' lacks '%s'", err.message, needle);
}

static void test_stream_selection(void **state) {
  (void)state;
  expect_pick("x86_64", "qemu", "https://b/q.qcow2.xz", "sha256:" H1);
  expect_pick("x86_64", NULL, "https://b/q.qcow2.xz", "sha256:" H1);
  expect_pick("aarch64", "applehv", "http://b/a.raw.gz", "sha256:" H2);
  expect_pick("aarch64", "libkrun", "http://b/a.raw.gz", "sha256:" H2);
  expect_refused(stream, "x86_64", "hyperv", VMPULL_E_NO_MATCH, "no hyperv artifact for x86_64 (it has qemu, metal)");
  expect_refused(stream, "ppc64le", "qemu", VMPULL_E_NO_MATCH, "no ppc64le disks (it has x86_64, aarch64)");
  expect_refused(stream, "x86_64", "wsl", VMPULL_E_NO_MATCH, "provider 'wsl'");
}

static void test_stream_malformed(void **state) {
  (void)state;
  expect_refused("", "x86_64", "qemu", VMPULL_E_MANIFEST, "not valid JSON");
  expect_refused("[1,2]", "x86_64", "qemu", VMPULL_E_MANIFEST, "no \"architectures\"");
  expect_refused("{\"architectures\":{}} {}", "x86_64", "qemu", VMPULL_E_MANIFEST, "not valid JSON");
  expect_refused("{\"architectures\":{\"x86_64\":{\"artifacts\":{\"qemu\":{\"formats\":{\"qcow2.xz\":{\"disk\":"
                 "{\"location\":\"ftp://b/x\",\"sha256\":\"" H1 "\"}}}}}}}}",
                 "x86_64", "qemu", VMPULL_E_MANIFEST, "not an http(s) URL");
  expect_refused("{\"architectures\":{\"x86_64\":{\"artifacts\":{\"qemu\":{\"formats\":{\"qcow2.xz\":{\"disk\":"
                 "{\"location\":\"https://b/x y\",\"sha256\":\"" H1 "\"}}}}}}}}",
                 "x86_64", "qemu", VMPULL_E_MANIFEST, "not an http(s) URL");
  expect_refused("{\"architectures\":{\"x86_64\":{\"artifacts\":{\"qemu\":{\"formats\":{\"qcow2.xz\":{\"disk\":"
                 "{\"location\":\"https://b/x\",\"sha256\":12}}}}}}}}",
                 "x86_64", "qemu", VMPULL_E_MANIFEST, "not 64 hex digits");
  /* Deep nesting is refused by the tokenizer, not by the stack. */
  char deep[4096];
  size_t n = 0;
  for (int i = 0; i < 1000; i++)
    deep[n++] = '[';
  deep[n] = '\0';
  expect_refused(deep, "x86_64", "qemu", VMPULL_E_MANIFEST, "not valid JSON");
}

static void test_stream_names(void **state) {
  (void)state;
  const char *name;
  size_t len;
  lib_error err = {0};
  assert_int_equal(fcos_stream_name("fcos://stable", &name, &len, &err), 0);
  assert_int_equal(len, 6);
  assert_int_equal(fcos_stream_name("fcos://testing-devel/", &name, &len, &err), 0);
  assert_int_equal(len, 13);
  assert_int_equal(fcos_stream_name("fcos://", &name, &len, &err), -VMPULL_E_USAGE);
  assert_int_equal(fcos_stream_name("fcos://a/b", &name, &len, &err), -VMPULL_E_USAGE);
  assert_int_equal(fcos_stream_name("fcos://..", &name, &len, &err), -VMPULL_E_USAGE);
}

static void test_retry_policy(void **state) {
  (void)state;
  long again[] = {408, 429, 500, 502, 503, 504};
  for (size_t i = 0; i < ARRAY_SIZE(again); i++)
    assert_true(http_retryable(again[i], VMPULL_E_HTTP));
  long never[] = {400, 401, 403, 404, 410, 416, 501};
  for (size_t i = 0; i < ARRAY_SIZE(never); i++)
    assert_false(http_retryable(never[i], VMPULL_E_HTTP));
  assert_true(http_retryable(0, VMPULL_E_NETWORK));
  assert_false(http_retryable(0, VMPULL_E_TLS));
  assert_false(http_retryable(0, VMPULL_E_CANCELLED));
  assert_false(http_retryable(0, VMPULL_E_DIGEST));
  /* 1 s doubling, at most 30 s */
  uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
  for (unsigned n = 1; n <= ARRAY_SIZE(want); n++)
    assert_int_equal(http_retry_delay_ms(n, NULL), want[n - 1]);
  assert_int_equal(http_retry_delay_ms(1, "2"), 2000);
  assert_int_equal(http_retry_delay_ms(4, "0"), 0);
  assert_int_equal(http_retry_delay_ms(1, "100000"), RETRY_AFTER_MAX_MS);
  assert_int_equal(http_retry_delay_ms(3, "soon"), 4000);                       /* unreadable: backoff */
  assert_int_equal(http_retry_delay_ms(2, "Wed, 21 Oct 2015 07:28:00 GMT"), 0); /* a date in the past */
  /* Retry-After is 1*DIGIT or a date: anything else is no hint (the backoff), never the cap. */
  assert_int_equal(http_retry_delay_ms(1, "-5"), 1000);
  assert_int_equal(http_retry_delay_ms(2, "-1"), 2000);
  assert_int_equal(http_retry_delay_ms(1, "+5"), 1000);
  assert_int_equal(http_retry_delay_ms(1, " 5"), 1000);
  assert_int_equal(http_retry_delay_ms(1, "5.5"), 1000);
  assert_int_equal(http_retry_delay_ms(1, "0x10"), 1000);
  assert_int_equal(http_retry_delay_ms(1, "-18446744073709551611"), 1000);
  /* huge but well-formed: the cap, without overflowing on the way */
  assert_int_equal(http_retry_delay_ms(1, "18446744073709551"), RETRY_AFTER_MAX_MS);
  assert_int_equal(http_retry_delay_ms(1, "99999999999999999999999"), RETRY_AFTER_MAX_MS);
}

/* What lets a cached copy stand in (issue 17): a server that cannot be reached at all, never
 * one that answered (a status), failed TLS, or broke off or stalled mid-way. */
static void test_unreachable(void **state) {
  (void)state;
  lib_error e = {0};
  int away[] = {CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT};
  for (size_t i = 0; i < ARRAY_SIZE(away); i++) {
    error_set(&e, VMPULL_E_NETWORK, "Failed to connect");
    error_note_curl(&e, away[i]);
    assert_true(http_unreachable(&e));
  }
  error_set(&e, VMPULL_E_NETWORK, "timed out: Connection timed out after 30001 milliseconds");
  error_note_curl(&e, CURLE_OPERATION_TIMEDOUT);
  assert_true(http_unreachable(&e));
  error_set(&e, VMPULL_E_NETWORK, "stalled: Operation too slow. Less than 1024 bytes/sec transferred");
  error_note_curl(&e, CURLE_OPERATION_TIMEDOUT);
  assert_false(http_unreachable(&e));
  int there[] = {CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, 0};
  for (size_t i = 0; i < ARRAY_SIZE(there); i++) {
    error_set(&e, VMPULL_E_NETWORK, "x");
    error_note_curl(&e, there[i]);
    assert_false(http_unreachable(&e));
  }
  error_set(&e, VMPULL_E_NOT_FOUND, "HTTP 404 Not Found");
  error_note_http(&e, 404);
  assert_false(http_unreachable(&e));
}

static char *temp_dir(void) {
  char tmpl[] = "/tmp/vmpull-unit-cache-XXXXXX";
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  return strdup(d);
}

static void test_store(void **state) {
  (void)state;
  _cleanup_free_ char *dir = temp_dir();
  _cleanup_free_ char *cdir = xasprintf("%s/c", dir);
  struct cache *c = NULL;
  lib_error err = {0};
  assert_int_equal(cache_open(cdir, 0, &c, NULL, &err), -VMPULL_E_NOT_FOUND);
  assert_int_equal(cache_open(cdir, 1, &c, NULL, &err), 0);
  /* a blob is named by its digest and read back checked */
  char digest[80];
  assert_int_equal(cache_blob_write(c, "hello", 5, digest, &err), 0);
  assert_string_equal(digest, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  assert_true(cache_blob_exists(c, digest));
  char *body = NULL;
  size_t len = 0;
  assert_int_equal(cache_blob_read(c, digest, 100, &body, &len, &err), 0);
  assert_int_equal(len, 5);
  free(body);
  /* a damaged blob is refused and removed */
  _cleanup_free_ char *path = xasprintf("%s/blobs/sha256/%s", cdir, digest + 7);
  int fd = plat_openat(AT_FDCWD, path, O_WRONLY | O_TRUNC | O_CLOEXEC, 0);
  assert_true(fd >= 0 && write(fd, "jello", 5) == 5);
  close(fd);
  assert_int_equal(cache_blob_read(c, digest, 100, &body, &len, &err), -VMPULL_E_NOT_FOUND);
  assert_false(cache_blob_exists(c, digest));
  /* refs: exact keys only */
  struct cache_ref ref = {.key = "https://h/a.xz", .digest = digest, .etag = "\"e1\"", .size = 5};
  assert_int_equal(cache_ref_put(c, &ref, &err), 0);
  struct cache_ref got = {.size = UINT64_MAX};
  assert_int_equal(cache_ref_get(c, "https://h/a.xz", &got), 1);
  assert_string_equal(got.etag, "\"e1\"");
  assert_null(got.last_modified);
  assert_int_equal(got.size, 5);
  cache_ref_clear(&got);
  assert_int_equal(cache_ref_get(c, "https://h/b.xz", &got), 0);
  /* not a digest the cache stores */
  assert_null(cache_digest_hex("sha512:abc"));
  assert_null(cache_digest_hex("sha256:ABC"));
  cache_free(c);
  assert_int_equal(test_rm_rf(dir), 0);
}

/* The waiter of test_lock: 0 when it locked the new, empty file of that name. */
struct waiter {
  int dfd;
  const struct lock_wait *w;
  int result;
};

static void *wait_for_lock(void *arg) {
  struct waiter *wt = arg;
  int cfd = -1;
  lib_error cerr;
  if (lock_file(wt->dfd, "entry", wt->w, &cfd, &cerr) < 0) {
    wt->result = 2;
    return NULL;
  }
  struct stat st;
  wt->result = fstat(cfd, &st) == 0 && st.st_size == 0 ? 0 : 3;
  close(cfd);
  return NULL;
}

static void test_lock(void **state) {
  (void)state;
  _cleanup_free_ char *dir = temp_dir();
  int dfd = plat_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  assert_true(dfd >= 0);
  struct lock_wait w = {.what = "x"};
  lib_error err = {0};
  int fd = -1, other = -1;
  assert_int_equal(lock_file(dfd, "entry", &w, &fd, &err), 0);
  /* held: another open file description cannot take it */
  assert_int_equal(lock_file_try(dfd, "entry", &other), 0);
  /* a waiter whose file was renamed away (committed) locks the new file of that name: another
   * process on Linux; on Windows (no fork) a thread, whose own handle a lock refuses as well */
#ifndef _WIN32
  pid_t child = fork();
  if (child == 0) {
    close(fd);           /* an inherited copy would share (and so keep) the parent's lock */
    free(TAKE_PTR(dir)); /* the child leaves by _exit: valgrind (make check-valgrind) counts what it holds */
    struct waiter wt = {.dfd = dfd, .w = &w};
    wait_for_lock(&wt);
    _exit(wt.result);
  }
#else
  struct waiter wt = {.dfd = dfd, .w = &w, .result = -1};
  pthread_t child;
  assert_int_equal(pthread_create(&child, NULL, wait_for_lock, &wt), 0);
#endif
  usleep(200 * 1000);
  assert_true(write(fd, "data", 4) == 4);
  assert_int_equal(plat_renameat(dfd, "entry", dfd, "committed"), 0);
  close(fd);
#ifndef _WIN32
  int status = 0;
  assert_int_equal(waitpid(child, &status, 0), child);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
#else
  pthread_join(child, NULL);
  assert_int_equal(wt.result, 0);
#endif
  /* nobody holds it now */
  assert_int_equal(lock_file_try(dfd, "entry", &other), 1);
  close(other);
  close(dfd);
  assert_int_equal(test_rm_rf(dir), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stream_selection),
      cmocka_unit_test(test_stream_malformed),
      cmocka_unit_test(test_stream_names),
      cmocka_unit_test(test_retry_policy),
      cmocka_unit_test(test_unreachable),
      cmocka_unit_test(test_store),
      cmocka_unit_test(test_lock),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
