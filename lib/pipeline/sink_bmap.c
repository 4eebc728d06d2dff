/* SPDX-License-Identifier: Apache-2.0 */
/* The sink's bmap (sink_options.bmap_path), a part of sink.c's module: the map is built by the
 * writer from the runs it writes (lib/pipeline/bmap.h); its own file is opened with the output, so
 * that one already there (without replace) fails the pull before a byte is written, filled once the
 * disk's bytes are all in, and published right after the disk. */
#include "base/util.h"
#include "pipeline/bmap.h"
#include "pipeline/sink.h"

int sink_bmap_open(struct sink *s, lib_error *err) {
  if (!s->o.bmap_path)
    return 0;
  s->bmap = bmap_builder_new();
  s->bmap_out = malloc(sizeof(*s->bmap_out));
  if (s->bmap_out)
    *s->bmap_out = (struct sink)SINK_INIT;
  if (!s->bmap || !s->bmap_out)
    return error_oom(err);
  struct sink_options bo = {.replace = s->o.bmap_replace, .mode = s->o.mode, .max_size = UINT64_MAX};
  int r = sink_open(s->bmap_out, s->o.bmap_path, &bo, err);
  return r < 0 ? error_wrap(err, "bmap") : 0;
}

int sink_bmap_fill(struct sink *s, lib_error *err) {
  if (!s->bmap)
    return 0;
  size_t len = 0;
  _cleanup_free_ char *text = bmap_builder_finish(s->bmap, &len);
  if (!text)
    return error_oom(err);
  int r = sink_write(s->bmap_out, (const uint8_t *)text, len, err);
  return r < 0 ? error_wrap(err, "bmap") : 0;
}

int sink_bmap_publish(struct sink *s, lib_error *err) {
  if (!s->bmap_out)
    return 0;
  int r = sink_commit(s->bmap_out, NULL, err);
  return r < 0 ? error_wrap(err, "bmap") : 0;
}

void sink_bmap_close(struct sink *s) {
  bmap_builder_free(s->bmap);
  s->bmap = NULL;
  if (s->bmap_out) {
    sink_close(s->bmap_out);
    free(s->bmap_out);
    s->bmap_out = NULL;
  }
}
