/* SPDX-License-Identifier: Apache-2.0 */
#include "oci/oci_creds.h"

#include "base/error.h"
#include "base/json_util.h"
#include "base/platform.h"
#include "base/util.h"
#include "oci/oci_settings.h"
#include "oci/secret_json.h"

#include <ctype.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <time.h>

#define AUTH_FILE_MAX (1u << 20)
#define HELPER_ANSWER_MAX (64u << 10)
#define CONTAINERS_AUTH_FILES "containers-auth.json" /* registries.conf's name for the auth files */

void oci_creds_clear(struct oci_creds *c) {
  free_secret(c->user);
  free_secret(c->password);
  free(c->origin);
  *c = (struct oci_creds){0};
}

void oci_auth_lookup_clear(struct oci_auth_lookup *l) {
  oci_creds_clear(&l->creds);
  free(l->helper);
  *l = (struct oci_auth_lookup){0};
}

/* "https://index.docker.io/v1/" -> "docker.io"; "https://quay.io" -> "quay.io"; others unchanged. */
static char *normalize_key(const char *key) {
  if (!strncasecmp(key, "https://", 8))
    key += 8;
  else if (!strncasecmp(key, "http://", 7))
    key += 7;
  char *k = strdup(key);
  if (!k)
    return NULL;
  size_t len = strlen(k);
  while (len && k[len - 1] == '/')
    k[--len] = '\0';
  char *slash = strchr(k, '/');
  if (slash && (!strcmp(slash, "/v1") || !strcmp(slash, "/v2")))
    *slash = '\0';
  if (!strcmp(k, "index.docker.io") || !strcmp(k, "registry-1.docker.io")) {
    free(k);
    k = strdup("docker.io");
  }
  return k;
}

static int decode_auth(const char *b64, struct oci_creds *out) {
  size_t len = strlen(b64);
  if (len == 0 || len % 4 != 0 || len > 16384)
    return -1;
  unsigned char *raw = malloc(len / 4 * 3 + 1);
  if (!raw)
    return -1;
  int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
  if (n < 0) {
    free(raw);
    return -1;
  }
  /* EVP_DecodeBlock counts the padding as bytes. */
  if (b64[len - 1] == '=')
    n--;
  if (b64[len - 2] == '=')
    n--;
  raw[n] = '\0';
  char *colon = memchr(raw, ':', (size_t)n);
  if (!colon || memchr(raw, '\0', (size_t)n) || colon == (char *)raw) {
    secure_zero(raw, (size_t)n);
    free(raw);
    return -1;
  }
  *colon = '\0';
  out->user = strdup((char *)raw);
  out->password = strdup(colon + 1);
  secure_zero(raw, (size_t)n);
  free(raw);
  return out->user && out->password ? 0 : -1;
}

int oci_auth_file_lookup(const char *json, size_t len, const char *registry, const char *repository,
                         struct oci_auth_lookup *out, lib_error *err) {
  *out = (struct oci_auth_lookup){0};
  _cleanup_secret_json_ json_object *root = secret_json_parse(json, len);
  if (!root || !json_object_is_type(root, json_type_object))
    return error_set(err, VMPULL_E_AUTH, "not a JSON object");

  json_object *helpers;
  if (json_object_object_get_ex(root, "credHelpers", &helpers) && json_object_is_type(helpers, json_type_object)) {
    json_object_object_foreach(helpers, key, val) {
      _cleanup_free_ char *k = normalize_key(key);
      if (!k)
        return error_oom(err);
      if (!strcmp(k, registry) && json_object_is_type(val, json_type_string) && *json_object_get_string(val)) {
        out->helper = strdup(json_object_get_string(val));
        return out->helper ? 1 : error_oom(err);
      }
    }
  }

  json_object *auths;
  if (json_object_object_get_ex(root, "auths", &auths) && json_object_is_type(auths, json_type_object)) {
    /* Candidates from the most specific: registry/ns/repo, registry/ns, registry. */
    _cleanup_free_ char *want = xasprintf("%s/%s", registry, repository ? repository : "");
    if (!want)
      return error_oom(err);
    size_t wlen = strlen(want);
    while (wlen && want[wlen - 1] == '/')
      want[--wlen] = '\0';
    for (;;) {
      json_object_object_foreach(auths, key, val) {
        _cleanup_free_ char *k = normalize_key(key);
        if (!k)
          return error_oom(err);
        if (strcmp(k, want) != 0)
          continue;
        const char *b64 = secret_json_string(val, "auth");
        if (!b64 || !*b64)
          continue;
        if (decode_auth(b64, &out->creds) < 0) {
          oci_creds_clear(&out->creds);
          return error_set(err, VMPULL_E_AUTH, "the entry for %s is not base64 of user:password", want);
        }
        return 1;
      }
      char *slash = strrchr(want, '/');
      if (!slash || (size_t)(slash - want) < strlen(registry))
        break;
      *slash = '\0';
    }
  }

  const char *store = secret_json_string(root, "credsStore");
  if (store && *store) {
    out->helper = strdup(store);
    return out->helper ? 1 : error_oom(err);
  }
  return 0;
}

int oci_helper_answer_parse(const char *json, size_t len, struct oci_creds *out, lib_error *err) {
  *out = (struct oci_creds){0};
  _cleanup_secret_json_ json_object *root = secret_json_parse(json, len);
  const char *user = secret_json_string(root, "Username");
  const char *secret = secret_json_string(root, "Secret");
  if (!root || !user || !secret)
    return error_set(err, VMPULL_E_AUTH, "answer is not {\"Username\", \"Secret\"} JSON");
  if (!strcmp(user, "<token>"))
    return error_set(err, VMPULL_E_AUTH, "identity tokens are not supported");
  out->user = strdup(user);
  out->password = strdup(secret);
  if (!out->user || !out->password) {
    oci_creds_clear(out);
    return error_oom(err);
  }
  return 0;
}

/* Write to a helper that may already have exited, without dying of SIGPIPE. */
static int write_quiet(int fd, const char *buf, size_t len) {
  struct plat_sigpipe_guard guard;
  plat_sigpipe_block(&guard);
  int r = 0;
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      r = -errno;
      break;
    }
    buf += n;
    len -= (size_t)n;
  }
  plat_sigpipe_unblock(&guard);
  return r;
}

/* docker-credential-<helper> get, the registry on stdin, JSON on stdout. 1: found, 0: none. */
static int run_helper(const char *helper, const char *registry, struct oci_creds *out, lib_error *err) {
  for (const char *p = helper; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
      return error_set(err, VMPULL_E_AUTH, "credential helper name '%.64s' is not valid", helper);
  _cleanup_free_ char *prog = xasprintf("docker-credential-%s", helper);
  if (!prog)
    return error_oom(err);
  const char *const argv[] = {prog, "get", NULL};
  plat_pid pid;
  _cleanup_close_ int to_child = -1;
  _cleanup_close_ int from_child = -1;
  int sr = plat_spawn_piped(argv, &pid, &to_child, &from_child);
  if (sr < 0)
    return error_set_errno(err, VMPULL_E_AUTH, -sr, "credential helper %s", prog);

  (void)write_quiet(to_child, registry, strlen(registry));
  closep(&to_child);
  to_child = -1;
  size_t cap = HELPER_ANSWER_MAX, used = 0;
  char *buf = malloc(cap + 1);
  int read_err = buf ? 0 : ENOMEM;
  while (buf && used < cap) {
    ssize_t n = read(from_child, buf + used, cap - used);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      read_err = errno;
    if (n <= 0)
      break;
    used += (size_t)n;
  }
  int exited = 1, code = 0;
  /* Not to be waited for (a caller that ignores SIGCHLD): its answer is all there is to go by. */
  if (plat_wait(pid, &exited, &code) < 0)
    exited = 1, code = 0;
  int r;
  if (read_err) {
    r = error_set_errno(err, VMPULL_E_IO, read_err, "credential helper %s", prog);
  } else if (!exited || code != 0) {
    buf[used] = '\0';
    /* The helper's way of saying "nothing stored for this registry". */
    if (strstr(buf, "credentials not found"))
      r = 0;
    else
      r = error_set(err, VMPULL_E_AUTH, "credential helper %s failed (%s %d)", prog, exited ? "exit status" : "signal",
                    code);
  } else {
    r = oci_helper_answer_parse(buf, used, out, err);
    if (r < 0)
      r = error_wrap(err, "credential helper %s", prog);
    else
      r = 1;
  }
  if (buf) {
    secure_zero(buf, used);
    free(buf);
  }
  if (r == 1) {
    out->origin = strdup(prog);
    if (!out->origin) {
      oci_creds_clear(out);
      return error_oom(err);
    }
  }
  return r;
}

/* 1: creds from this file (or its helper), 0: the file says nothing for the registry (or is absent). */
static int creds_from_file(const char *path, int must_exist, const char *registry, const char *repository,
                           struct oci_creds *out, lib_error *err) {
  char *buf = NULL;
  size_t len = 0;
  int r = read_file_limited(path, AUTH_FILE_MAX, &buf, &len);
  if (r == -ENOENT && !must_exist)
    return 0;
  if (r < 0)
    return error_set_errno(err,
                           r == -ENOENT  ? VMPULL_E_NOT_FOUND
                           : r == -EFBIG ? VMPULL_E_LIMIT
                                         : VMPULL_E_IO,
                           -r, "auth file %s", path);
  _cleanup_(oci_auth_lookup_clear) struct oci_auth_lookup l = {0};
  r = oci_auth_file_lookup(buf, len, registry, repository, &l, err);
  secure_zero(buf, len);
  free(buf);
  if (r < 0)
    return error_wrap(err, "auth file %s", path);
  if (r == 0)
    return 0;
  if (l.helper)
    return run_helper(l.helper, registry, out, err);
  *out = l.creds;
  l.creds = (struct oci_creds){0};
  out->origin = strdup(path);
  if (!out->origin) {
    oci_creds_clear(out);
    return error_oom(err);
  }
  return 1;
}

/* The auth files: auth->authfile alone, else the usual ones in order (oci_creds.h). */
static int creds_from_auth_files(const struct registry_auth *auth, const char *registry, const char *repository,
                                 struct oci_creds *out, lib_error *err) {
  if (auth->authfile && *auth->authfile)
    return creds_from_file(auth->authfile, 1, registry, repository, out, err);

  const char *env = getenv("REGISTRY_AUTH_FILE");
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  const char *home = plat_home_dir();
  _cleanup_free_ char *runtime = xdg && *xdg ? xasprintf("%s/containers/auth.json", xdg) : NULL;
  _cleanup_free_ char *config = home && *home ? xasprintf("%s/.config/containers/auth.json", home) : NULL;
  _cleanup_free_ char *docker = home && *home ? xasprintf("%s/.docker/config.json", home) : NULL;
  const char *files[] = {env && *env ? env : NULL, runtime, config, docker};
  for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
    if (!files[i])
      continue;
    int r = creds_from_file(files[i], 0, registry, repository, out, err);
    if (r != 0)
      return r;
  }
  return 0;
}

int oci_creds_find(const struct registry_auth *auth, const char *registry, const char *repository,
                   struct oci_creds *out, lib_error *err) {
  *out = (struct oci_creds){0};
  if (auth->none && auth->creds && *auth->creds)
    return error_set(err, VMPULL_E_USAGE, "--creds and --no-creds both given");
  if (auth->none)
    return 0;
  if (auth->creds && *auth->creds) {
    const char *colon = strchr(auth->creds, ':');
    if (!colon || colon == auth->creds)
      return error_set(err, VMPULL_E_USAGE, "--creds takes USER:PASSWORD");
    out->user = strndup(auth->creds, (size_t)(colon - auth->creds));
    out->password = strdup(colon + 1);
    out->origin = strdup("--creds");
    if (!out->user || !out->password || !out->origin) {
      oci_creds_clear(out);
      return error_oom(err);
    }
    return 1;
  }
  if (!auth->credential_helpers || !auth->n_credential_helpers)
    return creds_from_auth_files(auth, registry, repository, out, err);
  /* registries.conf's credential-helpers, in order: the first that has credentials wins; one that
   * fails is passed over, and its error stands only when none had any (as containers/image does). */
  lib_error first = {0};
  for (size_t i = 0; i < auth->n_credential_helpers; i++) {
    const char *helper = auth->credential_helpers[i];
    int r = !strcmp(helper, CONTAINERS_AUTH_FILES) ? creds_from_auth_files(auth, registry, repository, out, err)
                                                   : run_helper(helper, registry, out, err);
    if (r > 0)
      return r;
    if (r < 0 && !first.code)
      first = *err;
  }
  if (first.code) {
    *err = first;
    return -first.code;
  }
  return 0;
}

char *oci_basic_authorization(const struct oci_creds *c) {
  _cleanup_secret_ char *pair = xasprintf("%s:%s", c->user, c->password);
  if (!pair)
    return NULL;
  size_t len = strlen(pair);
  size_t b64len = 4 * ((len + 2) / 3);
  char *out = malloc(6 + b64len + 1);
  if (!out)
    return NULL;
  memcpy(out, "Basic ", 6);
  EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)pair, (int)len);
  return out;
}
