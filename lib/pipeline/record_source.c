/* SPDX-License-Identifier: Apache-2.0 */
#include "pipeline/record_source.h"

#include "base/error.h"
#include "base/util.h"

struct record_source {
  struct byte_source base;
  struct byte_source *inner;
  struct record_options o;
  uint64_t writeback_from; /* the copy's bytes before this are on their way to disk */
};

static int record_read(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  struct record_source *rs = (struct record_source *)s;
  int r = source_read(rs->inner, buf, cap, got, err);
  if (r < 0 || *got == 0 || rs->o.fd < 0)
    return r;
  int w = pwrite_all(rs->o.fd, buf, *got, rs->o.offset);
  if (w < 0 && !rs->o.failed)
    return error_set_errno(err, VMPULL_E_IO, -w, "write cache for %s", s->name);
  if (w < 0) {
    rs->o.fd = -1; /* the callback may close it */
    rs->o.failed(rs->o.failed_data, -w);
    return 0;
  }
  rs->o.offset += *got;
  /* As the sink does: this pull pays for its own disk writes. */
  start_writeback(rs->o.fd, &rs->writeback_from, rs->o.offset);
  return 0;
}

static void record_free(struct byte_source *s) {
  struct record_source *rs = (struct record_source *)s;
  source_free(rs->inner);
  free(rs);
}

static const struct byte_source_ops record_ops = {.read = record_read, .free = record_free};

int record_source_new(struct byte_source *inner, const struct record_options *o, struct byte_source **out,
                      lib_error *err) {
  struct record_source *rs = calloc(1, sizeof(*rs));
  if (!rs) {
    source_free(inner);
    return error_oom(err);
  }
  rs->base.ops = &record_ops;
  rs->base.name = inner->name;
  rs->base.size = inner->size;
  rs->inner = inner;
  rs->o = *o;
  rs->writeback_from = o->offset;
  *out = &rs->base;
  return 0;
}
