/* SPDX-License-Identifier: Apache-2.0 */
#include "oci/oci_ref.h"

#include "base/error.h"
#include "base/redact.h"
#include "base/util.h"
#include "oci/oci_digest.h"
#include "oci/oci_settings.h"

#include <ctype.h>
#include <strings.h>

#define REPO_NAME_MAX 255
#define TAG_MAX 128

void oci_dir_ref_clear(struct oci_dir_ref *r) {
  free(r->path);
  free(r->ref);
  *r = (struct oci_dir_ref){0};
}

const char *oci_layout_spec(const char *source, int archive) {
  const char *scheme = archive ? "oci-archive://" : "oci-dir://";
  /* skopeo's transport names are case-sensitive: "OCI:x" stays a file name. */
  const char *transport = archive ? "oci-archive:" : "oci:";
  if (!strncasecmp(source, scheme, strlen(scheme)))
    return source + strlen(scheme);
  if (!strncmp(source, transport, strlen(transport)) && strncmp(source + strlen(transport), "//", 2) != 0)
    return source + strlen(transport);
  return NULL;
}

/* "X:\" or "X:/", alone or after the "\\?\" (or "\\.\") of an extended-length path: the
 * length of that prefix (its colon included), else 0. */
static size_t windows_drive_prefix(const char *p) {
  size_t skip = 0;
  if ((p[0] == '\\' || p[0] == '/') && p[1] == p[0] && (p[2] == '?' || p[2] == '.') && p[3] == p[0])
    skip = 4;
  p += skip;
  if (isalpha((unsigned char)p[0]) && p[1] == ':' && (p[2] == '\\' || p[2] == '/'))
    return skip + 2;
  return 0;
}

const char *oci_layout_ref_colon(const char *spec, int windows_paths) {
  size_t skip = windows_paths ? windows_drive_prefix(spec) : 0;
  return strchr(spec + skip, ':');
}

int oci_dir_ref_parse(const char *source, struct oci_dir_ref *out, lib_error *err) {
  *out = (struct oci_dir_ref){0};
  const char *rest = oci_layout_spec(source, 0);
  if (!rest)
    return error_set(err, VMPULL_E_USAGE, "'%s' is not an oci-dir:// reference", source);
  const char *colon = oci_layout_ref_colon(rest, OCI_WINDOWS_PATHS);
  size_t path_len = colon ? (size_t)(colon - rest) : strlen(rest);
  if (path_len == 0)
    return error_set(err, VMPULL_E_USAGE, "%s: no layout folder given (oci-dir://PATH[:REF])", source);
  if (colon && !colon[1])
    return error_set(err, VMPULL_E_USAGE, "%s: empty REF after ':' (oci-dir://PATH[:REF])", source);
  out->path = strndup(rest, path_len);
  if (colon)
    out->ref = strdup(colon + 1);
  if (!out->path || (colon && !out->ref)) {
    oci_dir_ref_clear(out);
    return error_oom(err);
  }
  return 0;
}

void docker_ref_clear(struct docker_ref *r) {
  free(r->registry);
  free(r->api_host);
  free(r->repository);
  free(r->tag);
  free(r->digest);
  *r = (struct docker_ref){0};
}

static int dup_or_null(const char *s, char **out) {
  *out = s ? strdup(s) : NULL;
  return !s || *out ? 0 : -1;
}

int docker_ref_copy(const struct docker_ref *from, struct docker_ref *to, lib_error *err) {
  *to = (struct docker_ref){0};
  if (dup_or_null(from->registry, &to->registry) < 0 || dup_or_null(from->api_host, &to->api_host) < 0 ||
      dup_or_null(from->repository, &to->repository) < 0 || dup_or_null(from->tag, &to->tag) < 0 ||
      dup_or_null(from->digest, &to->digest) < 0) {
    docker_ref_clear(to);
    return error_oom(err);
  }
  return 0;
}

/* One path component: [a-z0-9]+ joined by ".", "_", "__" or runs of "-". */
static int repo_component_valid(const char *p, size_t len) {
  if (len == 0 || !isalnum((unsigned char)p[0]) || !isalnum((unsigned char)p[len - 1]))
    return 0;
  for (size_t i = 0; i < len;) {
    if (islower((unsigned char)p[i]) || isdigit((unsigned char)p[i])) {
      i++;
      continue;
    }
    size_t run = 0;
    if (p[i] == '-') {
      while (i + run < len && p[i + run] == '-')
        run++;
    } else if (p[i] == '_') {
      while (i + run < len && p[i + run] == '_' && run < 2)
        run++;
    } else if (p[i] == '.') {
      run = 1;
    } else {
      return 0;
    }
    i += run;
    if (i >= len || !(islower((unsigned char)p[i]) || isdigit((unsigned char)p[i])))
      return 0;
  }
  return 1;
}

static int repo_valid(const char *repo) {
  size_t total = strlen(repo);
  if (total == 0 || total > REPO_NAME_MAX)
    return 0;
  for (const char *p = repo;;) {
    size_t len = strcspn(p, "/");
    if (!repo_component_valid(p, len))
      return 0;
    if (!p[len])
      return 1;
    p += len + 1;
  }
}

/* host[:port] with DNS-style labels, or [IPv6]:port. */
static int domain_valid(const char *d, size_t len) {
  size_t i = 0;
  if (len && d[0] == '[') {
    while (i < len && d[i] != ']')
      i++;
    if (i >= len || i < 3)
      return 0;
    for (size_t j = 1; j < i; j++)
      if (!isxdigit((unsigned char)d[j]) && d[j] != ':' && d[j] != '.')
        return 0;
    i++;
  } else {
    size_t label = 0;
    for (; i < len && d[i] != ':'; i++) {
      if (isalnum((unsigned char)d[i])) {
        label++;
      } else if (d[i] == '-') {
        if (label == 0)
          return 0;
        label++;
      } else if (d[i] == '.') {
        if (label == 0 || d[i - 1] == '-')
          return 0;
        label = 0;
      } else {
        return 0;
      }
    }
    if (label == 0 || d[i - 1] == '-')
      return 0;
  }
  if (i == len)
    return 1;
  if (d[i] != ':' || i + 1 == len || len - i - 1 > 5)
    return 0;
  for (i++; i < len; i++)
    if (!isdigit((unsigned char)d[i]))
      return 0;
  return 1;
}

static int tag_valid(const char *t) {
  size_t len = strlen(t);
  if (len == 0 || len > TAG_MAX || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
    return 0;
  for (size_t i = 1; i < len; i++)
    if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
      return 0;
  return 1;
}

/* A docker reference's one '@' introduces its digest. Any other '@' is taken for the end of a
 * "user[:password]@" someone wrote in front (as in a URL): its '@', or NULL. *is_userinfo says
 * whether it looks like one (a host or a path follows it) rather than a bad digest. */
static const char *stray_at(const char *ref, int *is_userinfo) {
  *is_userinfo = 0;
  const char *at = strrchr(ref, '@');
  if (!at)
    return NULL;
  const char *end = ref + strlen(ref);
  if (oci_digest_valid(at + 1)) {
    end = at;
    const char *prev = NULL;
    for (const char *p = ref; p < at; p++)
      if (*p == '@')
        prev = p;
    if (!(at = prev))
      return NULL;
  }
  const char *after = at + 1;
  *is_userinfo = memchr(after, '/', (size_t)(end - after)) || domain_valid(after, (size_t)(end - after));
  return at;
}

char *docker_ref_redact(const char *ref) {
  int userinfo;
  const char *at = stray_at(ref, &userinfo);
  const char *colon = at ? memchr(ref, ':', (size_t)(at - ref)) : NULL;
  /* A bad digest after "quay.io:5000/repo" keeps its port; only a would-be password is masked. */
  if (!colon || (!userinfo && memchr(ref, '/', (size_t)(at - ref))))
    return strdup(ref);
  return xasprintf("%.*s:***%s", (int)(colon - ref), ref, at);
}

int docker_ref_parse(const char *ref, struct docker_ref *out, lib_error *err) {
  *out = (struct docker_ref){0};
  if (!ref || !*ref)
    return error_set(err, VMPULL_E_USAGE, "empty image reference");
  _cleanup_free_ char *name = strdup(ref);
  /* Messages show the reference without whatever a password may have been. */
  _cleanup_free_ char *shown = docker_ref_redact(ref);
  if (!name || !shown)
    return error_oom(err);
  int userinfo;
  if (stray_at(ref, &userinfo) && userinfo)
    return error_set(err, VMPULL_E_USAGE,
                     "%s: a docker:// reference has no user:password@ part (give credentials with --creds or "
                     "an auth file)",
                     shown);
  ref = shown; /* from here on, for messages only */

  char *at = strchr(name, '@');
  if (at) {
    *at = '\0';
    if (!oci_digest_valid(at + 1))
      return error_set(err, VMPULL_E_USAGE,
                       "%s: digest '%s' is not sha256:<64 lowercase hex> or sha512:<128 lowercase hex>", ref, at + 1);
  }
  char *slash = strrchr(name, '/');
  char *colon = strrchr(slash ? slash : name, ':');
  if (colon) {
    *colon = '\0';
    if (!tag_valid(colon + 1))
      return error_set(err, VMPULL_E_USAGE, "%s: tag '%s' is not valid ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})", ref,
                       colon + 1);
  }

  /* The first component is a registry when it looks like a host (as docker/reference decides). */
  const char *first_slash = strchr(name, '/');
  const char *repo = name;
  _cleanup_free_ char *registry = NULL;
  if (first_slash) {
    size_t n = (size_t)(first_slash - name);
    int is_host = memchr(name, '.', n) || memchr(name, ':', n) || (n == 9 && !strncmp(name, "localhost", 9));
    for (size_t i = 0; i < n && !is_host; i++)
      is_host = isupper((unsigned char)name[i]);
    if (is_host) {
      if (!domain_valid(name, n))
        return error_set(err, VMPULL_E_USAGE, "%s: registry '%.*s' is not a valid host[:port]", ref, (int)n, name);
      registry = strndup(name, n);
      repo = first_slash + 1;
    }
  }
  if (!registry)
    registry = strdup("docker.io");
  if (!registry)
    return error_oom(err);
  if (!strcasecmp(registry, "index.docker.io")) {
    free(registry);
    registry = strdup("docker.io");
    if (!registry)
      return error_oom(err);
  }
  int hub = !strcmp(registry, "docker.io");
  out->repository = hub && !strchr(repo, '/') ? xasprintf("library/%s", repo) : strdup(repo);
  if (!out->repository)
    return error_oom(err);
  if (!repo_valid(out->repository)) {
    docker_ref_clear(out);
    return error_set(err, VMPULL_E_USAGE,
                     "%s: repository '%s' is not valid (lowercase letters, digits and . _ - separators)", ref, repo);
  }
  out->api_host = strdup(hub ? "registry-1.docker.io" : registry);
  out->registry = TAKE_PTR(registry);
  if (at)
    out->digest = strdup(at + 1);
  else
    out->tag = strdup(colon ? colon + 1 : "latest");
  if (!out->api_host || (at ? !out->digest : !out->tag)) {
    docker_ref_clear(out);
    return error_oom(err);
  }
  return 0;
}

static int os_version_valid(const char *v) {
  size_t major = strspn(v, "0123456789");
  if (major == 0 || major > 4 || v[major] != '.')
    return 0;
  size_t minor = strspn(v + major + 1, "0123456789");
  return minor > 0 && minor <= 4 && v[major + 1 + minor] == '\0';
}

int docker_ref_for_source(const char *source, const struct oci_default_image *dflt, struct docker_ref *out,
                          lib_error *err) {
  const char *src = source ? source : "";
  const char *rest = strncasecmp(src, "docker://", 9) == 0 ? src + 9 : src;
  if (*rest)
    return docker_ref_parse(rest, out, err);
  if (dflt->image && *dflt->image) {
    const char *d = dflt->image;
    if (strncasecmp(d, "docker://", 9) == 0)
      d += 9;
    int r = docker_ref_parse(d, out, err);
    return r < 0 ? error_wrap(err, "default image") : r;
  }
  const char *version = dflt->os_version && *dflt->os_version ? dflt->os_version : OCI_DEFAULT_OS_VERSION;
  if (!os_version_valid(version))
    return error_set(err, VMPULL_E_USAGE, "--os-version takes X.Y (e.g. %s), not '%s'", OCI_DEFAULT_OS_VERSION,
                     version);
  _cleanup_free_ char *ref = xasprintf("%s:%s", OCI_DEFAULT_IMAGE_REPO, version);
  if (!ref)
    return error_oom(err);
  return docker_ref_parse(ref, out, err);
}

char *docker_ref_string(const struct docker_ref *r) {
  return xasprintf("docker://%s/%s%s%s", r->registry, r->repository, r->digest ? "@" : ":",
                   r->digest ? r->digest : r->tag);
}

char *redact_source(const char *source) {
  if (strncasecmp(source, "docker://", 9) == 0) {
    _cleanup_free_ char *ref = docker_ref_redact(source + 9);
    return ref ? xasprintf("%.9s%s", source, ref) : NULL;
  }
  return redact_url(source);
}
