/* SPDX-License-Identifier: Apache-2.0 */
/* Options spelled as skopeo and podman spell them: the credential flags (--username, --password,
 * --password-stdin, --no-creds, --creds USER asking for the password) become the library's one
 * "USER:PASSWORD" or no_creds, and --platform OS/ARCH[/VARIANT] becomes an architecture. */
#include "tool_opts_skopeo.h"

#include "tool.h"
#include "tool_platform.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PASSWORD_MAX 4096

void tool_creds_free(struct cli_skopeo *c) {
  if (c->owned) {
    explicit_bzero(c->owned, strlen(c->owned));
    free(c->owned);
  }
  c->owned = NULL;
}

ssize_t tool_read_line(int fd, char *buf, size_t cap) {
  size_t len = 0;
  int any = 0;
  for (;;) {
    char ch;
    ssize_t n = read(fd, &ch, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    any = 1;
    if (ch == '\n')
      break;
    if (len + 1 >= cap)
      return -1;
    buf[len++] = ch;
  }
  if (len && buf[len - 1] == '\r')
    len--;
  buf[len] = '\0';
  return any ? (ssize_t)len : -1;
}

char *tool_creds_renamed(const char *creds_flags, const char *message) {
  static const char name[] = "--creds";
  if (!creds_flags || !strstr(message, name))
    return NULL;
  size_t n = 0;
  for (const char *p = message; (p = strstr(p, name)); p += sizeof(name) - 1)
    n++;
  size_t len = strlen(message) + n * strlen(creds_flags) + 1;
  char *out = malloc(len), *w = out;
  if (!out)
    return NULL;
  for (const char *p = message, *hit;; p = hit + sizeof(name) - 1) {
    if (!(hit = strstr(p, name))) {
      memcpy(w, p, strlen(p) + 1);
      return out;
    }
    memcpy(w, p, (size_t)(hit - p));
    w += hit - p;
    memcpy(w, creds_flags, strlen(creds_flags));
    w += strlen(creds_flags);
  }
}

static int join(struct cli_skopeo *c, const char *cmd, const char *user, size_t user_len, const char *password) {
  if (asprintf(&c->owned, "%.*s:%s", (int)user_len, user, password) < 0) {
    c->owned = NULL;
    tool_error("%s: out of memory", cmd);
    return -1;
  }
  return 0;
}

int tool_creds_finish(struct cli_skopeo *c, const char *cmd, vmpull_pull_options *opts) {
  /* skopeo's rules (cmd/skopeo/utils.go): each way of giving credentials excludes the others. */
  if (c->no_creds && (c->creds || c->username || c->password || c->password_stdin)) {
    tool_error("%s: --no-creds and %s cannot be given together", cmd,
               c->creds      ? "--creds"
               : c->username ? "--username"
               : c->password ? "--password"
                             : "--password-stdin");
    return -1;
  }
  if (c->creds && (c->username || c->password || c->password_stdin)) {
    tool_error("%s: --creds and %s cannot be given together", cmd,
               c->username   ? "--username"
               : c->password ? "--password"
                             : "--password-stdin");
    return -1;
  }
  if (c->password && c->password_stdin) {
    tool_error("%s: --password and --password-stdin cannot be given together", cmd);
    return -1;
  }
  if (!c->username != !(c->password || c->password_stdin)) {
    tool_error("%s: %s", cmd,
               c->username ? "--username needs --password or --password-stdin"
                           : "--password and --password-stdin need --username");
    return -1;
  }
  if (c->username && (!*c->username || strchr(c->username, ':'))) {
    tool_error("%s: --username takes a user name without ':'", cmd);
    return -1;
  }
  opts->no_creds = c->no_creds;
  if (c->creds && !*c->creds) {
    tool_error("%s: --creds takes USER[:PASSWORD], not ''", cmd);
    return -1;
  }
  const char *user = c->username ? c->username : c->creds;
  if (!user)
    return 0;
  const char *colon = strchr(user, ':');
  if (c->creds && colon) { /* USER:PASSWORD as it is, checked by the library */
    opts->creds = c->creds;
    return 0;
  }
  char password[PASSWORD_MAX];
  if (c->username)
    c->creds_flags = c->password ? "--username/--password" : "--username/--password-stdin";
  if (c->password) {
    if (join(c, cmd, user, strlen(user), c->password) < 0)
      return -1;
  } else if (c->password_stdin) {
    ssize_t len = tool_read_line(STDIN_FILENO, password, sizeof(password));
    int r = len > 0 ? join(c, cmd, user, strlen(user), password) : -1;
    explicit_bzero(password, sizeof(password));
    if (len <= 0)
      tool_error("%s: --password-stdin read no password (one line on stdin)", cmd);
    if (r < 0)
      return -1;
  } else {
    /* --creds USER: ask on the terminal, as podman does, before any request is made. */
    if (!tool_is_terminal(STDIN_FILENO)) {
      tool_error("%s: --creds %s has no password and stdin is not a terminal to ask for it "
                 "(give USER:PASSWORD, --password-stdin or an auth file)",
                 cmd, "USER");
      return -1;
    }
    int r = tool_ask_password(cmd, password, sizeof(password));
    if (r == 0)
      r = join(c, cmd, user, strlen(user), password);
    explicit_bzero(password, sizeof(password));
    if (r < 0)
      return -1;
  }
  opts->creds = c->owned;
  return 0;
}

/* x86_64 for amd64, aarch64 for arm64 (as the library compares them); anything else as it is. */
static const char *arch_canonical(const char *arch) {
  if (!strcmp(arch, "amd64") || !strcmp(arch, "x86-64"))
    return "x86_64";
  if (!strcmp(arch, "arm64"))
    return "aarch64";
  return arch;
}

int tool_platform_apply(struct cli_skopeo *c, const char *cmd, vmpull_pull_options *opts) {
  const char *platform = c->platform;
  if (!platform)
    return 0;
  const char *slash = strchr(platform, '/');
  const char *arch = slash ? slash + 1 : "";
  const char *variant_slash = strchr(arch, '/');
  size_t arch_len = variant_slash ? (size_t)(variant_slash - arch) : strlen(arch);
  const char *variant = variant_slash ? variant_slash + 1 : "";
  if (!slash || !arch_len || strchr(variant, '/') || (variant_slash && !*variant)) {
    tool_error("%s: --platform takes OS/ARCH[/VARIANT] (e.g. linux/arm64), not '%s'", cmd, platform);
    return -1;
  }
  if ((size_t)(slash - platform) != 5 || strncmp(platform, "linux", 5) != 0) {
    tool_error("%s: --platform %s: machine images are linux ones (linux/ARCH)", cmd, platform);
    return -1;
  }
  char name[sizeof(c->platform_arch)];
  if (arch_len >= sizeof(name)) {
    tool_error("%s: --platform %s: architecture too long", cmd, platform);
    return -1;
  }
  memcpy(name, arch, arch_len);
  name[arch_len] = '\0';
  const char *canonical = arch_canonical(name);
  /* The variants containers/image takes as the architecture's baseline (containerd's
   * normalization): anything else would need a choice by variant, which vmpull does not make. */
  int baseline = !*variant ||
                 (!strcmp(canonical, "aarch64") &&
                  (!strcmp(variant, "v8") || !strcmp(variant, "8") || !strcmp(variant, "v8.0"))) ||
                 (!strcmp(canonical, "x86_64") && !strcmp(variant, "v1"));
  if (!baseline) {
    tool_error("%s: --platform %s: vmpull does not choose images by variant (only %s's baseline, e.g. linux/%s)", cmd,
               platform, name, name);
    return -1;
  }
  if (opts->arch && strcmp(arch_canonical(opts->arch), canonical) != 0) {
    tool_error("%s: --arch %s and --platform %s name different architectures", cmd, opts->arch, platform);
    return -1;
  }
  /* The architecture as typed: the library normalizes amd64/arm64 itself. */
  memcpy(c->platform_arch, name, arch_len + 1);
  if (!opts->arch)
    opts->arch = c->platform_arch;
  return 0;
}
