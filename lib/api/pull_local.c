/* SPDX-License-Identifier: Apache-2.0 */
/* A local disk copied rather than decoded (pull_local.h). */
#include "api/pull_local.h"

#include "base/digest.h"
#include "base/evp_util.h"
#include "base/platform.h"
#include "base/util.h"
#include "pipeline/detect.h"
#include "pipeline/sink.h"
#include "store/disk_copy.h"

#include <fcntl.h>
#include <sys/stat.h>

int local_copy_probe(const struct resolved *rs, const struct call_hooks *hooks, int *fd, uint64_t *size) {
  *fd = -1;
  *size = UINT64_MAX;
  if (rs->plan.kind != BYTE_PLAN_FILE || rs->tar_layer)
    return 0;
  /* Only a regular file: opening a FIFO would wait for its writer, and a device has no extents. */
  struct stat st;
  if (stat(rs->plan.location, &st) < 0 || !S_ISREG(st.st_mode))
    return 0; /* the usual way says what is wrong with it */
  /* (O_NONBLOCK: should a FIFO take the file's place after the stat, the open does not wait for a
   * writer; it changes nothing for a regular file's reads) */
  _cleanup_close_ int f = plat_openat(AT_FDCWD, rs->plan.location, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
  if (f < 0 || fstat(f, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
    return 0;
  uint8_t head[DETECT_PEEK];
  ssize_t n;
  do
    n = plat_pread(f, head, sizeof(head), 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return 0;
  enum format format;
  lib_error ignored = {0};
  if (detect_format(head, (size_t)n, rs->image_name, &format, &ignored) < 0 || format != FORMAT_NONE)
    return 0;
  hooks_log(hooks, VMPULL_LOG_INFO, "%s: format %s, copied (no decoding)", rs->image_name ? rs->image_name : "input",
            format_name(format));
  *size = (uint64_t)st.st_size;
  *fd = TAKE_FD(f);
  return 1;
}

int local_copy(int fd, uint64_t size, const char *display, struct sink *sink, struct progress_state *progress, int hash,
               char digest[80], lib_error *err) {
  if (sink_takes_every_byte(sink))
    return error_set(err, VMPULL_E_IO, "%s: a copy needs a file to write into", sink->path);
  if (sink->o.max_size != UINT64_MAX && size > sink->o.max_size)
    return error_set(err, VMPULL_E_LIMIT, "output exceeds the size limit of %llu bytes (--max-size)",
                     (unsigned long long)sink->o.max_size);
  _cleanup_evp_md_ EVP_MD *sha256 = hash ? EVP_MD_fetch(NULL, "SHA256", NULL) : NULL;
  _cleanup_evp_md_ctx_ EVP_MD_CTX *md = hash ? EVP_MD_CTX_new() : NULL;
  if (hash && (!sha256 || !md || EVP_DigestInit_ex(md, sha256, NULL) != 1))
    return error_set(err, VMPULL_E_IO, "sha256: cannot start");
  struct progress_poll poll = {.progress = progress, .err = err, .also_fetched = 1};
  /* A clone is hashed by reading it back: a sink that cannot be read is written from the buffer.
   * Without a clone the data extents are read and only their non-zero blocks written, as the
   * decoders' sink and cp --sparse=always write them: copy_file_range would keep the zeros a
   * source has allocated (bench: disk.raw's 716 MiB instead of 652, and 0.80 s instead of 0.70 s
   * with the fsync of the extra blocks). */
  struct disk_copy_how how = {
      .poll = progress_poll, .poll_data = &poll, .hash = md, .no_clone = hash && !sink->readable, .scan_zeros = 1};
  int cloned = 0;
  int r = disk_copy_with(fd, sink->fd, size, &how, &cloned);
  if (r == -ECANCELED)
    return -err->code;
  if (r < 0)
    return error_set_errno(err, VMPULL_E_IO, -r, "copy %s to %s", display, sink->path);
  if (hash) {
    unsigned char got[EVP_MAX_MD_SIZE];
    unsigned got_len = 0;
    if (EVP_DigestFinal_ex(md, got, &got_len) != 1 || got_len != 32)
      return error_set(err, VMPULL_E_IO, "sha256: cannot finalise");
    memcpy(digest, "sha256:", 7);
    hex_lower_format(got, got_len, digest + 7);
  }
  sink->offset = sink->accepted = size;
  return 0;
}
