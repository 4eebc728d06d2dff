/* SPDX-License-Identifier: Apache-2.0 */
/* Sigstore public keys and the check of a payload's signature, with OpenSSL's libcrypto (what
 * sigstore's LoadVerifier does in Go: SHA-256 for ECDSA and RSA PKCS #1 v1.5, pure Ed25519). */
#include "trust/sigstore.h"

#include "base/digest.h"
#include "base/evp_util.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>

DEFINE_CLEANUP_FUNC(BIO *, BIO_free)
DEFINE_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)

struct sigstore_key {
  EVP_PKEY *pkey;
  char id[SIGSTORE_KEY_ID_MAX];
};

struct sigstore_keys {
  struct sigstore_key *keys;
  size_t n, cap;
};

int sigstore_keys_new(struct sigstore_keys **out, lib_error *err) {
  *out = calloc(1, sizeof(**out));
  return *out ? 0 : error_oom(err);
}

void sigstore_keys_free(struct sigstore_keys *k) {
  if (!k)
    return;
  for (size_t i = 0; i < k->n; i++)
    EVP_PKEY_free(k->keys[i].pkey);
  free(k->keys);
  free(k);
}

size_t sigstore_keys_count(const struct sigstore_keys *k) {
  return k ? k->n : 0;
}

const char *sigstore_keys_id(const struct sigstore_keys *k, size_t i) {
  return k && i < k->n ? k->keys[i].id : NULL;
}

/* Go's x509 parses these curves, and sigstore verifies on any of them with SHA-256; P-224 and
 * curves Go cannot read (secp256k1, brainpool) are refused, as podman refuses them. */
static int curve_supported(const EVP_PKEY *pkey) {
  char name[64];
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) != 1)
    return 0;
  return !strcmp(name, "prime256v1") || !strcmp(name, "P-256") || !strcmp(name, "secp384r1") ||
         !strcmp(name, "P-384") || !strcmp(name, "secp521r1") || !strcmp(name, "P-521");
}

/* Whether pkey is a kind and size of key a signature may be checked with; else the reason. */
static const char *key_refused(const EVP_PKEY *pkey) {
  switch (EVP_PKEY_get_base_id(pkey)) {
  case EVP_PKEY_EC: return curve_supported(pkey) ? NULL : "an EC key on a curve other than P-256, P-384 or P-521";
  case EVP_PKEY_RSA: return EVP_PKEY_get_bits(pkey) >= 2048 ? NULL : "an RSA key shorter than 2048 bits";
  case EVP_PKEY_ED25519: return NULL;
  default: return "not an EC, RSA or Ed25519 public key";
  }
}

static int key_id_of(EVP_PKEY *pkey, char id[SIGSTORE_KEY_ID_MAX]) {
  unsigned char *der = NULL;
  int der_len = i2d_PUBKEY(pkey, &der);
  if (der_len <= 0)
    return -1;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  int ok = EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha256(), NULL) == 1 && md_len == 32;
  OPENSSL_free(der);
  if (!ok)
    return -1;
  memcpy(id, "SHA256:", 7);
  hex_lower_format(md, md_len, id + 7);
  return 0;
}

/* The key of the first PEM block in pem, as cryptoutils.UnmarshalPEMToPublicKey reads it (text
 * before the block and blocks after it are ignored, as there). */
static int parse_public_key(const void *pem, size_t len, const char *what, EVP_PKEY **out, lib_error *err) {
  if (len > SIGSTORE_KEY_FILE_MAX)
    return error_set(err, VMPULL_E_LIMIT, "public key %s: larger than %u bytes", what, SIGSTORE_KEY_FILE_MAX);
  _cleanup_(BIO_freep) BIO *bio = BIO_new_mem_buf(pem, (int)len);
  if (!bio)
    return error_oom(err);
  char *name = NULL, *header = NULL;
  unsigned char *data = NULL;
  long data_len = 0;
  if (PEM_read_bio(bio, &name, &header, &data, &data_len) != 1)
    return error_set(err, VMPULL_E_SIGNATURE, "public key %s: no PEM block", what);
  const unsigned char *p = data;
  EVP_PKEY *pkey = NULL;
  int known = 1;
  if (!strcmp(name, "PUBLIC KEY"))
    pkey = d2i_PUBKEY(NULL, &p, data_len);
  else if (!strcmp(name, "RSA PUBLIC KEY"))
    pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, data_len);
  else
    known = 0;
  int r = 0;
  if (!known)
    r = error_set(err, VMPULL_E_SIGNATURE, "public key %s: a PEM block of type \"%s\", not PUBLIC KEY", what, name);
  else if (!pkey || p != data + data_len)
    r = error_set(err, VMPULL_E_SIGNATURE, "public key %s: the %s block is not a valid public key", what, name);
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  if (r < 0) {
    EVP_PKEY_free(pkey);
    return r;
  }
  *out = pkey;
  return 0;
}

int sigstore_keys_add_data(struct sigstore_keys *k, const void *pem, size_t len, const char *what, lib_error *err) {
  if (k->n >= SIGSTORE_KEYS_MAX)
    return error_set(err, VMPULL_E_LIMIT, "public key %s: more than %d keys", what, SIGSTORE_KEYS_MAX);
  _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
  int r = parse_public_key(pem, len, what, &pkey, err);
  ERR_clear_error();
  if (r < 0)
    return r;
  const char *refused = key_refused(pkey);
  if (refused)
    return error_set(err, VMPULL_E_SIGNATURE, "public key %s: %s", what, refused);
  struct sigstore_key key = {0};
  if (key_id_of(pkey, key.id) < 0)
    return error_set(err, VMPULL_E_SIGNATURE, "public key %s: cannot encode it", what);
  if (k->n == k->cap) {
    size_t cap = k->cap ? k->cap * 2 : 4;
    struct sigstore_key *keys = realloc(k->keys, cap * sizeof(*keys));
    if (!keys)
      return error_oom(err);
    k->keys = keys;
    k->cap = cap;
  }
  key.pkey = TAKE_PTR(pkey);
  k->keys[k->n++] = key;
  return 0;
}

int sigstore_keys_add_file(struct sigstore_keys *k, const char *path, lib_error *err) {
  _cleanup_free_ char *pem = NULL;
  size_t len = 0;
  int r = read_file_or_fail(path, SIGSTORE_KEY_FILE_MAX, "public key", &pem, &len, err);
  if (r < 0)
    return r;
  return sigstore_keys_add_data(k, pem, len, path, err);
}

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

int sigstore_base64_decode(const char *s, unsigned char **out, size_t *out_len) {
  size_t len = strlen(s);
  _cleanup_free_ unsigned char *buf = malloc(len / 4 * 3 + 3);
  if (!buf)
    return -1;
  size_t n = 0;
  unsigned quad[4];
  int q = 0, pad = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\r' || c == '\n')
      continue;
    if (pad) {
      /* After the first '=' only the padding of the same quantum may follow. */
      if (c != '=' || q == 0)
        return -1;
      q++;
      pad++;
      if (q == 4)
        q = 0;
      continue;
    }
    if (c == '=') {
      if (q < 2)
        return -1;
      pad = 1;
      if (q == 3) {
        buf[n++] = (unsigned char)(quad[0] << 2 | quad[1] >> 4);
        buf[n++] = (unsigned char)(quad[1] << 4 | quad[2] >> 2);
        q = 0;
      } else {
        buf[n++] = (unsigned char)(quad[0] << 2 | quad[1] >> 4);
        q = 3;
      }
      continue;
    }
    int v = b64_value(c);
    if (v < 0)
      return -1;
    quad[q++] = (unsigned)v;
    if (q == 4) {
      buf[n++] = (unsigned char)(quad[0] << 2 | quad[1] >> 4);
      buf[n++] = (unsigned char)(quad[1] << 4 | quad[2] >> 2);
      buf[n++] = (unsigned char)(quad[2] << 6 | quad[3]);
      q = 0;
    }
  }
  if (q != 0)
    return -1;
  *out = TAKE_PTR(buf);
  *out_len = n;
  return 0;
}

static int key_verifies(EVP_PKEY *pkey, const unsigned char *sig, size_t sig_len, const void *payload, size_t len) {
  _cleanup_evp_md_ctx_ EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx)
    return 0;
  const EVP_MD *md = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
  EVP_PKEY_CTX *pctx = NULL;
  if (EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pkey) != 1)
    return 0;
  if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
    return 0;
  return EVP_DigestVerify(ctx, sig, sig_len, payload, len) == 1;
}

int sigstore_verify_payload(const struct sigstore_keys *k, const void *payload, size_t len, const char *sig_b64,
                            char key_id[SIGSTORE_KEY_ID_MAX], lib_error *err) {
  if (!k || k->n == 0)
    return error_set(err, VMPULL_E_SIGNATURE, "sigstore signature: no public key to verify it with");
  if (!sig_b64 || !*sig_b64)
    return error_set(err, VMPULL_E_SIGNATURE, "sigstore signature: empty");
  if (strlen(sig_b64) > SIGSTORE_SIG_B64_MAX)
    return error_set(err, VMPULL_E_SIGNATURE, "sigstore signature: longer than %u characters", SIGSTORE_SIG_B64_MAX);
  _cleanup_free_ unsigned char *sig = NULL;
  size_t sig_len = 0;
  if (sigstore_base64_decode(sig_b64, &sig, &sig_len) < 0)
    return error_set(err, VMPULL_E_SIGNATURE, "sigstore signature: not base64");
  if (sig_len == 0)
    return error_set(err, VMPULL_E_SIGNATURE, "sigstore signature: empty");
  for (size_t i = 0; i < k->n; i++) {
    int ok = key_verifies(k->keys[i].pkey, sig, sig_len, payload, len);
    /* A failed check leaves its reason on OpenSSL's error queue; the next caller must not read it. */
    ERR_clear_error();
    if (ok) {
      memcpy(key_id, k->keys[i].id, sizeof(k->keys[i].id));
      return 0;
    }
  }
  if (k->n == 1)
    return error_set(err, VMPULL_E_SIGNATURE, "sigstore signature: not made by public key %s over this payload",
                     k->keys[0].id);
  return error_set(err, VMPULL_E_SIGNATURE,
                   "sigstore signature: not made by any of the %zu public keys over this payload", k->n);
}
