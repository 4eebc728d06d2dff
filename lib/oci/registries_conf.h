/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containers-registries.conf(5), version 2 (and version 1's three lists, converted as
 * containers/image does), read from the same places and merged by the same rules as
 * containers/image's pkg/sysregistriesv2: the main file ($CONTAINERS_REGISTRIES_CONF, else
 * ~/.config/containers/registries.conf if it exists, else /etc/containers/registries.conf; or the
 * caller's), then the *.conf drop-ins of /etc/containers/registries.conf.d and
 * ~/.config/containers/registries.conf.d in lexical order (only the latter when the main file is
 * the one in $HOME), a drop-in's [[registry]] replacing the one of the same prefix. What vmpull
 * uses: the registries (prefix, location, insecure, blocked, mirrors), the credential helpers, and
 * the aliases and unqualified-search-registries, only to explain an error about a short name
 * (docker:// never applies them: Docker Hub's rule stands).
 */
#ifndef VMPULL_REGISTRIES_CONF_H
#define VMPULL_REGISTRIES_CONF_H

#include "base/error.h"

#include <stddef.h>

#define REGISTRIES_CONF_SYSTEM "/etc/containers/registries.conf"
#define REGISTRIES_CONF_SYSTEM_DIR "/etc/containers/registries.conf.d"
#define REGISTRIES_CONF_DROP_INS_MAX 256

enum pull_from_mirror { PULL_FROM_MIRROR_ALL, PULL_FROM_MIRROR_DIGEST_ONLY, PULL_FROM_MIRROR_TAG_ONLY };

struct regconf_endpoint {
  char *location; /* host[:port][/namespace], no trailing '/' */
  int insecure;   /* https without verification, then plain http */
  enum pull_from_mirror pull_from;
};

struct regconf_registry {
  char *prefix;   /* "quay.io", "quay.io/podman", "*.example.com" */
  char *location; /* "" for a wildcard prefix without one: the reference is left as it is */
  int insecure;
  int blocked;
  int mirror_by_digest_only;
  struct regconf_endpoint *mirrors;
  size_t n_mirrors;
  char *origin; /* the file that says so */
};

struct regconf_alias {
  char *name;   /* "fedora" */
  char *value;  /* "registry.fedoraproject.org/fedora"; "" takes an earlier alias back */
  char *origin; /* the file */
};

struct registries_conf {
  struct regconf_registry *registries; /* by prefix, each prefix once */
  size_t n_registries;
  char **search; /* unqualified-search-registries */
  size_t n_search;
  int search_set;
  char *search_origin;
  char **credential_helpers; /* in order; "containers-auth.json" stands for the auth files */
  size_t n_credential_helpers;
  int credential_helpers_set;
  struct regconf_alias *aliases;
  size_t n_aliases;
  char *sources; /* the files read, for messages ("none" when there were none) */
};

void registries_conf_clear(struct registries_conf *c);

/* One file's len bytes (path names it in messages); drop_in: version 1 is refused, as for drop-ins. */
int registries_conf_parse(const char *buf, size_t len, const char *path, int drop_in, struct registries_conf *out,
                          lib_error *err);
/* updates (a drop-in) over c, as containers/image merges: per prefix, per alias, and the lists
 * when the drop-in sets them. updates is emptied. */
int registries_conf_merge(struct registries_conf *c, struct registries_conf *updates, lib_error *err);
/* The host's configuration: main_file (as --registries-conf: it must exist) or the usual main
 * file, then the drop-ins. Errors name the file (VMPULL_E_CONFIG when it does not parse). */
int registries_conf_load(const char *main_file, struct registries_conf *out, lib_error *err);

/* The registry whose prefix matches name ("host/repository") longest, or NULL. */
const struct regconf_registry *registries_conf_find(const struct registries_conf *c, const char *name);

/* One place to fetch name from, in order (mirrors first, the registry or its location last). */
struct regconf_source {
  char *name;           /* "host[/ns]/repository" there */
  const char *location; /* the endpoint's location (reg's: the source lives no longer than reg) */
  int insecure;
  int mirror; /* 1 for a mirror */
};
/* Where name (with a digest or not) is fetched from per reg (NULL: name itself): its mirrors that
 * apply to this kind of reference, then its location. */
int registries_conf_sources(const struct regconf_registry *reg, const char *name, int by_digest,
                            struct regconf_source **out, size_t *n, lib_error *err);
void regconf_sources_free(struct regconf_source *s, size_t n);

/* The alias the files give short (or NULL), and its file in *origin. */
const struct regconf_alias *registries_conf_alias(const struct registries_conf *c, const char *short_name);

#endif
