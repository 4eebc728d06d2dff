/* SPDX-License-Identifier: Apache-2.0 */
/* Everything the tool writes about errors: "vmpull: ..." lines, --json errors, option hints.
 * Apart from main() so that the option parser links into unit tests on its own. */
#include "tool.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One line on stderr, cleaned as a whole (vmpull_text_clean) after formatting, as the library
 * cleans its messages: an argument or an environment variable echoed in it cannot reach the
 * terminal raw, whichever call site forgot. */
static void say(const char *event, const char *prefix, const char *fmt, va_list ap) {
  char *raw = NULL;
  int len = vasprintf(&raw, fmt, ap);
  char shown[4096];
  if (len < 0)
    snprintf(shown, sizeof(shown), "out of memory");
  else
    vmpull_text_clean(shown, sizeof(shown), raw, (size_t)len);
  free(raw);
  /* (--progress json: the line is an event, stderr gets no other kind) */
  if (!tool_events_message(event, shown))
    fprintf(stderr, "%s%s\n", prefix, shown);
}

void tool_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  say("error", "vmpull: ", fmt, ap);
  va_end(ap);
}

void tool_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  say("warning", "vmpull: warning: ", fmt, ap);
  va_end(ap);
}

void tool_print_json_to(FILE *f, json_object *o) {
  fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(o);
}

void tool_print_json(json_object *o) {
  tool_print_json_to(stdout, o);
}

void tool_json_error(const vmpull_error *err) {
  json_object *root = json_object_new_object();
  json_object *e = json_object_new_object();
  json_object_object_add(e, "code", json_object_new_string(vmpull_code_name(err->code)));
  json_object_object_add(e, "message", json_object_new_string(err->message));
  json_object_object_add(root, "error", e);
  tool_print_json(root);
}

size_t tool_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  size_t row[64];
  if (lb >= 63)
    return (size_t)-1;
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t best = diag + cost;
      if (row[j] + 1 < best)
        best = row[j] + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

int tool_unknown_option(const char *cmd, const char *arg, const struct option *longopts) {
  if (!arg)
    arg = "?";
  const char *name = arg;
  while (*name == '-')
    name++;
  char word[64];
  snprintf(word, sizeof(word), "%.*s", (int)strcspn(name, "="), name);
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  for (const struct option *o = longopts; o && o->name; o++) {
    size_t d = tool_edit_distance(word, o->name);
    if (d < best_d) {
      best_d = d;
      best = o->name;
    }
  }
  if (best && best_d <= 3 && arg[0] == '-' && arg[1] == '-')
    tool_error("%s: unknown option '%s' (did you mean '--%s'?)", cmd, arg, best);
  else
    tool_error("%s: unknown or incomplete option '%s' (see 'vmpull %s --help')", cmd, arg, cmd);
  return EXIT_USAGE;
}

json_object *tool_error_object(const vmpull_error *err) {
  json_object *root = json_object_new_object();
  json_object *e = json_object_new_object();
  json_object_object_add(e, "code", json_object_new_string(vmpull_code_name(err->code)));
  json_object_object_add(e, "message", json_object_new_string(err->message));
  json_object_object_add(root, "error", e);
  return root;
}
