/* SPDX-License-Identifier: Apache-2.0 */
#include "net/certs_d.h"

#include "base/error.h"
#include "base/naming.h"
#include "base/util.h"

#include <dirent.h>
#include <sys/stat.h>

void tls_files_clear(struct tls_files *t) {
  free(t->ca_cert);
  free(t->client_cert);
  free(t->client_key);
  *t = (struct tls_files){0};
}

int tls_files_load(const char *given, const char *host, struct tls_files *s, lib_error *err) {
  *s = (struct tls_files){0};
  _cleanup_free_ char *fallback = NULL;
  const char *dir = given && *given ? given : NULL;
  if (!dir) {
    fallback = xasprintf("%s/%s", CERTS_D, host);
    if (!fallback)
      return error_oom(err);
    struct stat st;
    if (stat(fallback, &st) < 0 || !S_ISDIR(st.st_mode))
      return 0;
    dir = fallback;
  }
  DIR *d = opendir(dir);
  if (!d)
    return error_set_errno(err, errno == ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, errno, "certificate folder %s",
                           dir);
  struct dirent *e;
  int r = 0;
  _cleanup_free_ char *first_crt = NULL;
  while (r == 0 && (e = readdir(d))) {
    const char *n = e->d_name;
    if (n[0] == '.')
      continue;
    if (ends_with_ci(n, ".crt")) {
      if (!strcmp(n, "ca.crt") || !first_crt) {
        free(first_crt);
        first_crt = xasprintf("%s/%s", dir, n);
        if (!first_crt)
          r = error_oom(err);
      }
    } else if (ends_with_ci(n, ".cert")) {
      if (s->client_cert) {
        r = error_set(err, VMPULL_E_USAGE, "certificate folder %s holds more than one client *.cert", dir);
        break;
      }
      s->client_cert = xasprintf("%s/%s", dir, n);
      s->client_key = xasprintf("%s/%.*s.key", dir, (int)(strlen(n) - 5), n);
      if (!s->client_cert || !s->client_key)
        r = error_oom(err);
      else if (access(s->client_key, R_OK) < 0)
        r = error_set(err, VMPULL_E_USAGE, "certificate folder %s: client certificate %s has no key %s", dir, n,
                      path_base_name(s->client_key));
    }
  }
  closedir(d);
  if (r < 0)
    return r;
  s->ca_cert = TAKE_PTR(first_crt);
  return 0;
}
