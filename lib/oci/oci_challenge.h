/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a registry's 401 asks for: the WWW-Authenticate challenge, and the token a Bearer realm
 * answers with. Pure parsers over a buffer (fuzz targets call them); a token is a secret.
 */
#ifndef VMPULL_OCI_CHALLENGE_H
#define VMPULL_OCI_CHALLENGE_H

#include "base/error.h"

#include <stddef.h>

enum oci_auth_scheme { OCI_AUTH_NONE, OCI_AUTH_BASIC, OCI_AUTH_BEARER };

struct oci_challenge {
  enum oci_auth_scheme scheme;
  char *realm;
  char *service;
  char *scope;
};
void oci_challenge_clear(struct oci_challenge *c);

/* Parse a WWW-Authenticate header (RFC 7235: several challenges, auth-params
 * as tokens or quoted strings). Bearer is preferred over Basic. Returns 0, or
 * VMPULL_E_AUTH when neither scheme is offered or the header is malformed. */
int oci_challenge_parse(const char *header, struct oci_challenge *out, lib_error *err);

/* The token from a token endpoint's JSON answer ("token" or "access_token"). */
int oci_token_parse(const char *json, size_t len, char **token, lib_error *err);

#endif
