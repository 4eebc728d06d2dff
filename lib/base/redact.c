/* SPDX-License-Identifier: Apache-2.0 */
#include "base/redact.h"

#include "oci/oci_ref.h"
#include "base/util.h"

#include <strings.h>

char *redact_source(const char *source) {
  /* A docker reference's '@' may introduce a digest: its own rules say which '@' ends a password. */
  if (strncasecmp(source, "docker://", 9) == 0) {
    _cleanup_free_ char *ref = docker_ref_redact(source + 9);
    return ref ? xasprintf("%.9s%s", source, ref) : NULL;
  }
  const char *scheme_end = strstr(source, "://");
  if (!scheme_end)
    return strdup(source);
  const char *auth = scheme_end + 3;
  size_t host_len = strcspn(auth, "/?#");
  /* The userinfo ends at the last '@' before the path. */
  const char *at = NULL;
  for (const char *p = auth; p < auth + host_len; p++)
    if (*p == '@')
      at = p;
  if (!at)
    return strdup(source);
  const char *colon = memchr(auth, ':', (size_t)(at - auth));
  if (!colon)
    return strdup(source);
  return xasprintf("%.*s:***%s", (int)(colon - source), source, at);
}
