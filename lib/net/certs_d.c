/* SPDX-License-Identifier: Apache-2.0 */
#include "net/certs_d.h"

#include "base/dir_list.h"
#include "base/error.h"
#include "base/platform.h"
#include "base/util.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void pair_clear(struct tls_pair *p) {
  free(p->name);
  X509_free(p->cert);
  sk_X509_pop_free(p->chain, X509_free);
  EVP_PKEY_free(p->key);
}

static void tls_files_free(struct tls_files *t) {
  if (!t)
    return;
  free(t->dir);
  sk_X509_pop_free(t->cas, X509_free);
  for (size_t i = 0; i < t->n_pairs; i++)
    pair_clear(&t->pairs[i]);
  free(t->pairs);
  free(t);
}

struct tls_files *tls_files_ref(struct tls_files *t) {
  if (t)
    __atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
  return t;
}

void tls_files_unref(struct tls_files *t) {
  if (t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0)
    tls_files_free(t);
}

DEFINE_CLEANUP_FUNC(struct tls_files *, tls_files_unref)
DEFINE_CLEANUP_FUNC(BIO *, BIO_free)

/* The folder for host, as dockerCertDir picks it: the first of the three that exists; one that
 * cannot be looked at for lack of permission is passed over. NULL when none exists. */
static int find_folder(const char *host, char **out, lib_error *err) {
  *out = NULL;
  const char *home = plat_home_dir();
  const char *bases[] = {home && *home ? home : NULL, CERTS_D, CERTS_D_DOCKER};
  for (size_t i = 0; i < ARRAY_SIZE(bases); i++) {
    if (!bases[i])
      continue;
    _cleanup_free_ char *path = xasprintf(i == 0 ? "%s/" CERTS_D_HOME "/%s" : "%s/%s", bases[i], host);
    if (!path)
      return error_oom(err);
    struct stat st;
    if (stat(path, &st) == 0) {
      *out = TAKE_PTR(path);
      return 0;
    }
    if (errno != ENOENT && errno != EACCES)
      return error_set_errno(err, VMPULL_E_IO, errno, "certificate folder %s", path);
  }
  return 0;
}

/* name ends in suffix (case matters, as in Go); *stem is the length before it. */
static int has_suffix(const char *name, const char *suffix, size_t *stem) {
  size_t n = strlen(name), s = strlen(suffix);
  *stem = n >= s ? n - s : 0;
  return n >= s && memcmp(name + n - s, suffix, s) == 0;
}

static int listed(char **names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(names[i], name))
      return 1;
  return 0;
}

/* A memory BIO over the file's bytes; *buf (wiped by the caller: it may be a key) backs it. */
static int open_pem(const char *path, char **buf, size_t *len, BIO **bio, lib_error *err) {
  int r = read_file_limited(path, CERTS_D_FILE_MAX, buf, len);
  if (r == -EFBIG)
    return error_set(err, VMPULL_E_LIMIT, "%s is larger than %u bytes", path, CERTS_D_FILE_MAX);
  if (r < 0)
    return error_set_errno(err, -r == ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, -r, "%s", path);
  *bio = BIO_new_mem_buf(*buf, (int)*len);
  return *bio ? 0 : error_oom(err);
}

/* Every PEM certificate in path, appended to *certs. */
static int read_certs(const char *path, STACK_OF(X509) * *certs, lib_error *err) {
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  _cleanup_(BIO_freep) BIO *bio = NULL;
  int r = open_pem(path, &buf, &len, &bio, err);
  if (r < 0)
    return r;
  if (!*certs && !(*certs = sk_X509_new_null()))
    return error_oom(err);
  int found = 0;
  X509 *c;
  while ((c = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
    if (!sk_X509_push(*certs, c)) {
      X509_free(c);
      return error_oom(err);
    }
    found++;
  }
  ERR_clear_error();
  if (!found)
    return error_set(err, VMPULL_E_TLS, "%s holds no PEM certificate", path);
  return 0;
}

/* Never a prompt on the terminal for an encrypted key (OpenSSL's default): refused instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return -1;
}

static int read_key(const char *path, EVP_PKEY **key, lib_error *err) {
  char *buf = NULL;
  size_t len = 0;
  _cleanup_(BIO_freep) BIO *bio = NULL;
  int r = open_pem(path, &buf, &len, &bio, err);
  if (r == 0) {
    *key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    ERR_clear_error();
    if (!*key)
      r = error_set(err, VMPULL_E_TLS, "%s holds no PEM private key (or it is encrypted)", path);
  }
  if (buf) {
    secure_zero(buf, len);
    free(buf);
  }
  return r;
}

static int load_pair(struct tls_files *t, const char *dir, const char *cert_name, size_t stem, lib_error *err) {
  struct tls_pair *p = &t->pairs[t->n_pairs];
  *p = (struct tls_pair){0};
  t->n_pairs++; /* cleared with the rest from here on */
  _cleanup_free_ char *cert_path = xasprintf("%s/%s", dir, cert_name);
  _cleanup_free_ char *key_path = xasprintf("%s/%.*s.key", dir, (int)stem, cert_name);
  p->name = strdup(cert_name);
  if (!cert_path || !key_path || !p->name)
    return error_oom(err);
  STACK_OF(X509) *chain = NULL;
  int r = read_certs(cert_path, &chain, err);
  if (r < 0) {
    sk_X509_pop_free(chain, X509_free);
    return r;
  }
  p->cert = sk_X509_shift(chain);
  if (sk_X509_num(chain) > 0)
    p->chain = chain;
  else
    sk_X509_free(chain);
  r = read_key(key_path, &p->key, err);
  if (r < 0)
    return r;
  if (X509_check_private_key(p->cert, p->key) != 1) {
    ERR_clear_error();
    return error_set(err, VMPULL_E_TLS, "client key %s does not match certificate %s", key_path, cert_path);
  }
  return 0;
}

/* Read dir as tlsclientconfig.SetupCertificates does, in file-name order. */
static int read_folder(const char *dir, char **names, int n, struct tls_files *t, lib_error *err) {
  for (int i = 0; i < n; i++) {
    const char *name = names[i];
    size_t stem;
    if (has_suffix(name, ".crt", &stem)) {
      _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
      if (!path)
        return error_oom(err);
      int r = read_certs(path, &t->cas, err);
      if (r < 0)
        return r;
    } else if (has_suffix(name, ".cert", &stem)) {
      _cleanup_free_ char *key = xasprintf("%.*s.key", (int)stem, name);
      if (!key)
        return error_oom(err);
      if (!listed(names, n, key))
        return error_set(err, VMPULL_E_USAGE,
                         "certificate folder %s: client certificate %s has no key %s (CA certificates end in .crt)",
                         dir, name, key);
      int r = load_pair(t, dir, name, stem, err);
      if (r < 0)
        return r;
    } else if (has_suffix(name, ".key", &stem)) {
      _cleanup_free_ char *cert = xasprintf("%.*s.cert", (int)stem, name);
      if (!cert)
        return error_oom(err);
      if (!listed(names, n, cert))
        return error_set(err, VMPULL_E_USAGE, "certificate folder %s: key %s has no client certificate %s", dir, name,
                         cert);
    }
  }
  return 0;
}

int tls_files_load(const char *given, const char *host, struct tls_files **out, lib_error *err) {
  *out = NULL;
  _cleanup_free_ char *found = NULL;
  const char *dir = given && *given ? given : NULL;
  if (!dir) {
    /* The host names a folder: never one that climbs out of the certs.d tree. */
    if (!host || !*host || strchr(host, '/') || host[0] == '.')
      return 0;
    int r = find_folder(host, &found, err);
    if (r < 0 || !found)
      return r;
    dir = found;
  }
  char **names = NULL;
  int n = dir_list(dir, &names);
  if (n < 0) {
    /* Like containers/image, a found folder that vanished or may not be read is no folder. */
    if (found && (errno == ENOENT || errno == EACCES))
      return 0;
    return error_set_errno(err, errno == ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, errno, "certificate folder %s",
                           dir);
  }
  int r = 0;
  _cleanup_(tls_files_unrefp) struct tls_files *t = calloc(1, sizeof(*t));
  if (t)
    t->refs = 1;
  if (!t)
    r = error_oom(err);
  else if (n > CERTS_D_ENTRIES_MAX)
    r = error_set(err, VMPULL_E_LIMIT, "certificate folder %s holds more than %d names", dir, CERTS_D_ENTRIES_MAX);
  else if (!(t->dir = strdup(dir)) || !(t->pairs = calloc((size_t)n + 1, sizeof(*t->pairs))))
    r = error_oom(err);
  else
    r = read_folder(dir, names, n, t, err);
  dir_list_free(names, n);
  if (r < 0)
    return r;
  *out = TAKE_PTR(t);
  return 0;
}

/* Go's CertificateRequestInfo.SupportsCertificate, for the CA names: any certificate of the
 * chain issued by one the server names, or any chain when it names none. */
static int pair_asked_for(const struct tls_pair *p, const STACK_OF(X509_NAME) * asked) {
  int n = asked ? sk_X509_NAME_num(asked) : 0;
  if (n <= 0)
    return 1;
  int chain_len = p->chain ? sk_X509_num(p->chain) : 0;
  for (int c = -1; c < chain_len; c++) {
    const X509_NAME *issuer = X509_get_issuer_name(c < 0 ? p->cert : sk_X509_value(p->chain, c));
    for (int i = 0; i < n; i++)
      if (X509_NAME_cmp(issuer, sk_X509_NAME_value(asked, i)) == 0)
        return 1;
  }
  return 0;
}

/* Called when the server asks for a client certificate: the first pair it accepts. None
 * fits: none is sent (Go's getClientCertificate), and the server decides. */
static int choose_client_cert(SSL *ssl, void *arg) {
  const struct tls_files *t = arg;
  const STACK_OF(X509_NAME) *asked = SSL_get_client_CA_list(ssl);
  for (size_t i = 0; i < t->n_pairs; i++) {
    const struct tls_pair *p = &t->pairs[i];
    if (pair_asked_for(p, asked))
      return SSL_use_cert_and_key(ssl, p->cert, p->key, p->chain, 1) == 1 ? 1 : 0;
  }
  return 1;
}

int tls_files_apply(struct tls_files *t, SSL_CTX *ctx, int verify_cas) {
  if (verify_cas && t->cas) {
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    if (!store)
      return -1;
    for (int i = 0; i < sk_X509_num(t->cas); i++)
      if (X509_STORE_add_cert(store, sk_X509_value(t->cas, i)) != 1)
        return -1;
  }
  if (t->n_pairs)
    SSL_CTX_set_cert_cb(ctx, choose_client_cert, t);
  return 0;
}
