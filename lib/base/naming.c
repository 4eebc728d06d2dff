/* SPDX-License-Identifier: Apache-2.0 */
/* The naming rule: which names from outside may become part of a path, and the path they make. */
#include "base/naming.h"

#include "base/error.h"
#include "base/util.h"

#include <string.h>
#include <strings.h>

/* podman's rule for a machine name */
#define MACHINE_NAME_RULE "[a-zA-Z0-9][a-zA-Z0-9_.-]*"

int image_name_check(const char *name, lib_error *err) {
  if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return error_set(err, VMPULL_E_USAGE, "image file name '%s' is not usable", name ? name : "");
  /* A name becomes part of a path printed on one line: no control character, no invalid UTF-8. */
  if (strpbrk(name, "/\\") || text_needs_clean(name))
    return error_set(err, VMPULL_E_USAGE,
                     "image file name '%s' is not usable (path separator, control character or invalid UTF-8)", name);
  return 0;
}

int machine_name_check(const char *name, lib_error *err) {
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
int naming_printable_path_check(const char *what, const char *path, lib_error *err) {
  if (text_needs_clean(path))
    return error_set(err, VMPULL_E_USAGE,
                     "%s '%s' holds a control character or invalid UTF-8 (the path is printed on one line)", what,
                     path);
  return 0;
}

const char *path_base_name(const char *path) {
  const char *base = path;
  for (const char *p = path; *p; p++)
    if ((*p == '/' || *p == '\\') && p[1])
      base = p + 1;
  return base;
}

int naming_windows_file_name_check(const char *what, const char *name, lib_error *err) {
  static const char *const devices[] = {"CON", "PRN", "AUX", "NUL"};
  for (const char *p = name; *p; p++)
    if (strchr("<>:\"|?*\\/", *p) || (unsigned char)*p < 0x20)
      return error_set(err, VMPULL_E_USAGE, "%s '%s' is not a file name Windows allows ('%c' in it)", what, name, *p);
  size_t len = strlen(name);
  if (len && (name[len - 1] == '.' || name[len - 1] == ' '))
    return error_set(err, VMPULL_E_USAGE, "%s '%s' ends with a %s, which Windows drops from a file name", what, name,
                     name[len - 1] == '.' ? "dot" : "space");
  /* The device names hold with any extension ("nul.raw.xz") and trailing spaces ("CON .raw"). */
  size_t stem = strcspn(name, ".");
  while (stem && name[stem - 1] == ' ')
    stem--;
  int device = 0;
  for (size_t i = 0; i < ARRAY_SIZE(devices) && !device; i++)
    device = stem == 3 && !strncasecmp(name, devices[i], 3);
  if (stem == 4 && (!strncasecmp(name, "COM", 3) || !strncasecmp(name, "LPT", 3)) && name[3] >= '1' && name[3] <= '9')
    device = 1;
  if (device)
    return error_set(err, VMPULL_E_USAGE, "%s '%s' is a device name on Windows (%.*s), not a file name", what, name,
                     (int)stem, name);
  return 0;
}

int naming_output_path(const char *data_dir, const char *machine, const char *image_name, const char *strip_suffix,
                       char **out, lib_error *err) {
  int r = image_name_check(image_name, err);
  if (r < 0)
    return r;
  r = machine_name_check(machine, err);
  if (r < 0)
    return r;
  size_t keep = strlen(image_name);
  if (strip_suffix && ends_with_ci(image_name, strip_suffix) && keep > strlen(strip_suffix))
    keep -= strlen(strip_suffix);
#ifdef _WIN32
  _cleanup_free_ char *file = xasprintf("%s_%.*s", machine, (int)keep, image_name);
  if (!file)
    return error_oom(err);
  r = naming_windows_file_name_check("output file name", file, err);
  if (r < 0)
    return error_wrap(err, "image file name '%s'", image_name);
  /* joined with the separator the folder is written with: a backslash after C:\Users, '/' after C:/data */
  const char *sep = ends_with_ci(data_dir, "/") || ends_with_ci(data_dir, "\\") ? ""
                    : strchr(data_dir, '\\')                                    ? "\\"
                                                                                : "/";
  *out = xasprintf("%s%s%s", data_dir, sep, file);
#else
  *out = xasprintf("%s%s%s_%.*s", data_dir, ends_with_ci(data_dir, "/") ? "" : "/", machine, (int)keep, image_name);
#endif
  return *out ? 0 : error_oom(err);
}
