/* SPDX-License-Identifier: Apache-2.0 */
/* vmpull completion bash|zsh|fish: the completion script, made from the option tables the parsers
 * use, so that a shell offers exactly what each command accepts (an option added to a table is
 * offered at once). What an option's value is (a file, a folder, one of some words) is told below;
 * its description is its line of the command's --help. */
#include "tool_completion.h"

#include "tool.h"
#include "tool_args.h"
#include "tool_completion_model.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const struct completion_value_hint completion_value_hints[] = {
    {"provider", VALUE_WORDS, "qemu applehv libkrun hyperv wsl"},
    {"arch", VALUE_WORDS, "x86_64 amd64 aarch64 arm64"},
    {"platform", VALUE_WORDS, "linux/amd64 linux/arm64 linux/arm64/v8"},
    {"progress", VALUE_WORDS, "auto always never json"},
    {"tls-verify", VALUE_WORDS, "true false"},
    {"output", VALUE_FILE, NULL},
    {"ca-cert", VALUE_FILE, NULL},
    {"authfile", VALUE_FILE, NULL},
    {"checksums", VALUE_FILE, NULL},
    {"checksums-signature", VALUE_FILE, NULL},
    {"keyring", VALUE_FILE, NULL},
    {"registries-conf", VALUE_FILE, NULL},
    {"signature-policy", VALUE_FILE, NULL},
    {"to-archive", VALUE_FILE, NULL},
    {"bmap", VALUE_FILE, NULL}, /* (issue 18's, when its table has it) */
    {"data-dir", VALUE_DIR, NULL},
    {"cache-dir", VALUE_DIR, NULL},
    {"cert-dir", VALUE_DIR, NULL},
    {"registries.d", VALUE_DIR, NULL},
};
const size_t completion_n_value_hints = N_ELEMENTS(completion_value_hints);

/* Options given more than once add up (the others: the last one counts). */
static const char *const repeatable[] = {"mirror"};

static const char *const shells[] = {"bash", "zsh", "fish"};

/* completion's own options: only --help. */
static const struct option completion_longopts[] = {
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

const struct completion_command completion_commands[] = {
    {"pull", NULL, "pull", {pull_longopts, NULL}, OPERAND_SOURCE, NULL},
    {"inspect", NULL, "inspect", {inspect_longopts, pull_longopts}, OPERAND_SOURCE, NULL},
    {"save", NULL, "save", {save_longopts, pull_longopts}, OPERAND_SOURCE_DEST, NULL},
    {"cache list", "list", "cache", {cache_longopts, NULL}, OPERAND_NONE, "list the cache's entries"},
    {"cache prune", "prune", "cache", {cache_longopts, NULL}, OPERAND_NONE, "remove old entries"},
    {"cache verify", "verify", "cache", {cache_longopts, NULL}, OPERAND_NONE, "re-hash every entry"},
    {"help", NULL, "help", {NULL, NULL}, OPERAND_COMMAND, NULL},
    {"completion", NULL, "completion", {completion_longopts, NULL}, OPERAND_SHELL, NULL},
};
const size_t completion_n_commands = N_ELEMENTS(completion_commands);

/* The line of a help text describing --name: "  -n, --name NAME   machine name ...". Fills desc and
 * metavar; 0 when the text has no such line. */
static int help_line(const char *text, const char *name, struct opt_info *info) {
  size_t nlen = strlen(name);
  for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
    const char *p = line;
    while (*p == ' ')
      p++;
    /* an option's own line starts it in the first columns; a wrapped description starts further in */
    if (p - line < 2 || p - line > 6)
      continue;
    if (p[0] == '-' && p[1] != '-' && p[2] == ',' && p[3] == ' ')
      p += 4;
    if (strncmp(p, "--", 2) || strncmp(p + 2, name, nlen) || !strchr(" =[\n", p[2 + nlen] ? p[2 + nlen] : '\n'))
      continue;
    p += 2 + nlen;
    const char *end = strchr(p, '\n');
    if (!end)
      end = p + strlen(p);
    const char *gap = strstr(p, "  ");
    if (!gap || gap > end)
      gap = end;
    const char *meta = p;
    while (meta < gap && strchr(" [=", *meta))
      meta++;
    size_t mlen = (size_t)(gap - meta);
    while (mlen && meta[mlen - 1] == ']')
      mlen--;
    if (mlen)
      snprintf(info->metavar, sizeof(info->metavar), "%.*s", (int)mlen, meta);
    while (gap < end && *gap == ' ')
      gap++;
    size_t dlen = (size_t)(end - gap);
    while (dlen && strchr(",;: ", gap[dlen - 1]))
      dlen--;
    snprintf(info->desc, sizeof(info->desc), "%.*s", (int)dlen, gap);
    return 1;
  }
  return 0;
}

static void describe(const struct completion_command *c, const struct option *o, struct opt_info *info) {
  memset(info, 0, sizeof(*info));
  info->o = o;
  info->short_opt = o->val > 0 && o->val < 128 && isalpha(o->val) ? (char)o->val : 0;
  if (!strcmp(o->name, "help"))
    info->short_opt = 0; /* -h is the top level's; a command's -h is not in its table */
  snprintf(info->metavar, sizeof(info->metavar), "value");
  for (size_t i = 0; i < N_ELEMENTS(completion_value_hints); i++)
    if (!strcmp(completion_value_hints[i].option, o->name)) {
      info->kind = completion_value_hints[i].kind;
      info->words = completion_value_hints[i].words;
    }
  for (size_t i = 0; i < N_ELEMENTS(repeatable); i++)
    info->repeat |= !strcmp(repeatable[i], o->name);
  if (!strcmp(o->name, "help")) {
    snprintf(info->desc, sizeof(info->desc), "show help for %s", c->name);
    return;
  }
  const char *own = tool_help_text(c->topic);
  if (!(own && help_line(own, o->name, info)))
    help_line(tool_help_text("pull"), o->name, info);
}

void completion_each_option(const struct completion_command *c, void (*fn)(const struct opt_info *, void *),
                            void *data) {
  for (size_t t = 0; t < N_ELEMENTS(c->tables) && c->tables[t]; t++)
    for (const struct option *o = c->tables[t]; o->name; o++) {
      int seen = 0;
      for (size_t u = 0; u <= t && !seen; u++)
        for (const struct option *p = c->tables[u]; p->name && p != o && !seen; p++)
          seen = !strcmp(p->name, o->name);
      if (seen || (c->cache_sub && !tool_cache_option_applies(c->cache_sub, o->name)))
        continue;
      struct opt_info info;
      describe(c, o, &info);
      fn(&info, data);
    }
}

void completion_each_top_command(void (*fn)(const char *name, size_t nlen, const char *summary, size_t slen, void *),
                                 void *data) {
  const char *s = strstr(tool_help_text(NULL), "Commands:\n");
  if (!s)
    return;
  s = strchr(s, '\n') + 1;
  /* The summaries start in one column, that of the first line's (after its two spaces). */
  const char *gap = strstr(s, "  ");
  gap = gap ? strstr(gap + 2, "  ") : NULL;
  if (!gap)
    return;
  size_t column = (size_t)(gap - s) + strspn(gap, " ");
  while (s[0] == ' ' && s[1] == ' ' && isalpha((unsigned char)s[2])) {
    const char *name = s + 2, *end = strchr(s, '\n');
    size_t nlen = strcspn(name, " \n");
    if (!end)
      end = s + strlen(s);
    const char *summary = (size_t)(end - s) > column ? s + column : end;
    fn(name, nlen, summary, (size_t)(end - summary), data);
    s = *end ? end + 1 : end;
  }
}

int tool_completion(int argc, char **argv) {
  if (argc >= 2 && tool_is_help(argv[1]))
    return tool_help("completion");
  if (argc != 2) {
    tool_error("completion: %s (see 'vmpull completion --help')",
               argc < 2 ? "missing SHELL: bash, zsh or fish" : "one SHELL expected");
    return EXIT_USAGE;
  }
  if (!strcmp(argv[1], shells[0]))
    completion_print_bash();
  else if (!strcmp(argv[1], shells[1]))
    completion_print_zsh();
  else if (!strcmp(argv[1], shells[2]))
    completion_print_fish();
  else if (argv[1][0] == '-')
    return tool_unknown_option("completion", argv[1], completion_longopts);
  else {
    tool_error("completion: unknown shell '%s' (bash, zsh or fish)", argv[1]);
    return EXIT_USAGE;
  }
  return 0;
}
