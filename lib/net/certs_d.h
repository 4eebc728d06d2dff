/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS material for one host from a certs.d-style folder (the containers tools' convention:
 * /etc/containers/certs.d/<host:port>/ holding ca.crt or other *.crt, and a client *.cert with
 * its *.key).
 */
#ifndef VMPULL_CERTS_D_H
#define VMPULL_CERTS_D_H

#include "base/error.h"

#define CERTS_D "/etc/containers/certs.d"

struct tls_files {
  char *ca_cert;     /* ca.crt, else the first *.crt: adds to the system's CAs; or NULL */
  char *client_cert; /* the one *.cert, or NULL */
  char *client_key;  /* its *.key (checked readable), or NULL */
};
void tls_files_clear(struct tls_files *t);

/* Load from dir, or with dir NULL or "" from CERTS_D/<host> when that folder exists (else
 * nothing, no error). A dir given that cannot be read, two client certificates or a certificate
 * without its key are errors naming the folder. */
int tls_files_load(const char *dir, const char *host, struct tls_files *out, lib_error *err);

#endif
