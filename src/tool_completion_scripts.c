/* SPDX-License-Identifier: Apache-2.0 */
/* The completion scripts of `vmpull completion bash|zsh|fish`, one emitter a shell, each written
 * from the model tool_completion.c holds (tool_completion_model.h): the commands, their options as
 * their help describes them, and what each option's value is. */
#include "tool_completion_model.h"

#include <stdio.h>
#include <string.h>

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
  for (size_t c = 0; c < completion_n_commands; c++)
    completion_each_option(&completion_commands[c], bash_case_option, &bc);
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

void completion_print_bash(void) {
  int first = 1;
  printf("# bash completion for vmpull                                  -*- shell-script -*-\n"
         "# SPDX-License-Identifier: Apache-2.0\n"
         "# Made by `vmpull completion bash` from the option tables vmpull parses with: do not edit.\n"
         "# Needs nothing from the bash-completion package.\n\n"
         "_vmpull_commands='");
  completion_each_top_command(bash_top_word, &first);
  printf("'\n\n# The options a command takes.\n_vmpull_options() {\n    case $1 in\n");
  for (size_t c = 0; c < completion_n_commands; c++) {
    first = 1;
    printf("        '%s') printf '%%s' '", completion_commands[c].name);
    completion_each_option(&completion_commands[c], bash_word, &first);
    printf("' ;;\n");
  }
  printf("    esac\n}\n\n"
         "# $1 takes the next word as its value: 0, and what to offer for $2 in COMPREPLY.\n"
         "_vmpull_value() {\n    case $1 in\n");
  for (size_t h = 0; h < completion_n_value_hints; h++) {
    if (completion_value_hints[h].kind != VALUE_WORDS)
      continue;
    int dup = 0;
    for (size_t k = 0; k < h; k++)
      dup |= completion_value_hints[k].kind == VALUE_WORDS &&
             !strcmp(completion_value_hints[k].words, completion_value_hints[h].words);
    if (dup)
      continue;
    char reply[256];
    snprintf(reply, sizeof(reply), "COMPREPLY=($(compgen -W '%s' -- \"$2\"))", completion_value_hints[h].words);
    bash_value_case(VALUE_WORDS, completion_value_hints[h].words, reply);
  }
  bash_value_case(VALUE_FILE, NULL, "COMPREPLY=($(compgen -f -- \"$2\"))");
  bash_value_case(VALUE_DIR, NULL, "COMPREPLY=($(compgen -d -- \"$2\"))");
  bash_value_case(VALUE_FREE, NULL, "COMPREPLY=()");
  printf("        *) return 1 ;;\n    esac\n    return 0\n}\n\n");
  /* An optional value (--tls-verify[=BOOL]) is only ever in the option's own word. */
  printf("# After --option=: also the values of options whose value may only follow '='.\n"
         "_vmpull_value_eq() {\n    case $1 in\n");
  struct bash_case optional = {0};
  for (size_t c = 0; c < completion_n_commands; c++)
    completion_each_option(&completion_commands[c], bash_optional_case, &optional);
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
  for (size_t c = 0; c < completion_n_commands; c++)
    if (completion_commands[c].cache_sub) {
      printf("%s%s", first ? "" : " ", completion_commands[c].cache_sub);
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
  for (size_t c = 0; c < completion_n_commands; c++) {
    if (completion_commands[c].operand == OPERAND_SOURCE || completion_commands[c].operand == OPERAND_SOURCE_DEST)
      printf("        '%s') _vmpull_source \"$cur\" ;;\n", completion_commands[c].name);
    else if (completion_commands[c].operand == OPERAND_SHELL)
      printf("        '%s') COMPREPLY=($(compgen -W 'bash zsh fish' -- \"$cur\")) ;;\n", completion_commands[c].name);
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

static void zsh_operands(const struct completion_command *c) {
  switch (c->operand) {
  case OPERAND_SOURCE: printf(" \\\n            '1:source:_vmpull_sources'"); break;
  case OPERAND_SOURCE_DEST:
    printf(" \\\n            '1:source:_vmpull_sources' '2:destination:_vmpull_sources'");
    break;
  case OPERAND_SHELL: printf(" \\\n            '1:shell:(bash zsh fish)'"); break;
  default: break;
  }
}

void completion_print_zsh(void) {
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
  completion_each_top_command(zsh_top_command, NULL);
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
  for (size_t c = 0; c < completion_n_commands; c++)
    if (completion_commands[c].cache_sub) {
      printf(" '%s[", completion_commands[c].cache_sub);
      zsh_text(completion_commands[c].summary);
      printf("]'");
    }
  printf("\n"
         "            return\n"
         "          fi\n"
         "          shift words\n"
         "          (( CURRENT-- ))\n"
         "          case $words[1] in\n");
  for (size_t c = 0; c < completion_n_commands; c++) {
    if (!completion_commands[c].cache_sub)
      continue;
    printf("            %s)\n              _arguments -s -S", completion_commands[c].cache_sub);
    completion_each_option(&completion_commands[c], zsh_spec, NULL);
    printf("\n              ;;\n");
  }
  printf("          esac\n"
         "          ;;\n");
  for (size_t c = 0; c < completion_n_commands; c++) {
    if (completion_commands[c].cache_sub || completion_commands[c].operand == OPERAND_COMMAND)
      continue;
    printf("        %s)\n          _arguments -s -S", completion_commands[c].name);
    completion_each_option(&completion_commands[c], zsh_spec, NULL);
    zsh_operands(&completion_commands[c]);
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
  const struct completion_command *c = data;
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

void completion_print_fish(void) {
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
  completion_each_top_command(fish_top_command, NULL);
  for (size_t c = 0; c < completion_n_commands; c++) {
    const struct completion_command *cmd = &completion_commands[c];
    if (cmd->cache_sub) {
      printf("complete -c vmpull -n '__vmpull_is cache' -a %s -d '", cmd->cache_sub);
      fish_text(cmd->summary, strlen(cmd->summary));
      printf("'\n");
    }
    completion_each_option(cmd, fish_option, (void *)cmd);
    switch (cmd->operand) {
    case OPERAND_SOURCE:
    case OPERAND_SOURCE_DEST:
      printf("complete -c vmpull -n '__vmpull_is %s' -F -a 'http:// https:// oci-dir:// oci-archive:// docker:// "
             "fcos:// oci: oci-archive:'\n",
             cmd->name);
      break;
    case OPERAND_COMMAND:
      printf("complete -c vmpull -n '__vmpull_is %s' -a '", cmd->name);
      completion_each_top_command(fish_top_word, NULL);
      printf("'\n");
      break;
    case OPERAND_SHELL: printf("complete -c vmpull -n '__vmpull_is %s' -a 'bash zsh fish'\n", cmd->name); break;
    default: break;
    }
  }
}
