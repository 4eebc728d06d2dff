/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the OCI floor needs to know of one call, typed: which image to pick, what `docker://` alone
 * stands for, how to reach and authenticate to a registry, and its mirrors. The api floor fills it
 * from the public options once (api/options.c), defaults applied; the stores copy what they keep.
 */
#ifndef VMPULL_OCI_SETTINGS_H
#define VMPULL_OCI_SETTINGS_H

#include "base/hooks.h"
#include "net/http.h"

#include <stddef.h>

/* Which entry of an index to pick (oci_select_init turns it into a struct oci_select). */
struct oci_selection {
  const char *arch;     /* x86_64/amd64, aarch64/arm64, ...; NULL or "": the host's */
  const char *provider; /* qemu, applehv, libkrun, hyperv, wsl; NULL or "": qemu */
};

/* What a bare `docker://` pulls (docker_ref_for_source). */
struct oci_default_image {
  const char *image;      /* replaces quay.io/podman/machine-os:<os_version>, or NULL */
  const char *os_version; /* X.Y, or NULL: OCI_DEFAULT_OS_VERSION */
};

/* The credentials a registry gets (oci_creds_find): none, else creds, else authfile, else the usual files. */
struct registry_auth {
  const char *creds;     /* "USER:PASSWORD" for the registry the reference names (never a mirror), or NULL */
  const char *authfile;  /* containers auth.json, or NULL */
  const char *mirror_of; /* a mirror's store (or a location's on another host): the registry it stands in for
                            (creds are then NULL), else NULL */
  int none;              /* --no-creds: nothing at all, auth files and helpers neither */
  /* registries.conf's credential-helpers, in order ("containers-auth.json": the auth files); none:
   * the auth files alone */
  char *const *credential_helpers;
  size_t n_credential_helpers;
};

struct registries_conf;

struct oci_settings {
  const char *source; /* as given: oci-dir://..., oci-archive://..., docker://... */
  struct oci_selection selection;
  struct oci_default_image default_image;
  struct http_config http; /* defaults applied; the pull's progress state is added per store */
  const char *cert_dir;    /* certs.d folder for every host, or NULL: each host's own (net/certs_d.h) */
  struct registry_auth auth;
  const char *const *mirrors; /* "REGISTRY=MIRROR" (oci_mirror.h) */
  size_t n_mirrors;
  int mirror_by_digest_only;
  int no_registries_conf;             /* read no registries.conf */
  const char *registries_conf;        /* the main registries.conf instead of the usual one, or NULL */
  const struct registries_conf *conf; /* what was read (oci_docker_store_open sets it), or NULL */
  int offline;                        /* the cache only */
  int insecure_by_conf;               /* http.tls_verify is off by registries.conf's insecure = true */
  struct call_hooks hooks;            /* warnings */
  /* Signature policy: policy.json and registries.d (oci/policy_eval.h), NULL: the usual places. */
  const char *signature_policy;
  const char *registries_d;
};

#endif
