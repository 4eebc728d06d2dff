/* SPDX-License-Identifier: Apache-2.0 */
/* What each command accepts, read from the option tables the parsers use (pull_longopts,
 * cache_longopts, inspect's and save's own), so that completions are made from the one source
 * and cannot drift from what is parsed. */
#ifndef VMPULL_TOOL_COMPLETION_H
#define VMPULL_TOOL_COMPLETION_H

#include <getopt.h>

/* The option tables (tool_opts.c, tool_opts_extra.c, tool_cache.c). */
extern const struct option pull_longopts[];
extern const struct option inspect_longopts[]; /* inspect's own, before the pull options */
extern const struct option save_longopts[];    /* save's own, before the pull options */
extern const struct option cache_longopts[];
/* Does `cache SUB` take --NAME? (prune takes all; list and verify not prune's limits) */
int tool_cache_option_applies(const char *sub, const char *name);

/* The help text of a topic ("pull", "cache", ...), or NULL (tool_help.c). */
const char *tool_help_text(const char *topic);

/* vmpull completion bash|zsh|fish */
int tool_completion(int argc, char **argv);

#endif
