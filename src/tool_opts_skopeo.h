/* SPDX-License-Identifier: Apache-2.0 */
/* Options spelled as skopeo and podman spell them (tool_opts_skopeo.c): gathered while parsing,
 * turned into vmpull_pull_options once all are known. */
#ifndef VMPULL_TOOL_OPTS_SKOPEO_H
#define VMPULL_TOOL_OPTS_SKOPEO_H

#include "vmpull.h"

#include <sys/types.h>

struct cli_skopeo {
  const char *creds;       /* --creds USER[:PASSWORD] */
  const char *username;    /* --username */
  const char *password;    /* --password */
  int password_stdin;      /* --password-stdin */
  int no_creds;            /* --no-creds */
  const char *platform;    /* --platform OS/ARCH[/VARIANT] */
  char *owned;             /* "USER:PASSWORD" made here (opts->creds; wiped when freed) */
  const char *creds_flags; /* the flags that made opts->creds when not --creds ("--username/--password-stdin",
                              "--username/--password"), else NULL: what the library's messages call --creds */
  char platform_arch[64];  /* ARCH of --platform (opts->arch) */
};

/* The credentials skopeo's way: the flags' conflicts refused (as skopeo refuses them), then
 * opts->creds and opts->no_creds set; --password-stdin reads one line of stdin, --creds USER asks for
 * the password on the terminal (no echo) and is refused when stdin is not one. 0, or -1 with a
 * usage error printed (starting with cmd). Nothing here makes a request. */
int tool_creds_finish(struct cli_skopeo *c, const char *cmd, vmpull_pull_options *opts);
/* --platform linux/ARCH[/VARIANT]: opts->arch, which --arch (if given) must agree with; another OS, or a
 * variant beyond the architecture's baseline, is a usage error. 0, or -1 with the error printed. */
int tool_platform_apply(struct cli_skopeo *c, const char *cmd, vmpull_pull_options *opts);
void tool_creds_free(struct cli_skopeo *c);
/* message with each "--creds" (the library's name for opts->creds) as creds_flags: a new string, or NULL
 * when there is nothing to rename (creds_flags NULL, no "--creds" in it) or no memory (then show message). */
char *tool_creds_renamed(const char *creds_flags, const char *message);
/* One line from fd into buf (without its "\n" or "\r\n"): its length, or -1 (nothing read before the
 * end, a read error, or a line of cap bytes or more). */
ssize_t tool_read_line(int fd, char *buf, size_t cap);

#endif
