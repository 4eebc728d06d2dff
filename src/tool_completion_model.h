/* SPDX-License-Identifier: Apache-2.0 */
/* What the completion scripts are made from (tool_completion.c), for the emitters of each shell's
 * script (tool_completion_scripts.c): the commands with their option tables and operands, what each
 * option's value is, and each option as its command's help describes it. */
#ifndef VMPULL_TOOL_COMPLETION_MODEL_H
#define VMPULL_TOOL_COMPLETION_MODEL_H

#include <getopt.h>
#include <stddef.h>

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

enum value_kind { VALUE_FREE, VALUE_FILE, VALUE_DIR, VALUE_WORDS };

/* What the value of an option is; an option not listed takes any text. */
struct completion_value_hint {
  const char *option;
  enum value_kind kind;
  const char *words;
};
extern const struct completion_value_hint completion_value_hints[];
extern const size_t completion_n_value_hints;

enum operand { OPERAND_NONE, OPERAND_SOURCE, OPERAND_SOURCE_DEST, OPERAND_COMMAND, OPERAND_SHELL };

/* Every command line vmpull parses: its option tables (the command's own first), the help that
 * describes them, and what its operands are. */
struct completion_command {
  const char *name;      /* "pull", "cache prune" */
  const char *cache_sub; /* a cache command: what tool_cache_option_applies is asked with */
  const char *topic;     /* the --help describing its options (then pull's) */
  const struct option *tables[2];
  enum operand operand;
  const char *summary; /* a cache command's (the others': the main help's Commands) */
};
extern const struct completion_command completion_commands[];
extern const size_t completion_n_commands;

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

/* Calls fn for each option c accepts, in table order, each name once. */
void completion_each_option(const struct completion_command *c, void (*fn)(const struct opt_info *, void *),
                            void *data);
/* The main help's "Commands:" section: name and summary of each top-level command. */
void completion_each_top_command(void (*fn)(const char *name, size_t nlen, const char *summary, size_t slen, void *),
                                 void *data);

/* Each shell's script on stdout (tool_completion_scripts.c). */
void completion_print_bash(void);
void completion_print_zsh(void);
void completion_print_fish(void);

#endif
