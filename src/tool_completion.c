/* SPDX-License-Identifier: Apache-2.0 */
/* vmpull completion bash|zsh|fish: the completion script, made from the option tables the parsers
 * use, so that a shell offers exactly what each command accepts (an option added to a table is
 * offered at once). What an option's value is (a file, a folder, one of some words) is told below;
 * its description is its line of the command's --help. */
#include "tool_completion.h"

#include "tool.h"
#include "tool_args.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

enum value_kind { VALUE_FREE, VALUE_FILE, VALUE_DIR, VALUE_WORDS };

/* What the value of an option is; an option not listed takes any text. */
static const struct value_hint {
  const char *option;
  enum value_kind kind;
  const char *words;
} value_hints[] = {
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

/* Options given more than once add up (the others: the last one counts). */
static const char *const repeatable[] = {"mirror"};

static const char *const shells[] = {"bash", "zsh", "fish"};

enum operand { OPERAND_NONE, OPERAND_SOURCE, OPERAND_SOURCE_DEST, OPERAND_COMMAND, OPERAND_SHELL };

/* completion's own options: only --help. */
static const struct option completion_longopts[] = {
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Every command line vmpull parses: its option tables (the command's own first), the help that
 * describes them, and what its operands are. */
static const struct command {
  const char *name;      /* "pull", "cache prune" */
  const char *cache_sub; /* a cache command: what tool_cache_option_applies is asked with */
  const char *topic;     /* the --help describing its options (then pull's) */
  const struct option *tables[2];
  enum operand operand;
  const char *summary; /* a cache command's (the others': the main help's Commands) */
} commands[] = {
    {"pull", NULL, "pull", {pull_longopts, NULL}, OPERAND_SOURCE, NULL},
    {"inspect", NULL, "inspect", {inspect_longopts, pull_longopts}, OPERAND_SOURCE, NULL},
    {"save", NULL, "save", {save_longopts, pull_longopts}, OPERAND_SOURCE_DEST, NULL},
    {"cache list", "list", "cache", {cache_longopts, NULL}, OPERAND_NONE, "list the cache's entries"},
    {"cache prune", "prune", "cache", {cache_longopts, NULL}, OPERAND_NONE, "remove old entries"},
    {"cache verify", "verify", "cache", {cache_longopts, NULL}, OPERAND_NONE, "re-hash every entry"},
    {"help", NULL, "help", {NULL, NULL}, OPERAND_COMMAND, NULL},
    {"completion", NULL, "completion", {completion_longopts, NULL}, OPERAND_SHELL, NULL},
};

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* One option of one command, with what the help and the hints say of it. */
struct opt_info {
  const struct option *o;
  char short_opt; /* 0: none */
  enum value_kind kind;
  const char *words;
  int repeat;
  char desc[160];   /* the first line of its help, "" when the help has none */
  char metavar[48]; /* "NAME", "FILE|URL": what the help calls its value, else "value" */
};

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

static void describe(const struct command *c, const struct option *o, struct opt_info *info) {
  memset(info, 0, sizeof(*info));
  info->o = o;
  info->short_opt = o->val > 0 && o->val < 128 && isalpha(o->val) ? (char)o->val : 0;
  if (!strcmp(o->name, "help"))
    info->short_opt = 0; /* -h is the top level's; a command's -h is not in its table */
  snprintf(info->metavar, sizeof(info->metavar), "value");
  for (size_t i = 0; i < N_ELEMENTS(value_hints); i++)
    if (!strcmp(value_hints[i].option, o->name)) {
      info->kind = value_hints[i].kind;
      info->words = value_hints[i].words;
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

/* Calls fn for each option c accepts, in table order, each name once. */
static void each_option(const struct command *c, void (*fn)(const struct opt_info *, void *), void *data) {
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

/* The main help's "Commands:" section: name and summary of each top-level command. */
static void each_top_command(void (*fn)(const char *name, size_t nlen, const char *summary, size_t slen, void *),
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

/* ---- bash ---- */

static void bash_word(const struct opt_info *i, void *data) {
  int *first = data;
  if (i->short_opt)
    printf("%s-%c", *first ? "" : " ", i->short_opt);
  printf("%s--%s", *first && !i->short_opt ? "" : " ", i->o->name);
  *first = 0;
}

static void bash_top_word(const char *name, size_t nlen, const char *summary, size_t slen, void *data) {
  (void)summary;
  (void)slen;
  int *first = data;
  printf("%s%.*s", *first ? "" : " ", (int)nlen, name);
  *first = 0;
}

/* The options whose value is the next word, of one kind (and, for words, one list). */
struct bash_case {
  enum value_kind kind;
  const char *words;
  char seen[2048];    /* " --a --b ": each name once */
  char pattern[2048]; /* "-o | --output | ..." */
};

static void bash_case_add(struct bash_case *bc, const char *word) {
  size_t len = strlen(bc->pattern);
  snprintf(bc->pattern + len, sizeof(bc->pattern) - len, "%s%s", len ? " | " : "", word);
}

static void bash_case_option(const struct opt_info *i, void *data) {
  struct bash_case *bc = data;
  if (i->o->has_arg != required_argument || i->kind != bc->kind || (bc->words && strcmp(bc->words, i->words)))
    return;
  char key[80];
  snprintf(key, sizeof(key), " --%s ", i->o->name);
  if (strstr(bc->seen, key))
    return;
  size_t len = strlen(bc->seen);
  snprintf(bc->seen + len, sizeof(bc->seen) - len, "%s", key + (len ? 1 : 0));
  if (i->short_opt) {
    char s[3] = {'-', i->short_opt, 0};
    bash_case_add(bc, s);
  }
  bash_case_add(bc, key + 1);
  bc->pattern[strlen(bc->pattern) - 1] = '\0'; /* the key's trailing space */
}

static void bash_value_case(enum value_kind kind, const char *words, const char *reply) {
  struct bash_case bc = {.kind = kind, .words = words};
  for (size_t c = 0; c < N_ELEMENTS(commands); c++)
    each_option(&commands[c], bash_case_option, &bc);
  if (*bc.pattern)
    printf("        %s) %s ;;\n", bc.pattern, reply);
}

static void bash_optional_case(const struct opt_info *i, void *data) {
  struct bash_case *seen = data;
  char key[80];
  snprintf(key, sizeof(key), " --%s ", i->o->name);
  if (i->o->has_arg != optional_argument || strstr(seen->seen, key))
    return;
  size_t len = strlen(seen->seen);
  snprintf(seen->seen + len, sizeof(seen->seen) - len, "%s", key + (len ? 1 : 0));
  if (i->kind == VALUE_WORDS)
    printf("        --%s) COMPREPLY=($(compgen -W '%s' -- \"$2\")) ;;\n", i->o->name, i->words);
  else
    printf("        --%s) COMPREPLY=() ;;\n", i->o->name);
}

static void print_bash(void) {
  int first = 1;
  printf("# bash completion for vmpull                                  -*- shell-script -*-\n"
         "# SPDX-License-Identifier: Apache-2.0\n"
         "# Made by `vmpull completion bash` from the option tables vmpull parses with: do not edit.\n"
         "# Needs nothing from the bash-completion package.\n\n"
         "_vmpull_commands='");
  each_top_command(bash_top_word, &first);
  printf("'\n\n# The options a command takes.\n_vmpull_options() {\n    case $1 in\n");
  for (size_t c = 0; c < N_ELEMENTS(commands); c++) {
    first = 1;
    printf("        '%s') printf '%%s' '", commands[c].name);
    each_option(&commands[c], bash_word, &first);
    printf("' ;;\n");
  }
  printf("    esac\n}\n\n"
         "# $1 takes the next word as its value: 0, and what to offer for $2 in COMPREPLY.\n"
         "_vmpull_value() {\n    case $1 in\n");
  for (size_t h = 0; h < N_ELEMENTS(value_hints); h++) {
    if (value_hints[h].kind != VALUE_WORDS)
      continue;
    int dup = 0;
    for (size_t k = 0; k < h; k++)
      dup |= value_hints[k].kind == VALUE_WORDS && !strcmp(value_hints[k].words, value_hints[h].words);
    if (dup)
      continue;
    char reply[256];
    snprintf(reply, sizeof(reply), "COMPREPLY=($(compgen -W '%s' -- \"$2\"))", value_hints[h].words);
    bash_value_case(VALUE_WORDS, value_hints[h].words, reply);
  }
  bash_value_case(VALUE_FILE, NULL, "COMPREPLY=($(compgen -f -- \"$2\"))");
  bash_value_case(VALUE_DIR, NULL, "COMPREPLY=($(compgen -d -- \"$2\"))");
  bash_value_case(VALUE_FREE, NULL, "COMPREPLY=()");
  printf("        *) return 1 ;;\n    esac\n    return 0\n}\n\n");
  /* An optional value (--tls-verify[=BOOL]) is only ever in the option's own word. */
  printf("# After --option=: also the values of options whose value may only follow '='.\n"
         "_vmpull_value_eq() {\n    case $1 in\n");
  struct bash_case optional = {0};
  for (size_t c = 0; c < N_ELEMENTS(commands); c++)
    each_option(&commands[c], bash_optional_case, &optional);
  printf("        *) _vmpull_value \"$@\" ;;\n    esac\n}\n\n");
  printf("# A source: local paths, or the start of a scheme.\n"
         "_vmpull_source() {\n"
         "    local cur=$1\n"
         "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
         "    if [[ $cur != */* ]]; then\n"
         "        local schemes\n"
         "        schemes=($(compgen -W 'http:// https:// oci-dir:// oci-archive:// docker:// fcos:// oci: "
         "oci-archive:' -- \"$cur\"))\n"
         "        # \"docker://\" is a prefix to go on typing after, not a finished word\n"
         "        ((${#schemes[@]})) && compopt -o nospace 2>/dev/null\n"
         "        COMPREPLY+=(\"${schemes[@]}\")\n"
         "    fi\n"
         "}\n\n");
  printf("_vmpull() {\n"
         "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
         "    local cmd=\"\" i\n"
         "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "        if [[ ${COMP_WORDS[i]} != -* ]]; then\n"
         "            cmd=${COMP_WORDS[i]}\n"
         "            break\n"
         "        fi\n"
         "    done\n"
         "    if [[ -z $cmd ]]; then\n"
         "        if [[ $cur == -* ]]; then\n"
         "            COMPREPLY=($(compgen -W '--version --help -h' -- \"$cur\"))\n"
         "        else\n"
         "            COMPREPLY=($(compgen -W \"$_vmpull_commands\" -- \"$cur\"))\n"
         "        fi\n"
         "        return 0\n"
         "    fi\n"
         "    case $cmd in\n"
         "        help)\n"
         "            COMPREPLY=($(compgen -W \"$_vmpull_commands\" -- \"$cur\"))\n"
         "            return 0\n"
         "            ;;\n"
         "        cache)\n"
         "            if ((COMP_CWORD == i + 1)); then\n"
         "                COMPREPLY=($(compgen -W '");
  first = 1;
  for (size_t c = 0; c < N_ELEMENTS(commands); c++)
    if (commands[c].cache_sub) {
      printf("%s%s", first ? "" : " ", commands[c].cache_sub);
      first = 0;
    }
  printf("' -- \"$cur\"))\n"
         "                return 0\n"
         "            fi\n"
         "            cmd=\"cache ${COMP_WORDS[i + 1]}\"\n"
         "            ;;\n"
         "    esac\n"
         "    # --opt=value\n"
         "    if [[ $cur == --*=* ]]; then\n"
         "        local opt=${cur%%%%=*}\n"
         "        _vmpull_value_eq \"$opt\" \"${cur#*=}\" && COMPREPLY=(\"${COMPREPLY[@]/#/$opt=}\")\n"
         "        return 0\n"
         "    fi\n"
         "    # bash splits --opt=value at '=' when '=' is in COMP_WORDBREAKS\n"
         "    if [[ $cur == = || $prev == = ]]; then\n"
         "        local opt=${COMP_WORDS[COMP_CWORD - 1]} val=\"\"\n"
         "        [[ $cur == = ]] || { opt=${COMP_WORDS[COMP_CWORD - 2]}; val=$cur; }\n"
         "        _vmpull_value_eq \"$opt\" \"$val\"\n"
         "        return 0\n"
         "    fi\n"
         "    [[ $prev == -* ]] && _vmpull_value \"$prev\" \"$cur\" && return 0\n"
         "    if [[ $cur == -* ]]; then\n"
         "        COMPREPLY=($(compgen -W \"$(_vmpull_options \"$cmd\")\" -- \"$cur\"))\n"
         "        return 0\n"
         "    fi\n"
         "    case $cmd in\n");
  for (size_t c = 0; c < N_ELEMENTS(commands); c++) {
    if (commands[c].operand == OPERAND_SOURCE || commands[c].operand == OPERAND_SOURCE_DEST)
      printf("        '%s') _vmpull_source \"$cur\" ;;\n", commands[c].name);
    else if (commands[c].operand == OPERAND_SHELL)
      printf("        '%s') COMPREPLY=($(compgen -W 'bash zsh fish' -- \"$cur\")) ;;\n", commands[c].name);
  }
  printf("    esac\n"
         "    return 0\n"
         "}\n\n"
         "complete -o filenames -F _vmpull vmpull\n");
}

/* ---- zsh ---- */

/* Text inside a single-quoted _arguments spec: ' closes the quotes, [ ] : \ mean something to
 * _arguments. */
static void zsh_text(const char *s) {
  for (; *s; s++) {
    if (*s == '\'')
      fputs("'\\''", stdout);
    else if (strchr("[]:\\", *s))
      printf("\\%c", *s);
    else
      putchar(*s);
  }
}

static void zsh_action(const struct opt_info *i) {
  switch (i->kind) {
  case VALUE_FILE: fputs("_files", stdout); break;
  case VALUE_DIR: fputs("_files -/", stdout); break;
  case VALUE_WORDS: printf("(%s)", i->words); break;
  case VALUE_FREE: fputs(" ", stdout); break;
  }
}

static void zsh_spec_one(const struct opt_info *i, int is_short) {
  printf(" \\\n            '");
  if (!strcmp(i->o->name, "help"))
    fputs("(- *)", stdout);
  else if (i->short_opt)
    printf("(-%c --%s)", i->short_opt, i->o->name);
  if (i->repeat)
    putchar('*');
  if (is_short)
    printf("-%c%s", i->short_opt, i->o->has_arg == required_argument ? "+" : "");
  else
    printf("--%s%s", i->o->name,
           i->o->has_arg == required_argument   ? "="
           : i->o->has_arg == optional_argument ? "=-"
                                                : "");
  putchar('[');
  zsh_text(i->desc);
  putchar(']');
  if (i->o->has_arg != no_argument) {
    fputs(i->o->has_arg == optional_argument ? "::" : ":", stdout);
    zsh_text(i->metavar);
    putchar(':');
    zsh_action(i);
  }
  putchar('\'');
}

static void zsh_spec(const struct opt_info *i, void *data) {
  (void)data;
  if (i->short_opt)
    zsh_spec_one(i, 1);
  zsh_spec_one(i, 0);
}

static void zsh_top_command(const char *name, size_t nlen, const char *summary, size_t slen, void *data) {
  (void)data;
  printf("    '%.*s:", (int)nlen, name);
  char buf[160];
  snprintf(buf, sizeof(buf), "%.*s", (int)slen, summary);
  zsh_text(buf);
  printf("'\n");
}

static void zsh_operands(const struct command *c) {
  switch (c->operand) {
  case OPERAND_SOURCE: printf(" \\\n            '1:source:_vmpull_sources'"); break;
  case OPERAND_SOURCE_DEST:
    printf(" \\\n            '1:source:_vmpull_sources' '2:destination:_vmpull_sources'");
    break;
  case OPERAND_SHELL: printf(" \\\n            '1:shell:(bash zsh fish)'"); break;
  default: break;
  }
}

static void print_zsh(void) {
  printf("#compdef vmpull\n"
         "# SPDX-License-Identifier: Apache-2.0\n"
         "# Made by `vmpull completion zsh` from the option tables vmpull parses with: do not edit.\n\n"
         "_vmpull_sources() {\n"
         "  local -a schemes\n"
         "  schemes=('http\\://:URL' 'https\\://:URL' 'oci-dir\\://:OCI image layout folder'\n"
         "           'oci-archive\\://:OCI layout tar file' 'docker\\://:registry image reference'\n"
         "           'fcos\\://:Fedora CoreOS stream' 'oci\\::OCI image layout folder (skopeo)'\n"
         "           'oci-archive\\::OCI layout tar file (skopeo)')\n"
         "  _alternative 'files:local image file:_files' 'schemes:source kind:(( ${schemes} ))'\n"
         "}\n\n"
         "_vmpull() {\n"
         "  local curcontext=$curcontext state line\n"
         "  local -a commands\n"
         "  commands=(\n");
  each_top_command(zsh_top_command, NULL);
  printf("  )\n"
         "  _arguments -C \\\n"
         "    '(- *)--version[print the version]' \\\n"
         "    '(- *)'{-h,--help}'[show help]' \\\n"
         "    '1: :->command' \\\n"
         "    '*:: :->args' && return\n\n"
         "  case $state in\n"
         "    command)\n"
         "      _describe -t commands 'vmpull command' commands\n"
         "      ;;\n"
         "    args)\n"
         "      curcontext=${curcontext%%:*:*}:vmpull-$words[1]:\n"
         "      case $words[1] in\n"
         "        help)\n"
         "          _describe -t commands 'vmpull command' commands\n"
         "          ;;\n"
         "        cache)\n"
         "          if (( CURRENT == 2 )); then\n"
         "            _values 'cache command'");
  for (size_t c = 0; c < N_ELEMENTS(commands); c++)
    if (commands[c].cache_sub) {
      printf(" '%s[", commands[c].cache_sub);
      zsh_text(commands[c].summary);
      printf("]'");
    }
  printf("\n"
         "            return\n"
         "          fi\n"
         "          shift words\n"
         "          (( CURRENT-- ))\n"
         "          case $words[1] in\n");
  for (size_t c = 0; c < N_ELEMENTS(commands); c++) {
    if (!commands[c].cache_sub)
      continue;
    printf("            %s)\n              _arguments -s -S", commands[c].cache_sub);
    each_option(&commands[c], zsh_spec, NULL);
    printf("\n              ;;\n");
  }
  printf("          esac\n"
         "          ;;\n");
  for (size_t c = 0; c < N_ELEMENTS(commands); c++) {
    if (commands[c].cache_sub || commands[c].operand == OPERAND_COMMAND)
      continue;
    printf("        %s)\n          _arguments -s -S", commands[c].name);
    each_option(&commands[c], zsh_spec, NULL);
    zsh_operands(&commands[c]);
    printf("\n          ;;\n");
  }
  printf("      esac\n"
         "      ;;\n"
         "  esac\n"
         "}\n\n"
         "_vmpull \"$@\"\n");
}

/* ---- fish ---- */

/* A single-quoted fish string's content: \ and ' escaped. */
static void fish_text(const char *s, size_t len) {
  for (size_t i = 0; i < len && s[i]; i++) {
    if (s[i] == '\'' || s[i] == '\\')
      putchar('\\');
    putchar(s[i]);
  }
}

static void fish_option(const struct opt_info *i, void *data) {
  const struct command *c = data;
  printf("complete -c vmpull -n '__vmpull_is %s'", c->name);
  if (i->short_opt)
    printf(" -s %c", i->short_opt);
  printf(" -l %s", i->o->name);
  if (i->o->has_arg == required_argument) {
    switch (i->kind) {
    case VALUE_FILE: fputs(" -r -F", stdout); break;
    case VALUE_DIR: fputs(" -x -a '(__fish_complete_directories (commandline -ct))'", stdout); break;
    case VALUE_WORDS: printf(" -x -a '%s'", i->words); break;
    case VALUE_FREE: fputs(" -x", stdout); break;
    }
  }
  if (*i->desc) {
    fputs(" -d '", stdout);
    fish_text(i->desc, strlen(i->desc));
    putchar('\'');
  }
  putchar('\n');
}

static void fish_top_command(const char *name, size_t nlen, const char *summary, size_t slen, void *data) {
  (void)data;
  printf("complete -c vmpull -n \"__vmpull_is ''\" -a %.*s -d '", (int)nlen, name);
  fish_text(summary, slen);
  printf("'\n");
}

static void fish_top_word(const char *name, size_t nlen, const char *summary, size_t slen, void *data) {
  (void)summary;
  (void)slen;
  (void)data;
  printf(" %.*s", (int)nlen, name);
}

static void print_fish(void) {
  printf("# fish completion for vmpull\n"
         "# SPDX-License-Identifier: Apache-2.0\n"
         "# Made by `vmpull completion fish` from the option tables vmpull parses with: do not edit.\n\n"
         "# The command being completed: \"pull\", \"cache prune\", ... (\"\" before one is typed).\n"
         "function __vmpull_command\n"
         "    set -l words (commandline -opc)\n"
         "    set -e words[1]\n"
         "    set -l cmd\n"
         "    for w in $words\n"
         "        if string match -q -- '-*' $w\n"
         "            continue\n"
         "        end\n"
         "        set -a cmd $w\n"
         "        if test \"$cmd[1]\" != cache; or test (count $cmd) -ge 2\n"
         "            break\n"
         "        end\n"
         "    end\n"
         "    string join ' ' -- $cmd\n"
         "end\n\n"
         "function __vmpull_is\n"
         "    set -l cmd (__vmpull_command)\n"
         "    test \"$cmd\" = \"$argv\"\n"
         "end\n\n"
         "complete -c vmpull -f\n"
         "complete -c vmpull -n \"__vmpull_is ''\" -l version -d 'print the version'\n"
         "complete -c vmpull -n \"__vmpull_is ''\" -s h -l help -d 'show help'\n");
  each_top_command(fish_top_command, NULL);
  for (size_t c = 0; c < N_ELEMENTS(commands); c++) {
    const struct command *cmd = &commands[c];
    if (cmd->cache_sub) {
      printf("complete -c vmpull -n '__vmpull_is cache' -a %s -d '", cmd->cache_sub);
      fish_text(cmd->summary, strlen(cmd->summary));
      printf("'\n");
    }
    each_option(cmd, fish_option, (void *)cmd);
    switch (cmd->operand) {
    case OPERAND_SOURCE:
    case OPERAND_SOURCE_DEST:
      printf("complete -c vmpull -n '__vmpull_is %s' -F -a 'http:// https:// oci-dir:// oci-archive:// docker:// "
             "fcos:// oci: oci-archive:'\n",
             cmd->name);
      break;
    case OPERAND_COMMAND:
      printf("complete -c vmpull -n '__vmpull_is %s' -a '", cmd->name);
      each_top_command(fish_top_word, NULL);
      printf("'\n");
      break;
    case OPERAND_SHELL: printf("complete -c vmpull -n '__vmpull_is %s' -a 'bash zsh fish'\n", cmd->name); break;
    default: break;
    }
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
    print_bash();
  else if (!strcmp(argv[1], shells[1]))
    print_zsh();
  else if (!strcmp(argv[1], shells[2]))
    print_fish();
  else if (argv[1][0] == '-')
    return tool_unknown_option("completion", argv[1], completion_longopts);
  else {
    tool_error("completion: unknown shell '%s' (bash, zsh or fish)", argv[1]);
    return EXIT_USAGE;
  }
  return 0;
}
