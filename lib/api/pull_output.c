/* SPDX-License-Identifier: Apache-2.0 */
/* Where a pull's disk goes (pull_output.h). */
#include "api/pull_output.h"

#include "base/util.h"
#include "resolve/resolve.h"

#include <sys/stat.h>

int pull_output_is_device(const char *output) {
  struct stat st;
  return output && stat(output, &st) == 0 && S_ISBLK(st.st_mode);
}

/* mkdir -p, new folders 0700: a data dir can hold a user's VM disks. */
static int make_dirs(const char *path, lib_error *err) {
  int r = mkdir_parents_or_fail(path, 0700, NULL, err);
  if (r < 0)
    return r;
  struct stat st;
  if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
    return error_set(err, VMPULL_E_IO, "data folder %s is not a folder", path);
  return 0;
}

int pull_output_open(const struct pull_config *o, const char *image_name, enum format format,
                     const struct sink_options *so, int *device_touched, struct sink *sink, char **out_path,
                     lib_error *err) {
  const struct output_naming *naming = &o->resolve.naming;
  /* (what every output shares: the bmap beside it; a block device written in place) */
  struct sink_options with = *so;
  with.bmap_path = o->bmap_path;
  with.bmap_replace = o->bmap_replace;
  with.device = o->output_device && o->out_fd < 0;
  with.assume_zeroed = o->assume_zeroed;
  with.device_touched = device_touched;
  if (o->out_fd >= 0) {
    /* vmpull_pull_to_fd: the caller's fd; naming->output only says how messages name it. */
    with.to_fd = 1;
    with.fd = o->out_fd;
    with.replace = 0;
    return sink_open(sink, naming->output, &with, err);
  }
  int r = pull_output_path(naming, image_name, format_suffix(format), out_path, err);
  if (r < 0)
    return r;
  if (!naming->output) {
    r = make_dirs(naming->data_dir, err);
    if (r < 0)
      return r;
  }
  return sink_open(sink, *out_path, &with, err);
}
