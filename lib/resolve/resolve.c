/* SPDX-License-Identifier: Apache-2.0 */
/* Source classification, the output naming rule, and the local-file resolver. */
#include "resolve/resolve.h"

#include "base/error.h"
#include "base/naming.h"
#include "base/util.h"
#include "oci/oci_ref.h"

#include <ctype.h>

static const struct {
  const char *prefix;
  enum source_kind kind;
  const char *name;
} schemes[] = {
    {"http://", SOURCE_HTTP, "http"},          {"https://", SOURCE_HTTP, "https"},
    {"oci-dir://", SOURCE_OCI_DIR, "oci-dir"}, {"docker://", SOURCE_DOCKER, "docker"},
    {"fcos://", SOURCE_FCOS, "fcos"},          {"oci-archive://", SOURCE_OCI_ARCHIVE, "oci-archive"},
    {"file://", SOURCE_FILE, "file"},
};

const char *source_kind_name(enum source_kind kind) {
  for (size_t i = 0; i < ARRAY_SIZE(schemes); i++)
    if (schemes[i].kind == kind)
      return schemes[i].name;
  return "file";
}

/* Every spelling of a source vmpull reads, for the errors that refuse another one. */
#define SOURCES_READ                                                                                                   \
  "a local path, file://, http://, https://, oci-dir:// (skopeo's oci:), oci-archive:// (or oci-archive:), "           \
  "docker://, fcos://"

/* containers/image's transports (skopeo's TRANSPORT:REF) that vmpull does not read: "dir:x" is
 * someone used to skopeo, so it is refused rather than looked for as a file. */
static const char *const foreign_transports[] = {
    "containers-storage", "dir", "docker", "docker-archive", "docker-daemon", "ostree", "sif", "tarball",
};

/* The length of source's leading "word" (letters, digits, + - .) when a ':' follows it, else 0. */
static size_t scheme_word(const char *source) {
  const char *p = source;
  if (!isalpha((unsigned char)*p))
    return 0;
  while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
    p++;
  return *p == ':' ? (size_t)(p - source) : 0;
}

int source_classify(const char *source, enum source_kind *kind, lib_error *err) {
  if (!source || !*source)
    return error_set(err, VMPULL_E_USAGE, "empty source");
  for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
    if (strncasecmp(source, schemes[i].prefix, strlen(schemes[i].prefix)) == 0) {
      *kind = schemes[i].kind;
      return 0;
    }
  }
  size_t word = scheme_word(source);
  /* "scheme://" with a scheme we do not know is a mistake, not a folder named "ftp:". */
  if (word > 1 && strncmp(source + word, "://", 3) == 0)
    return error_set(err, VMPULL_E_USAGE, "%.*s: unsupported source scheme (vmpull reads %s)", (int)(word + 3), source,
                     SOURCES_READ);
  /* skopeo's spellings of the layouts vmpull reads. */
  if (oci_layout_spec(source, 0)) {
    *kind = SOURCE_OCI_DIR;
    return 0;
  }
  if (oci_layout_spec(source, 1)) {
    *kind = SOURCE_OCI_ARCHIVE;
    return 0;
  }
  for (size_t i = 0; word && i < ARRAY_SIZE(foreign_transports); i++)
    if (strlen(foreign_transports[i]) == word && !strncmp(source, foreign_transports[i], word))
      return error_set(err, VMPULL_E_USAGE,
                       "%.*s is a containers transport vmpull does not read (vmpull reads %s); "
                       "for a local file of that name, write ./%.300s",
                       (int)(word + 1), source, SOURCES_READ, source);
  *kind = SOURCE_FILE;
  return 0;
}

int output_naming_check(const struct output_naming *n, lib_error *err) {
  int r = n->machine_name ? machine_name_check(n->machine_name, err) : 0;
  if (r == 0 && n->output)
    r = naming_printable_path_check("output path", n->output, err);
  if (r == 0 && n->data_dir && !n->output)
    r = naming_printable_path_check("data folder", n->data_dir, err);
  return r;
}

int pull_output_path(const struct output_naming *o, const char *image_name, const char *strip_suffix, char **out,
                     lib_error *err) {
  *out = NULL;
  if (o->output) {
    *out = strdup(o->output);
    return *out ? 0 : error_oom(err);
  }
  if (!o->data_dir)
    return 0;
  return naming_output_path(o->data_dir, o->machine_name ? o->machine_name : VMPULL_DEFAULT_MACHINE_NAME, image_name,
                            strip_suffix, out, err);
}

int resolve_file(const struct resolve_settings *s, const char *path, struct resolved *r, lib_error *err) {
  if (strncasecmp(path, "file://", 7) == 0) {
    path += 7;
#ifdef _WIN32
    /* file:///C:/images/disk.raw.xz names C:/images/disk.raw.xz */
    if (path[0] == '/' && isalpha((unsigned char)path[1]) && path[2] == ':')
      path++;
#endif
  }
  r->plan.kind = BYTE_PLAN_FILE;
  r->plan.cancel = s ? s->hooks.cancel : NULL;
  r->plan.location = strdup(path);
  r->image_name = strdup(path_base_name(path));
  r->display = strdup(path);
  if (!r->plan.location || !r->image_name || !r->display)
    return error_oom(err);
  return 0;
}
