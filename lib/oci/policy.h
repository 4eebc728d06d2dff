/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containers-policy.json(5), read as containers/image's signature/policy_config.go reads it:
 * strictly (an unknown or misplaced field is an error), into typed requirements. Which scope
 * applies to an image is policy_requirements_for(); what a requirement asks of a signature is
 * policy_eval.c's job.
 */
#ifndef VMPULL_OCI_POLICY_H
#define VMPULL_OCI_POLICY_H

#include "base/error.h"

#include <stddef.h>

/* The largest policy.json vmpull reads. */
#define POLICY_FILE_MAX (4u << 20)

enum policy_req_type {
  POLICY_ACCEPT_ANYTHING, /* insecureAcceptAnything */
  POLICY_REJECT,          /* reject */
  POLICY_SIGNED_BY,       /* signedBy: simple signing (GPG) */
  POLICY_SIGSTORE_SIGNED, /* sigstoreSigned */
};

/* signedIdentity: which docker reference a signature must name. */
enum policy_identity_type {
  POLICY_MATCH_REPO_DIGEST_OR_EXACT, /* the default */
  POLICY_MATCH_REPOSITORY,
  POLICY_MATCH_EXACT,
  POLICY_EXACT_REFERENCE,  /* reference: dockerReference */
  POLICY_EXACT_REPOSITORY, /* reference: dockerRepository */
  POLICY_REMAP_IDENTITY,   /* prefix, signed_prefix */
};

struct policy_identity {
  enum policy_identity_type type;
  char *reference;
  char *prefix;
  char *signed_prefix;
};

/* signedBy's keyType. Only GPGKeys is implemented (as in containers/image); the others parse and
 * then reject, as there. */
enum policy_key_type { POLICY_KEY_GPG, POLICY_KEY_SIGNED_BY_GPG, POLICY_KEY_X509, POLICY_KEY_SIGNED_BY_X509 };

/* One key source: a path or bytes (keyData, base64 in the file, decoded here). */
struct policy_key {
  char *path;
  unsigned char *data;
  size_t data_len;
};

struct policy_req {
  enum policy_req_type type;
  enum policy_key_type key_type; /* signedBy */
  struct policy_key *keys;       /* keyPath, keyPaths, keyData (sigstore: keyDatas too) */
  size_t n_keys;
  const char *unsupported; /* sigstoreSigned with what vmpull does not check ("fulcio", "pki",
                              "rekorPublicKey..."): never accepted; NULL otherwise */
  struct policy_identity identity;
};

struct policy_reqs {
  struct policy_req *v;
  size_t n;
};

struct policy_scope {
  char *name; /* "" is the transport's default */
  struct policy_reqs reqs;
};

struct policy_transport {
  char *name; /* "docker", "oci", "oci-archive", ... */
  struct policy_scope *scopes;
  size_t n_scopes;
};

struct policy {
  char *path; /* the file it was read from (messages) */
  struct policy_reqs dflt;
  struct policy_transport *transports;
  size_t n_transports;
};

/* Parse buf[0, len) (path names it in messages). */
int policy_parse(const char *buf, size_t len, const char *path, struct policy *out, lib_error *err);
/* The policy podman would read: path when given, else $HOME/.config/containers/policy.json, else
 * /etc/containers/policy.json. 1 read, 0 no file exists at all (only when path is NULL). */
int policy_load(const char *path, struct policy *out, lib_error *err);
void policy_clear(struct policy *p);

/* The requirements of the most specific scope: the transport's scope named identity, then each of
 * namespaces in order, then its "" scope, then "default". *scope names it for messages
 * ("docker scope \"quay.io/a\"", "default"; a static or policy-owned string). */
const struct policy_reqs *policy_requirements_for(const struct policy *p, const char *transport, const char *identity,
                                                  const char *const *namespaces, size_t n_namespaces,
                                                  const char **scope_kind, const char **scope_name);

const char *policy_req_type_name(enum policy_req_type t);

#endif
