/* SPDX-License-Identifier: Apache-2.0 */
/* Authentication to a registry: credentials for its host, a 401's challenge answered (a Bearer
 * token from the realm, or Basic), and the refusals worded for who refused (registry, token
 * service, mirror). */
#ifndef VMPULL_REGISTRY_AUTH_H
#define VMPULL_REGISTRY_AUTH_H

#include "oci/registry_store.h"

/* Look the credentials up once (oci_creds_find). */
int registry_lookup_creds(struct registry_store *s, lib_error *err);
/* Answer a 401 from its challenge: sets s->authorization. */
int registry_authenticate(struct registry_store *s, const struct http_response *resp, lib_error *err);
/* The registry, its token service (who), or a mirror answered status to what we sent: the
 * credentials it refused, or the credentials we lack and where they go (a mirror never gets --creds). */
int registry_auth_refused(struct registry_store *s, const char *who, long status, lib_error *err);

#endif
