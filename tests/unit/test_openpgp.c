/* SPDX-License-Identifier: Apache-2.0 */
/* The GPGME wrapper (lib/trust/openpgp.c) against keys, signatures and clearsigned texts made by gpg
 * itself in a GnuPG home of the test's own. */
#ifdef _WIN32
/* Windows: skipped (meson counts exit status 77 as a skip), since its keys and signatures are made by gpg and a POSIX
 * shell at test time, and it reads /proc (the CLI tests under wine cover what runs on Windows). */
#include <stdio.h>

int main(void) {
  printf("skipped on Windows: its keys and signatures are made by gpg and a POSIX shell at test time, and it reads "
         "/proc (the CLI tests under wine cover what runs on Windows)\n");
  return 77;
}
#else
/* clang-format off */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
/* clang-format on */

#include "base/util.h"
#include "trust/openpgp.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

static char dir[] = "/tmp/vmpull-test-openpgp-XXXXXX";
static char tmp[256]; /* TMPDIR of the library: its homes are made here */
static char good_fpr[65], other_fpr[65];
static int sigpipe_kept;

static char *path_of(const char *name) {
  return xasprintf("%s/%s", dir, name);
}

static char *slurp(const char *name, size_t *len) {
  _cleanup_free_ char *p = path_of(name);
  char *buf = NULL;
  assert_int_equal(read_file_limited(p, 8 << 20, &buf, len), 0);
  return buf;
}

static void read_fpr(const char *uid, char out[65]) {
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "GNUPGHOME=%s/home gpg --batch --with-colons --list-keys %s | awk -F: '/^fpr/{print $10; exit}'", dir, uid);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  assert_non_null(fgets(out, 65, p));
  pclose(p);
  out[strcspn(out, "\n")] = '\0';
  assert_int_equal(strlen(out), 40);
}

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(dir))
    return -1;
  snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
  mkdir(tmp, 0700);
  setenv("TMPDIR", tmp, 1);
  /* The first keyring runs gpgme_check_version, which ignores SIGPIPE unless put back. */
  signal(SIGPIPE, SIG_DFL);
  struct openpgp_keyring *k = NULL;
  lib_error err = {0};
  if (openpgp_keyring_new(&k, &err) < 0)
    return -1;
  openpgp_keyring_free(k);
  struct sigaction now;
  sigaction(SIGPIPE, NULL, &now);
  sigpipe_kept = now.sa_handler == SIG_DFL;

  char cmd[4096];
  snprintf(cmd, sizeof(cmd),
           "set -e; cd %s; export GNUPGHOME=$PWD/home; mkdir -m 700 home; trap 'gpgconf --kill all' EXIT;"
           "gpg --batch -q --passphrase '' --quick-gen-key 'Good <good@test>' rsa2048 sign never 2>/dev/null;"
           "gpg --batch -q --passphrase '' --quick-gen-key 'Other <other@test>' ed25519 sign never 2>/dev/null;"
           "gpg --batch -q --export --armor good@test > good.asc;"
           "gpg --batch -q --export other@test > other.gpg;"
           "head -c 3000000 /dev/urandom > data.bin;"
           "gpg --batch -q -u good@test --detach-sign -o data.sig data.bin;"
           "gpg --batch -q -u other@test --detach-sign -o data.other.sig data.bin;"
           "printf 'aaaa  good.img\\nbbbb  other.img\\n' > list.txt;"
           "gpg --batch -q -u good@test --clearsign -o list.asc list.txt;"
           "gpg --batch -q -u other@test --clearsign -o list.other.asc list.txt;"
           "printf '{\"critical\":{}}' > payload.json;"
           "gpg --batch -q -u good@test --sign -o payload.sig payload.json",
           dir);
  if (system(cmd) != 0)
    return -1;
  read_fpr("good@test", good_fpr);
  read_fpr("other@test", other_fpr);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[1024];
  /* setup's gpg may have stopped halfway, its agent still running */
  snprintf(cmd, sizeof(cmd), "GNUPGHOME=%s/home gpgconf --kill all >/dev/null 2>&1; rm -rf %s", dir, dir);
  return system(cmd) == 0 ? 0 : -1;
}

static struct openpgp_keyring *keyring_with(const char *name) {
  struct openpgp_keyring *k = NULL;
  lib_error err = {0};
  assert_int_equal(openpgp_keyring_new(&k, &err), 0);
  _cleanup_free_ char *p = path_of(name);
  assert_int_equal(openpgp_keyring_add_file(k, p, &err), 0);
  return k;
}

static void test_sigpipe_disposition_kept(void **state) {
  (void)state;
  assert_true(sigpipe_kept);
}

static void test_detached_good(void **state) {
  (void)state;
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = keyring_with("good.asc");
  size_t sl, dl;
  _cleanup_free_ char *sig = slurp("data.sig", &sl);
  _cleanup_free_ char *data = slurp("data.bin", &dl);
  char fpr[65];
  lib_error err = {0};
  assert_int_equal(openpgp_verify_detached(k, sig, sl, data, dl, fpr, &err), 0);
  assert_string_equal(fpr, good_fpr);
}

static void test_detached_other_key(void **state) {
  (void)state;
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = keyring_with("good.asc");
  size_t sl, dl;
  _cleanup_free_ char *sig = slurp("data.other.sig", &sl);
  _cleanup_free_ char *data = slurp("data.bin", &dl);
  char fpr[65];
  lib_error err = {0};
  assert_int_equal(openpgp_verify_detached(k, sig, sl, data, dl, fpr, &err), -VMPULL_E_SIGNATURE);
  assert_non_null(strstr(err.message, "not in the keyring"));
  assert_string_equal(fpr, "");
}

/* The key is in the GnuPG home but was not imported into this keyring: the other key. */
static void test_detached_unknown_key(void **state) {
  (void)state;
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = keyring_with("other.gpg"); /* binary */
  size_t sl, dl;
  _cleanup_free_ char *sig = slurp("data.sig", &sl);
  _cleanup_free_ char *data = slurp("data.bin", &dl);
  char fpr[65];
  lib_error err = {0};
  assert_int_equal(openpgp_verify_detached(k, sig, sl, data, dl, fpr, &err), -VMPULL_E_SIGNATURE);
  assert_non_null(strstr(err.message, "not in the keyring"));
  /* and the other key's own signature is good with it */
  _cleanup_free_ char *other_sig = slurp("data.other.sig", &sl);
  assert_int_equal(openpgp_verify_detached(k, other_sig, sl, data, dl, fpr, &err), 0);
  assert_string_equal(fpr, other_fpr);
}

static void test_detached_tampered(void **state) {
  (void)state;
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = keyring_with("good.asc");
  size_t sl, dl;
  _cleanup_free_ char *sig = slurp("data.sig", &sl);
  _cleanup_free_ char *data = slurp("data.bin", &dl);
  data[dl / 2] ^= 1;
  char fpr[65];
  lib_error err = {0};
  assert_int_equal(openpgp_verify_detached(k, sig, sl, data, dl, fpr, &err), -VMPULL_E_SIGNATURE);
  assert_non_null(strstr(err.message, "bad signature"));
  assert_non_null(strstr(err.message, good_fpr));
}

static void test_not_a_signature(void **state) {
  (void)state;
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = keyring_with("good.asc");
  char fpr[65];
  lib_error err = {0};
  static const char junk[] = "not a signature at all";
  assert_int_equal(openpgp_verify_detached(k, junk, sizeof(junk) - 1, "x", 1, fpr, &err), -VMPULL_E_SIGNATURE);
  assert_non_null(strstr(err.message, "signature"));
  char *plain = (char *)1;
  size_t pl = 1;
  assert_int_equal(openpgp_verify_clearsigned(k, junk, sizeof(junk) - 1, &plain, &pl, fpr, &err), -VMPULL_E_SIGNATURE);
  assert_null(plain);
}

static void test_clearsigned_good(void **state) {
  (void)state;
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = keyring_with("good.asc");
  size_t ml, pl;
  _cleanup_free_ char *msg = slurp("list.asc", &ml);
  _cleanup_free_ char *plain = NULL;
  char fpr[65];
  lib_error err = {0};
  assert_int_equal(openpgp_verify_clearsigned(k, msg, ml, &plain, &pl, fpr, &err), 0);
  assert_string_equal(fpr, good_fpr);
  assert_string_equal(plain, "aaaa  good.img\nbbbb  other.img\n");
  assert_int_equal(pl, strlen(plain));
}

/* GPGME calls the file good with unsigned lines around the signed part: they are not in plain. */
static void test_clearsigned_unsigned_lines_left_out(void **state) {
  (void)state;
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = keyring_with("good.asc");
  size_t ml, pl;
  _cleanup_free_ char *msg = slurp("list.asc", &ml);
  _cleanup_free_ char *wrapped = xasprintf("ffff  before.img\n\n%sffff  after.img\n", msg);
  _cleanup_free_ char *plain = NULL;
  char fpr[65];
  lib_error err = {0};
  assert_int_equal(openpgp_verify_clearsigned(k, wrapped, strlen(wrapped), &plain, &pl, fpr, &err), 0);
  assert_string_equal(plain, "aaaa  good.img\nbbbb  other.img\n");
  assert_null(strstr(plain, "before.img"));
  assert_null(strstr(plain, "after.img"));
}

static void test_clearsigned_tampered(void **state) {
  (void)state;
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = keyring_with("good.asc");
  size_t ml, pl;
  _cleanup_free_ char *msg = slurp("list.asc", &ml);
  char *line = strstr(msg, "aaaa  good.img");
  assert_non_null(line);
  line[0] = 'c';
  _cleanup_free_ char *plain = NULL;
  char fpr[65];
  lib_error err = {0};
  assert_int_equal(openpgp_verify_clearsigned(k, msg, ml, &plain, &pl, fpr, &err), -VMPULL_E_SIGNATURE);
  assert_non_null(strstr(err.message, "bad signature"));
  assert_null(plain);
}

/* A second signed part by a key not in the keyring does not ride along with a good one. */
static void test_clearsigned_second_part_by_other_key(void **state) {
  (void)state;
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = keyring_with("good.asc");
  size_t ml, ol, pl;
  _cleanup_free_ char *msg = slurp("list.asc", &ml);
  _cleanup_free_ char *other = slurp("list.other.asc", &ol);
  _cleanup_free_ char *both = xasprintf("%s%s", msg, other);
  _cleanup_free_ char *plain = NULL;
  char fpr[65];
  lib_error err = {0};
  assert_int_equal(openpgp_verify_clearsigned(k, both, strlen(both), &plain, &pl, fpr, &err), -VMPULL_E_SIGNATURE);
  assert_null(plain);
}

static void test_opaque_good_and_other_key(void **state) {
  (void)state;
  size_t ml, pl;
  _cleanup_free_ char *msg = slurp("payload.sig", &ml);
  char fpr[65];
  lib_error err = {0};
  {
    _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = keyring_with("good.asc");
    _cleanup_free_ char *plain = NULL;
    assert_int_equal(openpgp_verify_opaque(k, msg, ml, &plain, &pl, fpr, &err), 0);
    assert_string_equal(plain, "{\"critical\":{}}");
    assert_string_equal(fpr, good_fpr);
  }
  {
    _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = keyring_with("other.gpg");
    _cleanup_free_ char *plain = NULL;
    assert_int_equal(openpgp_verify_opaque(k, msg, ml, &plain, &pl, fpr, &err), -VMPULL_E_SIGNATURE);
    assert_null(plain);
  }
}

static void test_key_file_errors(void **state) {
  (void)state;
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = NULL;
  lib_error err = {0};
  assert_int_equal(openpgp_keyring_new(&k, &err), 0);
  _cleanup_free_ char *missing = path_of("missing.asc");
  assert_true(openpgp_keyring_add_file(k, missing, &err) < 0);
  assert_non_null(strstr(err.message, missing));
  _cleanup_free_ char *not_key = path_of("list.txt");
  assert_int_equal(openpgp_keyring_add_file(k, not_key, &err), -VMPULL_E_SIGNATURE);
  assert_non_null(strstr(err.message, not_key));
  assert_non_null(strstr(err.message, "no OpenPGP public key"));
  assert_int_equal(openpgp_keyring_count(k), 0);
}

static void stream_all(struct openpgp_keyring *k, const char *sig_name, int flip, int expect) {
  size_t sl, dl;
  _cleanup_free_ char *sig = slurp(sig_name, &sl);
  _cleanup_free_ char *data = slurp("data.bin", &dl);
  if (flip)
    data[dl - 1] ^= 1;
  _cleanup_(openpgp_stream_freep) struct openpgp_stream *s = NULL;
  lib_error err = {0};
  assert_int_equal(openpgp_stream_start(k, sig, sl, &s, &err), 0);
  /* uneven pieces, more than the ring holds in all */
  for (size_t off = 0, step = 1; off < dl; off += step, step = step * 3 + 7) {
    size_t n = MIN(step, dl - off);
    assert_int_equal(openpgp_stream_feed(s, data + off, n, &err), 0);
  }
  char fpr[65];
  assert_int_equal(openpgp_stream_finish(s, fpr, &err), expect);
  if (!expect)
    assert_string_equal(fpr, good_fpr);
}

static void test_stream(void **state) {
  (void)state;
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = keyring_with("good.asc");
  stream_all(k, "data.sig", 0, 0);
  stream_all(k, "data.sig", 1, -VMPULL_E_SIGNATURE);
  stream_all(k, "data.other.sig", 0, -VMPULL_E_SIGNATURE);
}

/* A pull that fails halfway frees the stream with GPGME still reading: it ends, nothing hangs. */
static void test_stream_abandoned(void **state) {
  (void)state;
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = keyring_with("good.asc");
  size_t sl, dl;
  _cleanup_free_ char *sig = slurp("data.sig", &sl);
  _cleanup_free_ char *data = slurp("data.bin", &dl);
  struct openpgp_stream *s = NULL;
  lib_error err = {0};
  assert_int_equal(openpgp_stream_start(k, sig, sl, &s, &err), 0);
  assert_int_equal(openpgp_stream_feed(s, data, dl / 2, &err), 0);
  openpgp_stream_free(s);
  /* and a stream whose signature is junk: GPGME stops reading early, feeding does not block */
  static const char junk[] = "junk";
  assert_int_equal(openpgp_stream_start(k, junk, sizeof(junk) - 1, &s, &err), 0);
  for (int i = 0; i < 4; i++)
    assert_int_equal(openpgp_stream_feed(s, data, dl, &err), 0);
  char fpr[65];
  assert_int_equal(openpgp_stream_finish(s, fpr, &err), -VMPULL_E_SIGNATURE);
  openpgp_stream_free(s);
}

/* Every keyring's home is gone after free, and no gpg-agent was left for one. */
static int count_entries(const char *path) {
  DIR *d = opendir(path);
  assert_non_null(d);
  struct dirent *e;
  int entries = 0;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      entries++;
  closedir(d);
  return entries;
}

static void test_homes_removed_no_agent(void **state) {
  (void)state;
  /* (a failed assertion above leaves its keyring: cmocka jumps past the cleanups) */
  int before = count_entries(tmp);
  {
    _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = keyring_with("good.asc");
    stream_all(k, "data.sig", 0, 0);
  }
  assert_int_equal(count_entries(tmp), before);
  /* no process runs with one of our homes on its command line */
  DIR *d = opendir("/proc");
  struct dirent *e;
  assert_non_null(d);
  while ((e = readdir(d))) {
    char p[300];
    snprintf(p, sizeof(p), "/proc/%s/cmdline", e->d_name);
    char *buf = NULL;
    size_t len = 0;
    if (read_file_limited(p, 65536, &buf, &len) < 0)
      continue;
    for (size_t i = 0; i < len; i++)
      if (!buf[i])
        buf[i] = ' ';
    int found = strstr(buf, tmp) != NULL;
    free(buf);
    assert_false(found);
  }
  closedir(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sigpipe_disposition_kept),
      cmocka_unit_test(test_detached_good),
      cmocka_unit_test(test_detached_other_key),
      cmocka_unit_test(test_detached_unknown_key),
      cmocka_unit_test(test_detached_tampered),
      cmocka_unit_test(test_not_a_signature),
      cmocka_unit_test(test_clearsigned_good),
      cmocka_unit_test(test_clearsigned_unsigned_lines_left_out),
      cmocka_unit_test(test_clearsigned_tampered),
      cmocka_unit_test(test_clearsigned_second_part_by_other_key),
      cmocka_unit_test(test_opaque_good_and_other_key),
      cmocka_unit_test(test_key_file_errors),
      cmocka_unit_test(test_stream),
      cmocka_unit_test(test_stream_abandoned),
      cmocka_unit_test(test_homes_removed_no_agent),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
#endif
