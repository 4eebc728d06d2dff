/* SPDX-License-Identifier: Apache-2.0 */
/* Source classification, the output naming rule, and the local-file resolver. */
#include <ctype.h>

#include "base/error.h"
#include "resolve/resolve.h"
#include "base/util.h"

#define DEFAULT_MACHINE "podman-machine-default" /* podman's, whose data folder pulls usually fill */

/* podman's rule for a machine name */
#define MACHINE_NAME_RULE "[a-zA-Z0-9][a-zA-Z0-9_.-]*"

static const struct {
  const char *prefix;
  enum source_kind kind;
  const char *name;
} schemes[] = {
    {"http://", SOURCE_HTTP, "http"},           {"https://", SOURCE_HTTP, "https"},
    {"oci-dir://", SOURCE_OCI_DIR, "oci-dir"},  {"docker://", SOURCE_DOCKER, "docker"},
    {"fcos://", SOURCE_FCOS, "fcos"},           {"oci-archive://", SOURCE_OCI_ARCHIVE, "oci-archive"},
    {"file://", SOURCE_FILE, "file"},
};

const char *source_kind_name(enum source_kind kind) {
  for (size_t i = 0; i < ARRAY_SIZE(schemes); i++)
    if (schemes[i].kind == kind)
      return schemes[i].name;
  return "file";
}

int source_classify(const char *source, enum source_kind *kind, vmpull_error *err) {
  if (!source || !*source)
    return error_set(err, VMPULL_E_USAGE, "empty source");
  for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
    if (strncasecmp(source, schemes[i].prefix, strlen(schemes[i].prefix)) == 0) {
      *kind = schemes[i].kind;
      return 0;
    }
  }
  /* "scheme://" with a scheme we do not know is a mistake, not a folder named "ftp:". */
  const char *p = source;
  if (isalpha((unsigned char)*p)) {
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
      p++;
    if (p - source > 1 && strncmp(p, "://", 3) == 0)
      return error_set(err, VMPULL_E_USAGE, "%.*s: unsupported source scheme (use a path, http(s)://, oci-dir:// or docker://)",
                       (int)(p - source + 3), source);
  }
  *kind = SOURCE_FILE;
  return 0;
}

int image_name_check(const char *name, vmpull_error *err) {
  if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return error_set(err, VMPULL_E_USAGE, "image file name '%s' is not usable", name ? name : "");
  /* A name becomes part of a path printed on one line: no control character, no invalid UTF-8. */
  if (strpbrk(name, "/\\") || text_needs_clean(name))
    return error_set(err, VMPULL_E_USAGE, "image file name '%s' is not usable (path separator, control character or invalid UTF-8)",
                     name);
  return 0;
}

int machine_name_check(const char *name, vmpull_error *err) {
  if (!*name)
    return error_set(err, VMPULL_E_USAGE, "machine name is empty (a machine name is " MACHINE_NAME_RULE ")");
  for (const char *p = name; *p; p++) {
    char c = *p;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        (p > name && (c == '_' || c == '.' || c == '-')))
      continue;
    /* The whole character, when it is one (error_set shows a control or a stray byte as \xNN). */
    size_t n = 1;
    while (n < 4 && ((unsigned char)p[n] & 0xc0) == 0x80)
      n++;
    return error_set(err, VMPULL_E_USAGE, "machine name '%s': '%.*s' %s (a machine name is " MACHINE_NAME_RULE ")",
                     name, (int)n, p, p == name ? "cannot start it" : "is not allowed");
  }
  return 0;
}

/* A path the tool prints on a line of its own (and --json reports) must print as it is. */
static int printable_path_check(const char *what, const char *path, vmpull_error *err) {
  if (text_needs_clean(path))
    return error_set(err, VMPULL_E_USAGE,
                     "%s '%s' holds a control character or invalid UTF-8 (the path is printed on one line)", what,
                     path);
  return 0;
}

int output_options_check(const vmpull_pull_options *o, vmpull_error *err) {
  int r = o->machine_name ? machine_name_check(o->machine_name, err) : 0;
  if (r == 0 && o->output)
    r = printable_path_check("output path", o->output, err);
  if (r == 0 && o->data_dir && !o->output)
    r = printable_path_check("data folder", o->data_dir, err);
  return r;
}

const char *path_base_name(const char *path) {
  const char *base = path;
  for (const char *p = path; *p; p++)
    if ((*p == '/' || *p == '\\') && p[1])
      base = p + 1;
  return base;
}

int naming_output_path(const char *data_dir, const char *machine, const char *image_name, const char *strip_suffix,
                       char **out, vmpull_error *err) {
  int r = image_name_check(image_name, err);
  if (r < 0)
    return r;
  r = machine_name_check(machine, err);
  if (r < 0)
    return r;
  size_t keep = strlen(image_name);
  if (strip_suffix && ends_with_ci(image_name, strip_suffix) && keep > strlen(strip_suffix))
    keep -= strlen(strip_suffix);
  *out = xasprintf("%s%s%s_%.*s", data_dir, ends_with_ci(data_dir, "/") ? "" : "/", machine, (int)keep, image_name);
  return *out ? 0 : error_oom(err);
}

int pull_output_path(const vmpull_pull_options *o, const char *image_name, const char *strip_suffix, char **out,
                     vmpull_error *err) {
  *out = NULL;
  if (o->output) {
    *out = strdup(o->output);
    return *out ? 0 : error_oom(err);
  }
  if (!o->data_dir)
    return 0;
  return naming_output_path(o->data_dir, o->machine_name ? o->machine_name : DEFAULT_MACHINE, image_name, strip_suffix,
                            out, err);
}

void resolved_clear(struct resolved *r) {
  source_free(r->src);
  free(r->image_name);
  free(r->display);
  free(r->expected_digest);
  free(r->reference);
  free(r->content_disposition);
  free(r->mirror);
  *r = (struct resolved){.expected_size = UINT64_MAX};
}

int resolve_file(const vmpull_pull_options *o, const char *path, struct resolved *r, vmpull_error *err) {
  if (strncasecmp(path, "file://", 7) == 0)
    path += 7;
  int ret = source_file_open_cancellable(path, o ? o->cancel : NULL, &r->src, err);
  if (ret < 0)
    return ret;
  r->image_name = strdup(path_base_name(path));
  r->display = strdup(path);
  if (!r->image_name || !r->display)
    return error_oom(err);
  return 0;
}
