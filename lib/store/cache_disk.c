/* SPDX-License-Identifier: Apache-2.0 */
/* Kept disks: disks/sha256/<hex> and their records, disks/sha256/<hex>.json. */
#include "base/error.h"
#include "base/fs_atomic.h"
#include "base/fs_beneath.h"
#include "base/json_util.h"
#include "base/naming.h"
#include "base/platform.h"
#include "base/util.h"
#include "store/cache.h"
#include "store/disk_copy.h"

#include <fcntl.h>
#include <sys/stat.h>

/* Everything in a record but its chunks: a digest, sizes, a format and an image name. */
#define RECORD_FIXED_MAX (64u << 10)
/* The record of a 16 TiB disk; no larger file is read, whatever size the disk claims. */
#define RECORD_MAX ((uint64_t)1 << 30)
#define FORMAT_NAME_MAX 16

void cache_disk_clear(struct cache_disk *d) {
  free(d->format);
  free(d->image_name);
  disk_map_clear(&d->map);
  *d = (struct cache_disk){.fetched = UINT64_MAX, .size = UINT64_MAX};
}

uint64_t cache_disk_record_max(uint64_t size) {
  return MIN(RECORD_MAX, RECORD_FIXED_MAX + disk_map_chunks(size) * 2 * DISK_MAP_SHA256);
}

char *cache_disk_record_format(const char *digest, const struct cache_disk *d) {
  if (d->map.size != d->size)
    return NULL;
  _cleanup_free_ char *chunks = disk_map_format(&d->map);
  _cleanup_json_ json_object *j = json_object_new_object();
  if (!chunks || !j)
    return NULL;
  json_object_object_add(j, "digest", json_object_new_string(digest));
  json_object_object_add(j, "size", json_object_new_int64((int64_t)d->size));
  json_object_object_add(j, "chunk_size", json_object_new_int64(DISK_MAP_CHUNK));
  json_object_object_add(j, "format", json_object_new_string(d->format));
  if (d->image_name)
    json_object_object_add(j, "image_name", json_object_new_string(d->image_name));
  if (d->fetched != UINT64_MAX)
    json_object_object_add(j, "fetched", json_object_new_int64((int64_t)d->fetched));
  json_object_object_add(j, "chunks", json_object_new_string(chunks));
  return json_text_dup(j);
}

static int is_format_name(const char *s) {
  size_t n = strlen(s);
  return n > 0 && n <= FORMAT_NAME_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789") == n;
}

/* A non-negative integer member (json-c reads a larger one as INT64_MAX: no size is that big). */
static int member_u64(json_object *v, uint64_t *out) {
  if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
    return -1;
  *out = (uint64_t)json_object_get_int64(v);
  return 0;
}

int cache_disk_record_parse(const char *text, size_t len, const char *digest, uint64_t size, struct cache_disk *d) {
  cache_disk_clear(d);
  _cleanup_json_ json_object *j = NULL;
  const char *why;
  struct json_parse_limits lim = {.max_len = cache_disk_record_max(size), .max_depth = 2};
  enum json_parse_status st = json_parse_strict(text, len, &lim, &j, &why);
  if (st == JSON_PARSE_NO_MEMORY)
    return -ENOMEM;
  if (st != JSON_PARSE_OK || !json_object_is_type(j, json_type_object))
    return -EBADMSG;
  int have_digest = 0, have_size = 0, have_chunk_size = 0;
  uint64_t n;
  int r = 0;
  json_object_object_foreach(j, key, v) {
    if (r < 0)
      break;
    if (strcmp(key, "digest") == 0) {
      have_digest = json_object_is_type(v, json_type_string) && strcmp(json_object_get_string(v), digest) == 0;
      r = have_digest ? 0 : -EBADMSG;
    } else if (strcmp(key, "size") == 0) {
      have_size = member_u64(v, &n) == 0 && n == size;
      r = have_size ? 0 : -EBADMSG;
    } else if (strcmp(key, "chunk_size") == 0) {
      have_chunk_size = member_u64(v, &n) == 0 && n == DISK_MAP_CHUNK;
      r = have_chunk_size ? 0 : -EBADMSG;
    } else if (strcmp(key, "fetched") == 0) {
      r = member_u64(v, &d->fetched) == 0 ? 0 : -EBADMSG;
    } else if (strcmp(key, "format") == 0) {
      if (!json_object_is_type(v, json_type_string) || !is_format_name(json_object_get_string(v)) || d->format)
        r = -EBADMSG;
      else if (!(d->format = strdup(json_object_get_string(v))))
        r = -ENOMEM;
    } else if (strcmp(key, "image_name") == 0) {
      /* It names the output of a tar layer: the same rule as a name from the layer itself. */
      lib_error ignored;
      if (!json_object_is_type(v, json_type_string) || image_name_check(json_object_get_string(v), &ignored) < 0 ||
          d->image_name)
        r = -EBADMSG;
      else if (!(d->image_name = strdup(json_object_get_string(v))))
        r = -ENOMEM;
    } else if (strcmp(key, "chunks") == 0) {
      if (!json_object_is_type(v, json_type_string) || d->map.count || d->map.zero)
        r = -EBADMSG;
      else
        r = disk_map_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v), size, &d->map);
      if (r == -EINVAL)
        r = -EBADMSG;
    } else {
      r = -EBADMSG;
    }
  }
  if (r == 0 && (!have_digest || !have_size || !have_chunk_size || !d->format || d->map.size != size || !d->map.zero))
    r = -EBADMSG;
  if (r < 0) {
    cache_disk_clear(d);
    return r;
  }
  d->size = size;
  return 0;
}

/* The record of a disk of size bytes, read whole if it is not larger than such a record can be. */
static int read_record(struct cache *c, const char *hex, uint64_t size, char **text, size_t *len) {
  _cleanup_free_ char *name = xasprintf("%s.json", hex);
  if (!name)
    return -ENOMEM;
  struct stat st;
  _cleanup_close_ int fd = beneath_open_file(c->disks_fd, name, &st);
  if (fd < 0)
    return fd;
  if ((uint64_t)st.st_size > cache_disk_record_max(size))
    return -EFBIG;
  /* No more than it claims: a record that grew meanwhile is refused (-EFBIG), not cut. */
  return read_fd_limited(fd, (size_t)st.st_size, text, len);
}

/* 1: the disk and a valid record for digest and the disk's size; 0: no disk (or no way to read
 * it now); -EBADMSG: a disk, or something else under its name, that is not to be trusted. */
static int disk_find(struct cache *c, const char *digest, int *fd, struct cache_disk *d) {
  const char *hex = cache_digest_hex(digest);
  if (!hex)
    return 0;
  struct stat st;
  _cleanup_close_ int f = beneath_open_file(c->disks_fd, hex, &st);
  if (f == -ELOOP || f == -EINVAL)
    return -EBADMSG;
  if (f < 0)
    return 0;
  _cleanup_free_ char *text = NULL;
  size_t len = 0;
  int r = read_record(c, hex, (uint64_t)st.st_size, &text, &len);
  if (r == 0)
    r = cache_disk_record_parse(text, len, digest, (uint64_t)st.st_size, d);
  if (r == -ENOMEM)
    return 0;
  if (r < 0)
    return -EBADMSG;
  *fd = TAKE_FD(f);
  return 1;
}

int cache_disk_open(struct cache *c, const char *digest, int *fd, struct cache_disk *d) {
  int r = disk_find(c, digest, fd, d);
  if (r == 1)
    cache_touch(c->disks_fd, cache_digest_hex(digest));
  return r;
}

int cache_disk_exists(struct cache *c, const char *digest) {
  const char *hex = cache_digest_hex(digest);
  struct stat st;
  return hex && plat_fstatat(c->disks_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int cache_disk_check(struct cache *c, const char *digest) {
  _cleanup_close_ int fd = -1;
  _cleanup_(cache_disk_clear) struct cache_disk d = {.size = UINT64_MAX};
  return disk_find(c, digest, &fd, &d) == 1;
}

int cache_disk_verify(struct cache *c, const char *digest) {
  _cleanup_close_ int fd = -1;
  _cleanup_(cache_disk_clear) struct cache_disk d = {.size = UINT64_MAX};
  int r = disk_find(c, digest, &fd, &d);
  if (r == 0)
    return -ENOENT;
  if (r < 0)
    return 0;
  uint64_t bad;
  r = disk_copy_checked(fd, -1, &d.map, NULL, NULL, &bad);
  if (r == -EIO)
    return 0; /* unreadable is damaged */
  return r < 0 ? r : r == 0;
}

void cache_disk_drop(struct cache *c, const char *digest, int fd) {
  const char *hex = cache_digest_hex(digest);
  _cleanup_free_ char *meta = hex ? xasprintf("%s.json", hex) : NULL;
  if (!meta)
    return;
  if (fd >= 0 && !plat_same_file(fd, c->disks_fd, hex))
    return;
  plat_unlinkat(c->disks_fd, meta, 0);
  plat_unlinkat(c->disks_fd, hex, 0);
}

int cache_disk_store(struct cache *c, const char *digest, int fd, const struct cache_disk *d, lib_error *err) {
  const char *hex = cache_digest_hex(digest);
  if (!hex)
    return error_set(err, VMPULL_E_IO, "cannot keep the disk for %s: not a sha256 digest", digest);
  _cleanup_free_ char *meta = xasprintf("%s.json", hex);
  _cleanup_free_ char *record = cache_disk_record_format(digest, d);
  if (!meta || !record)
    return error_oom(err);
  /* Same rules as the output: an unnamed file that only gets its name once complete. */
  _cleanup_close_ int out = plat_tmpfile_open(c->disks_fd, ".", 0600);
  _cleanup_free_ char *tmp = NULL;
  if (out < 0) {
    tmp = cache_tmp_name();
    if (!tmp)
      return error_oom(err);
    out = plat_openat(c->disks_fd, tmp, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (out < 0)
      return error_set_errno(err, VMPULL_E_IO, errno, "keep disk in %s/disks", c->dir);
  }
  int cloned = 0;
  int r = disk_copy(fd, out, d->size, &cloned);
  if (r == 0 && plat_ftruncate(out, d->size) < 0)
    r = -errno;
  /* The record first, on disk before the disk has its name: a disk under its name with a record
   * of its own is one this vmpull kept. (The disk's bytes are not fsynced: what a crash does to
   * them, the record catches.) */
  int wrote_record = 0;
  if (r == 0) {
    r = cache_write_file_durable(c->disks_fd, meta, record, strlen(record));
    wrote_record = r == 0;
  }
  if (r == 0 && !tmp) {
    tmp = cache_tmp_name();
    if (!tmp)
      r = -ENOMEM;
    else
      r = tmpfile_link(out, c->disks_fd, tmp);
  }
  if (r == 0 && plat_renameat(c->disks_fd, tmp, c->disks_fd, hex) < 0)
    r = -errno;
  if (r < 0) {
    if (tmp)
      plat_unlinkat(c->disks_fd, tmp, 0);
    if (wrote_record)
      plat_unlinkat(c->disks_fd, meta, 0);
    return error_set_errno(err, VMPULL_E_IO, -r, "keep disk in %s/disks", c->dir);
  }
  return 0;
}
