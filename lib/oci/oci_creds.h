/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry credentials: where they come from (--creds, auth files, credential helpers). The
 * parsers are pure functions over a buffer (fuzz targets call them). Secrets are wiped before
 * they are freed and never appear in a message. What a 401 asks for is oci_challenge.h's.
 */
#ifndef VMPULL_OCI_CREDS_H
#define VMPULL_OCI_CREDS_H

#include "base/error.h"

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
                         struct oci_auth_lookup *out, lib_error *err);

/* The credentials a pull uses: none with auth->none, else auth->creds, else auth->authfile, else the first of
 * $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
 * ~/.config/containers/auth.json, ~/.docker/config.json that has an entry
 * (running docker-credential-<helper> get where it says so). With registries.conf's
 * credential-helpers (auth->credential_helpers), those in order instead, the name
 * "containers-auth.json" standing for the auth files. Returns 1 with
 * *out filled, 0 when there are none, or a negative code. */
struct registry_auth;
int oci_creds_find(const struct registry_auth *auth, const char *registry, const char *repository,
                   struct oci_creds *out, lib_error *err);

/* Parse a credential helper's answer ({"Username": ..., "Secret": ...}). */
int oci_helper_answer_parse(const char *json, size_t len, struct oci_creds *out, lib_error *err);

/* "Basic <base64(user:password)>" header value (a secret: free with free_secret). NULL on OOM. */
char *oci_basic_authorization(const struct oci_creds *c);

#endif
