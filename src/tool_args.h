/* SPDX-License-Identifier: Apache-2.0 */
/* What the tool reads from its arguments (sizes, durations, booleans) and the usage error that
 * says a value was wrong. */
#ifndef VMPULL_TOOL_ARGS_H
#define VMPULL_TOOL_ARGS_H

#include <stdint.h>

/* "512M", "1G", "2T", "1024" -> bytes (K to P, "i" and "B" optional); -1 on a malformed size. */
int parse_size(const char *s, uint64_t *out);
/* "14d", "12h", "30m", "45s", "2w"; a bare number is seconds. -1 when malformed. */
int64_t parse_duration(const char *s);
/* true/false/1/0/yes/no; -1 when neither. */
int parse_bool(const char *s);

/* "CMD: OPTION takes TAKES, not 'VALUE'" (VALUE cleaned, as every line tool_error prints);
 * returns EXIT_USAGE. */
int tool_bad_value(const char *cmd, const char *option, const char *takes, const char *value);
/* "CMD: option 'OPTION' needs WHAT (see 'vmpull TOPIC --help')"; returns EXIT_USAGE. */
int tool_missing_value(const char *cmd, const char *topic, const char *option, const char *what);
/* --help or -h. */
int tool_is_help(const char *arg);

#endif
