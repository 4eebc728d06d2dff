/* SPDX-License-Identifier: Apache-2.0 */
/* The naming rule: names from outside (a URL, a title, a tar or zip entry, a machine name) that may
 * become part of a path, and the output path the rule makes of them. */
#ifndef VMPULL_NAMING_H
#define VMPULL_NAMING_H

#include "base/error.h"

/* Base name for the naming rule: rejects empty, ".", "..", "/", "\\", control characters and invalid
 * UTF-8 (whatever text_clean would change). */
int image_name_check(const char *name, lib_error *err);
/* podman's rule for a machine name, ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$; the message names the first
 * character refused. */
int machine_name_check(const char *name, lib_error *err);
/* Last path component of a local path (either separator). */
const char *path_base_name(const char *path);
/* A file name Windows can create as it is named: none of <>:"|?*, no control character, no name
 * Windows reserves for a device (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with any extension), no
 * trailing dot or space (Windows drops them: another file than the one named). what names it in
 * the error. Called on every system by the tests; the pull calls it in the Windows build only. */
int naming_windows_file_name_check(const char *what, const char *name, lib_error *err);
/* <data_dir>/<machine>_<image_name without the format's suffix>; on Windows joined with '\' when
 * data_dir is written with it, and the name must pass naming_windows_file_name_check. */
int naming_output_path(const char *data_dir, const char *machine, const char *image_name, const char *strip_suffix,
                       char **out, lib_error *err);
/* A path the tool prints on a line of its own (and --json reports) must print as it is: what
 * names it in the error ("output path"). */
int naming_printable_path_check(const char *what, const char *path, lib_error *err);

#endif
