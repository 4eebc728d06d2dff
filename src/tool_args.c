/* SPDX-License-Identifier: Apache-2.0 */
#include "tool_args.h"

#include "tool.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* digits, then a unit: unit() gives the multiplier of what follows the digits (0: no unit it
 * knows); the product is at most max. 0, or -1 when malformed or too large. */
static int parse_with_unit(const char *s, uint64_t (*unit)(const char *suffix), uint64_t max, uint64_t *out) {
  if (!s || !isdigit((unsigned char)*s))
    return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno)
    return -1;
  uint64_t multiplier = unit(end);
  if (!multiplier || v > max / multiplier)
    return -1;
  *out = (uint64_t)v * multiplier;
  return 0;
}

/* "", or K, M, G, T, P in either case, then an optional "i" and an optional "B". */
static uint64_t size_unit(const char *s) {
  static const char prefixes[] = "KMGTP";
  if (!*s)
    return 1;
  const char *p = strchr(prefixes, toupper((unsigned char)*s));
  if (!p)
    return 0;
  s++;
  if (*s == 'i' || *s == 'I')
    s++;
  if (*s == 'B' || *s == 'b')
    s++;
  return *s ? 0 : (uint64_t)1 << (10 * (p - prefixes + 1));
}

/* "", or one of s, m, h, d, w. */
static uint64_t duration_unit(const char *s) {
  static const struct {
    char c;
    uint64_t seconds;
  } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
  if (!*s)
    return 1;
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && !s[1]; i++)
    if (*s == units[i].c)
      return units[i].seconds;
  return 0;
}

int parse_size(const char *s, uint64_t *out) {
  return parse_with_unit(s, size_unit, UINT64_MAX, out);
}

int64_t parse_duration(const char *s) {
  uint64_t v;
  return parse_with_unit(s, duration_unit, INT64_MAX, &v) < 0 ? -1 : (int64_t)v;
}

int parse_bool(const char *s) {
  if (!s || !strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes"))
    return 1;
  if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no"))
    return 0;
  return -1;
}

int tool_bad_value(const char *cmd, const char *option, const char *takes, const char *value) {
  tool_error("%s: %s takes %s, not '%s'", cmd, option, takes, value);
  return EXIT_USAGE;
}

int tool_missing_value(const char *cmd, const char *topic, const char *option, const char *what) {
  tool_error("%s: option '%s' needs %s (see 'vmpull %s --help')", cmd, option, what, topic);
  return EXIT_USAGE;
}

int tool_is_help(const char *arg) {
  return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}
