/* SPDX-License-Identifier: Apache-2.0 */
#include "base/redact.h"

#include "base/util.h"

#include <strings.h>

char *redact_url(const char *source) {
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
