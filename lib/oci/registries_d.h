/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containers-registries.d(5): where a registry's simple-signing signatures live (lookaside) and
 * whether its sigstore attachments are read, as containers/image's docker/registries_d.go reads
 * the *.yaml files of the folder (unknown keys ignored, as yaml.v3 does; a scope defined twice
 * across files is an error; lookaside-staging is for writers and ignored here).
 */
#ifndef VMPULL_OCI_REGISTRIES_D_H
#define VMPULL_OCI_REGISTRIES_D_H

#include "base/error.h"

#include <stddef.h>

#define REGISTRIES_D_FILE_MAX (1u << 20)
#define REGISTRIES_D_FILES_MAX 256

struct registries_d_scope {
  char *name;                   /* a docker scope ("quay.io/podman"); NULL for default-docker */
  char *lookaside;              /* "lookaside" (else the deprecated "sigstore"), or NULL */
  int use_sigstore_attachments; /* -1: not said */
  char *file;                   /* where it was defined (messages) */
};

struct registries_d {
  char *dir;                       /* the folder read, or NULL when none exists */
  struct registries_d_scope *dflt; /* default-docker, or NULL (points into scopes) */
  struct registries_d_scope *scopes;
  size_t n_scopes;
};

/* dir when given, else $HOME/.config/containers/registries.d if it exists, else
 * /etc/containers/registries.d; a missing folder is an empty configuration. */
int registries_d_load(const char *dir, struct registries_d *out, lib_error *err);
/* Add one file's content (path names it) to c (the fuzz target's entry). */
int registries_d_parse(const char *buf, size_t len, const char *path, struct registries_d *c, lib_error *err);
void registries_d_clear(struct registries_d *c);

/* The lookaside base URL for a docker image: the scope named identity, then each of namespaces,
 * then default-docker; NULL when none sets one (containers/image then uses its built-in folder,
 * registries_d_builtin_lookaside). */
const char *registries_d_lookaside(const struct registries_d *c, const char *identity, const char *const *namespaces,
                                   size_t n_namespaces);
/* use-sigstore-attachments by the same lookup (default: no). */
int registries_d_use_sigstore(const struct registries_d *c, const char *identity, const char *const *namespaces,
                              size_t n_namespaces);
/* file:///var/lib/containers/sigstore for root, else file://$HOME/.local/share/containers/sigstore
 * (docker/registries_d.go's builtinDefaultLookasideStorageDir). The caller frees it. */
char *registries_d_builtin_lookaside(void);

#endif
