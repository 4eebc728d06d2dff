/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS material for one host from a certs.d folder, found and read as containers/image does
 * (docker/docker_client.go dockerCertDir, pkg/tlsclientconfig; containers-certs.d(5)): the
 * folder is --cert-dir, else the first of $HOME/.config/containers/certs.d/<host:port>,
 * /etc/containers/certs.d/<host:port>, /etc/docker/certs.d/<host:port> that exists. In it,
 * every *.crt holds CA certificates (added to the system's), and every X.cert with its X.key
 * is a client certificate; with several, the one whose issuer the server names in its
 * certificate request is presented (Go's crypto/tls rule), the first by file name when the
 * server names none.
 */
#ifndef VMPULL_CERTS_D_H
#define VMPULL_CERTS_D_H

#include "base/error.h"

#include <openssl/ssl.h>

#define CERTS_D_HOME ".config/containers/certs.d" /* below $HOME */
#define CERTS_D "/etc/containers/certs.d"
#define CERTS_D_DOCKER "/etc/docker/certs.d"
#define CERTS_D_FILE_MAX (1u << 20) /* bytes of one *.crt, *.cert or *.key */
#define CERTS_D_ENTRIES_MAX 256     /* names in one folder */

struct tls_pair {
  char *name;             /* "client.cert", for messages */
  X509 *cert;             /* the first certificate of X.cert */
  STACK_OF(X509) * chain; /* the others in X.cert (intermediates), or NULL */
  EVP_PKEY *key;          /* X.key, checked to match cert */
};

/* Shared by the store and each transfer that uses it (a transfer may outlive its store's
 * reference); read-only once loaded. */
struct tls_files {
  int refs;
  char *dir;            /* the folder read, or NULL when none exists */
  STACK_OF(X509) * cas; /* every certificate of every *.crt, or NULL */
  struct tls_pair *pairs;
  size_t n_pairs; /* in file-name order */
};

/* *out is NULL when no folder applies (dir not given and none of the three exists). A dir given
 * that cannot be read, a certificate without its key (or the reverse), a file that holds no PEM
 * certificate or key, and a key that does not match its certificate are errors naming the file. */
int tls_files_load(const char *dir, const char *host, struct tls_files **out, lib_error *err);
struct tls_files *tls_files_ref(struct tls_files *t);
void tls_files_unref(struct tls_files *t);

/* From libcurl's SSL_CTX callback: the CAs join the context's store (when verify_cas), and the
 * client certificate is chosen when the server asks for one. t must outlive the context (the
 * transfer holds a reference). 0, or -1 when OpenSSL refuses. */
int tls_files_apply(struct tls_files *t, SSL_CTX *ctx, int verify_cas);

#endif
