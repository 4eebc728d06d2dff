/* SPDX-License-Identifier: Apache-2.0 */
/* Sigstore public keys and payload signatures (lib/trust/sigstore.c), against keys and signatures
 * that the openssl tool makes at test time (the independent signer). */
#ifdef _WIN32
/* Windows: skipped (meson counts exit status 77 as a skip), since its keys and signatures are made by the openssl tool
 * through a POSIX shell at test time. */
#include <stdio.h>

int main(void) {
  printf(
      "skipped on Windows: its keys and signatures are made by the openssl tool through a POSIX shell at test time\n");
  return 77;
}
#else
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

#include "trust/sigstore.h"

#include <stdio.h>

#define PAYLOAD                                                                                                        \
  "{\"critical\":{\"identity\":{\"docker-reference\":\"registry.example/vm/disk:1\"},\"image\":{\"docker-manifest-"    \
  "digest\":\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\"type\":\"cosign container " \
  "image signature\"},\"optional\":null}"

static char dir[] = "/tmp/vmpull-sigstore-XXXXXX";

static void run(const char *fmt, ...) VMPULL_PRINTF(1, 2);
static void run(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  int rc = system(cmd);
  if (rc != 0)
    fail_msg("command failed (%d): %s", rc, cmd);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "re");
  assert_non_null(f);
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = 0;
  return strdup(buf);
}

/* A private key NAME.key and its public NAME.pub, made by `openssl genpkey` with args. */
static void make_key(const char *name, const char *args) {
  run("cd %s && openssl genpkey %s -out %s.key 2>/dev/null && openssl pkey -in %s.key -pubout -out %s.pub", dir, args,
      name, name, name);
}

/* The base64 signature by NAME.key over the file payload (Ed25519: pkeyutl -rawin, no hash). */
static char *sign(const char *name, int ed25519) {
  if (ed25519)
    run("cd %s && openssl pkeyutl -sign -inkey %s.key -rawin -in payload -out %s.sig", dir, name, name);
  else
    run("cd %s && openssl dgst -sha256 -sign %s.key -out %s.sig payload", dir, name, name);
  run("cd %s && openssl base64 -A -in %s.sig -out %s.b64", dir, name, name);
  char path[512];
  snprintf(path, sizeof(path), "%s/%s.b64", dir, name);
  return slurp(path);
}

/* The key id the openssl tool computes: sha256 of the DER SubjectPublicKeyInfo. */
static char *openssl_key_id(const char *name) {
  run("cd %s && openssl pkey -pubin -in %s.pub -outform DER | openssl dgst -sha256 -r | cut -c1-64 > %s.id", dir, name,
      name);
  char path[512];
  snprintf(path, sizeof(path), "%s/%s.id", dir, name);
  _cleanup_free_ char *hex = slurp(path);
  char *id = NULL;
  assert_true(asprintf(&id, "SHA256:%s", hex) > 0);
  return id;
}

static struct sigstore_keys *keys_of(const char *name) {
  struct sigstore_keys *k = NULL;
  lib_error err = {0};
  assert_int_equal(sigstore_keys_new(&k, &err), 0);
  char path[512];
  snprintf(path, sizeof(path), "%s/%s.pub", dir, name);
  int r = sigstore_keys_add_file(k, path, &err);
  if (r != 0)
    fail_msg("%s: %s", path, err.message);
  return k;
}

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(dir))
    return -1;
  FILE *f = fopen(strcat(strcpy((char[512]){0}, dir), "/payload"), "we");
  if (!f)
    return -1;
  fputs(PAYLOAD, f);
  fclose(f);
  make_key("p256", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
  make_key("p256b", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
  make_key("p384", "-algorithm EC -pkeyopt ec_paramgen_curve:P-384");
  make_key("k256", "-algorithm EC -pkeyopt ec_paramgen_curve:secp256k1");
  make_key("rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048");
  make_key("rsa1024", "-algorithm RSA -pkeyopt rsa_keygen_bits:1024");
  make_key("ed", "-algorithm ED25519");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  run("rm -rf %s", dir);
  return 0;
}

static void verify_good(const char *name, int ed25519) {
  _cleanup_sigstore_keys_ struct sigstore_keys *k = keys_of(name);
  _cleanup_free_ char *sig = sign(name, ed25519);
  _cleanup_free_ char *want = openssl_key_id(name);
  char id[SIGSTORE_KEY_ID_MAX] = "";
  lib_error err = {0};
  int r = sigstore_verify_payload(k, PAYLOAD, strlen(PAYLOAD), sig, id, &err);
  if (r != 0)
    fail_msg("%s: %s", name, err.message);
  assert_string_equal(id, want);
  assert_string_equal(sigstore_keys_id(k, 0), want);
}

static void test_good_signatures(void **state) {
  (void)state;
  verify_good("p256", 0);
  verify_good("p384", 0);
  verify_good("rsa", 0);
  verify_good("ed", 1);
}

static void test_other_key_fails(void **state) {
  (void)state;
  _cleanup_sigstore_keys_ struct sigstore_keys *k = keys_of("p256");
  _cleanup_free_ char *sig = sign("p256b", 0);
  char id[SIGSTORE_KEY_ID_MAX] = "";
  lib_error err = {0};
  assert_int_equal(sigstore_verify_payload(k, PAYLOAD, strlen(PAYLOAD), sig, id, &err), -VMPULL_E_SIGNATURE);
  assert_int_equal(err.code, VMPULL_E_SIGNATURE);
  assert_non_null(strstr(err.message, sigstore_keys_id(k, 0)));
  assert_string_equal(id, "");

  /* Both keys in the set: the one that signed is named. */
  char path[512];
  snprintf(path, sizeof(path), "%s/p256b.pub", dir);
  assert_int_equal(sigstore_keys_add_file(k, path, &err), 0);
  assert_int_equal(sigstore_keys_count(k), 2);
  assert_int_equal(sigstore_verify_payload(k, PAYLOAD, strlen(PAYLOAD), sig, id, &err), 0);
  assert_string_equal(id, sigstore_keys_id(k, 1));
}

static void test_tampered_payload_fails(void **state) {
  (void)state;
  _cleanup_sigstore_keys_ struct sigstore_keys *k = keys_of("p256");
  _cleanup_free_ char *sig = sign("p256", 0);
  _cleanup_free_ char *tampered = strdup(PAYLOAD);
  char *at = strstr(tampered, "0123");
  at[0] = 'f';
  char id[SIGSTORE_KEY_ID_MAX] = "";
  lib_error err = {0};
  assert_int_equal(sigstore_verify_payload(k, tampered, strlen(tampered), sig, id, &err), -VMPULL_E_SIGNATURE);
  /* One byte less is another payload too. */
  assert_int_equal(sigstore_verify_payload(k, PAYLOAD, strlen(PAYLOAD) - 1, sig, id, &err), -VMPULL_E_SIGNATURE);
  assert_int_equal(sigstore_verify_payload(k, PAYLOAD, strlen(PAYLOAD), sig, id, &err), 0);
}

static void test_bad_base64_fails(void **state) {
  (void)state;
  _cleanup_sigstore_keys_ struct sigstore_keys *k = keys_of("p256");
  _cleanup_free_ char *sig = sign("p256", 0);
  char id[SIGSTORE_KEY_ID_MAX] = "";
  lib_error err = {0};
  const char *bad[] = {"", "!!!!", "abc", "ab=c", "a===", "YQ==YQ==", "YQ", "Y Q=="};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(sigstore_verify_payload(k, PAYLOAD, strlen(PAYLOAD), bad[i], id, &err), -VMPULL_E_SIGNATURE);
  }
  assert_non_null(strstr(err.message, "base64"));
  /* The signature with one character changed, and cut short. */
  _cleanup_free_ char *flipped = strdup(sig);
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  assert_int_equal(sigstore_verify_payload(k, PAYLOAD, strlen(PAYLOAD), flipped, id, &err), -VMPULL_E_SIGNATURE);
  _cleanup_free_ char *cut = strdup(sig);
  cut[strlen(cut) - 4] = 0;
  assert_int_equal(sigstore_verify_payload(k, PAYLOAD, strlen(PAYLOAD), cut, id, &err), -VMPULL_E_SIGNATURE);
  /* Line breaks are skipped, as Go's decoder skips them. */
  size_t n = strlen(sig);
  _cleanup_free_ char *wrapped = malloc(n + 3);
  memcpy(wrapped, sig, 8);
  memcpy(wrapped + 8, "\r\n", 2);
  memcpy(wrapped + 10, sig + 8, n - 8 + 1);
  assert_int_equal(sigstore_verify_payload(k, PAYLOAD, strlen(PAYLOAD), wrapped, id, &err), 0);
}

static void test_base64_decoder(void **state) {
  (void)state;
  const struct {
    const char *in, *out;
  } good[] = {{"", ""}, {"YQ==", "a"}, {"YWI=", "ab"}, {"YWJj", "abc"}, {"YWJjZA==", "abcd"}, {"+/+/", "\xfb\xff\xbf"}};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    unsigned char *out = NULL;
    size_t len = 0;
    assert_int_equal(sigstore_base64_decode(good[i].in, &out, &len), 0);
    assert_int_equal(len, strlen(good[i].out));
    assert_memory_equal(out, good[i].out, len);
    free(out);
  }
  const char *bad[] = {"Y", "YQ", "YQ=", "YQ=a", "Y===", "=YQ=", "YQ==YQ==", "YQ==\n=", "YW-j", "YW_j", "YWJj\x01"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    unsigned char *out = NULL;
    size_t len = 0;
    if (sigstore_base64_decode(bad[i], &out, &len) == 0)
      fail_msg("accepted %s", bad[i]);
  }
}

static void test_refused_keys(void **state) {
  (void)state;
  lib_error err = {0};
  _cleanup_sigstore_keys_ struct sigstore_keys *k = NULL;
  assert_int_equal(sigstore_keys_new(&k, &err), 0);
  char path[512];
  /* Wrong curve: secp256k1, which Go's x509 (and so podman) cannot read either. */
  snprintf(path, sizeof(path), "%s/k256.pub", dir);
  assert_int_equal(sigstore_keys_add_file(k, path, &err), -VMPULL_E_SIGNATURE);
  assert_non_null(strstr(err.message, path));
  assert_non_null(strstr(err.message, "curve"));
  snprintf(path, sizeof(path), "%s/rsa1024.pub", dir);
  assert_int_equal(sigstore_keys_add_file(k, path, &err), -VMPULL_E_SIGNATURE);
  assert_non_null(strstr(err.message, "2048"));
  /* A private key is not a public key. */
  snprintf(path, sizeof(path), "%s/p256.key", dir);
  assert_int_equal(sigstore_keys_add_file(k, path, &err), -VMPULL_E_SIGNATURE);
  assert_non_null(strstr(err.message, path));
  snprintf(path, sizeof(path), "%s/missing.pub", dir);
  assert_int_equal(sigstore_keys_add_file(k, path, &err), -VMPULL_E_NOT_FOUND);
  assert_non_null(strstr(err.message, path));
  assert_int_equal(sigstore_keys_add_data(k, "hello", 5, "keyData", &err), -VMPULL_E_SIGNATURE);
  assert_non_null(strstr(err.message, "keyData"));
  const char junk[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
  assert_int_equal(sigstore_keys_add_data(k, junk, strlen(junk), "keyData", &err), -VMPULL_E_SIGNATURE);
  assert_int_equal(sigstore_keys_count(k), 0);

  /* A signature on the wrong curve's key does not verify with a P-256 key, and no keys: no pass. */
  char id[SIGSTORE_KEY_ID_MAX] = "";
  _cleanup_free_ char *sig = sign("p384", 0);
  _cleanup_sigstore_keys_ struct sigstore_keys *p256 = keys_of("p256");
  assert_int_equal(sigstore_verify_payload(p256, PAYLOAD, strlen(PAYLOAD), sig, id, &err), -VMPULL_E_SIGNATURE);
  assert_int_equal(sigstore_verify_payload(k, PAYLOAD, strlen(PAYLOAD), sig, id, &err), -VMPULL_E_SIGNATURE);
  assert_non_null(strstr(err.message, "no public key"));
}

static void test_pkcs1_rsa_and_keydata(void **state) {
  (void)state;
  /* "RSA PUBLIC KEY" (PKCS #1), which cryptoutils also reads, with text before the block. */
  run("cd %s && (echo 'a comment'; openssl rsa -pubin -in rsa.pub -RSAPublicKey_out 2>/dev/null) > rsa1.pub", dir);
  _cleanup_sigstore_keys_ struct sigstore_keys *k = keys_of("rsa1");
  _cleanup_free_ char *sig = sign("rsa", 0);
  _cleanup_free_ char *want = openssl_key_id("rsa");
  char id[SIGSTORE_KEY_ID_MAX] = "";
  lib_error err = {0};
  assert_int_equal(sigstore_verify_payload(k, PAYLOAD, strlen(PAYLOAD), sig, id, &err), 0);
  assert_string_equal(id, want);

  char path[512];
  snprintf(path, sizeof(path), "%s/ed.pub", dir);
  _cleanup_free_ char *pem = slurp(path);
  _cleanup_sigstore_keys_ struct sigstore_keys *d = NULL;
  assert_int_equal(sigstore_keys_new(&d, &err), 0);
  assert_int_equal(sigstore_keys_add_data(d, pem, strlen(pem), "keyData", &err), 0);
  _cleanup_free_ char *edsig = sign("ed", 1);
  assert_int_equal(sigstore_verify_payload(d, PAYLOAD, strlen(PAYLOAD), edsig, id, &err), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_signatures),        cmocka_unit_test(test_other_key_fails),
      cmocka_unit_test(test_tampered_payload_fails), cmocka_unit_test(test_bad_base64_fails),
      cmocka_unit_test(test_base64_decoder),         cmocka_unit_test(test_refused_keys),
      cmocka_unit_test(test_pkcs1_rsa_and_keydata),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
#endif
