/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry credentials and challenges: where credentials come from (--creds,
 * auth files, credential helpers) and what a 401's WWW-Authenticate asks for.
 * The parsers are pure functions over a buffer (fuzz targets call them).
 * Secrets are wiped before they are freed and never appear in a message.
 */
#ifndef VMPULL_OCI_AUTH_H
#define VMPULL_OCI_AUTH_H

#include "vmpull.h"

#include <stddef.h>

struct oci_creds {
  char *user;     /* secret-wiped on clear */
  char *password; /* secret-wiped on clear */
  char *origin;   /* where they came from, for messages: "--creds", "/path/auth.json", "docker-credential-pass" */
};
void oci_creds_clear(struct oci_creds *c);

/* What one auth file says for a registry. */
struct oci_auth_lookup {
  struct oci_creds creds; /* filled when an auths entry matched */
  char *helper;           /* else a credential helper to run (credHelpers[registry] or credsStore), or NULL */
};
void oci_auth_lookup_clear(struct oci_auth_lookup *l);

/* Look registry/repository up in an auth file (containers auth.json or docker
 * config.json). credHelpers[registry] first, then auths with the most
 * specific key ("registry/ns/repo", "registry/ns", "registry"; legacy
 * "https://index.docker.io/v1/" style keys too), then credsStore. Returns 1
 * when something was found, 0 when the file has nothing for the registry, or
 * a negative code (VMPULL_E_AUTH for a malformed file; the message never
 * quotes the file's content). */
int oci_auth_file_lookup(const char *json, size_t len, const char *registry, const char *repository,
                         struct oci_auth_lookup *out, vmpull_error *err);

/* The credentials a pull uses: auth->creds, else auth->authfile, else the first of
 * $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
 * ~/.config/containers/auth.json, ~/.docker/config.json that has an entry
 * (running docker-credential-<helper> get where it says so). Returns 1 with
 * *out filled, 0 when there are none, or a negative code. */
struct registry_auth;
int oci_creds_find(const struct registry_auth *auth, const char *registry, const char *repository,
                   struct oci_creds *out, vmpull_error *err);

/* Parse a credential helper's answer ({"Username": ..., "Secret": ...}). */
int oci_helper_answer_parse(const char *json, size_t len, struct oci_creds *out, vmpull_error *err);

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
int oci_challenge_parse(const char *header, struct oci_challenge *out, vmpull_error *err);

/* "Basic <base64(user:password)>" header value (a secret: free with free_secret). NULL on OOM. */
char *oci_basic_authorization(const struct oci_creds *c);

/* The token from a token endpoint's JSON answer ("token" or "access_token"). */
int oci_token_parse(const char *json, size_t len, char **token, vmpull_error *err);

#endif
