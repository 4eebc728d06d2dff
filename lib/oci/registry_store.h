/* SPDX-License-Identifier: Apache-2.0 */
/* The registry store's state (docker://), shared by its requests (oci_registry.c) and its
 * authentication (registry_auth.c); private to the OCI floor. */
#ifndef VMPULL_REGISTRY_STORE_H
#define VMPULL_REGISTRY_STORE_H

#include "base/error.h"
#include "net/certs_d.h"
#include "net/http.h"
#include "oci/oci_creds.h"
#include "oci/oci_ref.h"
#include "oci/oci_store.h"

#include <curl/curl.h>

#define REGISTRY_ERROR_SHOWN 300 /* bytes of a registry's error text quoted in a message */

struct registry_store {
  struct oci_store base;
  struct docker_ref ref;
  char *shown_ref; /* "registry/repo:tag: " before messages when the source did not spell it out, else "" */
  struct http_config http;
  struct tls_files *tls; /* from the host's certs.d folder, or NULL */
  char *base_url;        /* "https://host" (or "http://host" after the insecure fallback) */
  int scheme_settled;
  int creds_state; /* 0: not looked up, 1: found, -1: none */
  int auth_failed; /* the last registry_get or blob request failed answering a 401: not about the document */
  struct oci_creds creds;
  char *authorization;     /* "Authorization: ..." header line, a secret */
  struct oci_settings set; /* a copy; its strings are borrowed: a store lives within one vmpull call */
  char *root_digest;
  char *root_type;
  char *blob_url; /* where the last blob request ended after its redirects (a signed URL: wiped) */
};

#define _cleanup_secret_headers_ _cleanup_headers_

/* curl_slist_append copies; the Authorization line is wiped from our copy by the caller. */
int registry_headers_add(struct curl_slist **l, const char *line, lib_error *err);
/* An unwanted status, worded with the registry's own error when it sent one. */
int registry_status_error(const struct http_response *resp, lib_error *err);

#endif
