/* SPDX-License-Identifier: Apache-2.0 */
#include "store/cache.h"

#include "base/digest.h"
#include "base/error.h"
#include "base/evp_util.h"
#include "base/fs_atomic.h"
#include "base/fs_beneath.h"
#include "base/json_util.h"
#include "base/platform.h"
#include "base/util.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#define DOC_MAX (16u << 20)

void cache_free(struct cache *c) {
  if (!c)
    return;
  closep(&c->fd);
  closep(&c->blobs_fd);
  closep(&c->disks_fd);
  closep(&c->partial_fd);
  closep(&c->refs_fd);
  free(c->dir);
  free(c);
}

int cache_open(const char *dir, int create, struct cache **out, int *refused, lib_error *err) {
  if (refused)
    *refused = 0;
  if (!dir || !*dir)
    return error_set(err, VMPULL_E_USAGE, "no cache folder given");
  _cleanup_cache_ struct cache *c = calloc(1, sizeof(*c));
  if (!c)
    return error_oom(err);
  c->fd = c->blobs_fd = c->disks_fd = c->partial_fd = c->refs_fd = -1;
  c->dir = strdup(dir);
  if (!c->dir)
    return error_oom(err);
  if (create) {
    int r = mkdir_parents(dir, 0700, NULL, NULL); /* 0700: the cache can hold private images */
    if (r < 0)
      return error_set_errno(err, VMPULL_E_IO, -r, "create cache folder %s", dir);
  }
  c->fd = plat_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (c->fd < 0)
    return error_set_errno(err, errno == ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, errno, "cache folder %s", dir);
  /* The folder itself may be a link the user chose; nothing below it is followed. */
  static const char *const subs[] = {"blobs/sha256", "disks/sha256", "partial", "refs"};
  int *fds[] = {&c->blobs_fd, &c->disks_fd, &c->partial_fd, &c->refs_fd};
  for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
    int fd =
        create ? beneath_mkdirs(c->fd, subs[i], 0700, NULL) : beneath_open(c->fd, subs[i], O_RDONLY | O_DIRECTORY, 0);
    if (fd == -ENOENT && !create) {
      /* An empty or foreign folder: treat as an empty cache, not an error. */
      return error_set(err, VMPULL_E_NOT_FOUND, "cache folder %s has no vmpull cache", dir);
    }
    if (fd < 0) {
      if (refused)
        *refused = fd == -ELOOP || fd == -EXDEV;
      return beneath_error(err, VMPULL_E_IO, fd, c->fd, dir, subs[i], create ? "create cache folder" : "cache folder");
    }
    *fds[i] = fd;
  }
  if (create) {
    /* The blob store is an OCI image layout (without an index): tools can read it as one. */
    struct stat st;
    if (plat_fstatat(c->fd, "oci-layout", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
      static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}\n";
      (void)cache_write_file(c->fd, "oci-layout", layout, sizeof(layout) - 1);
    }
  }
  *out = TAKE_PTR(c);
  return 0;
}

void cache_key_name(const char *key, char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (EVP_Digest(key, strlen(key), md, &len, EVP_sha256(), NULL) != 1 || len != 32) {
    /* Cannot happen with a working libcrypto; a fixed name would only cost cache hits. */
    memset(out, '0', 64);
    out[64] = '\0';
    return;
  }
  hex_lower_format(md, len, out);
}

const char *cache_digest_hex(const char *digest) {
  return digest_sha256_hex(digest);
}

/* A temporary's name: .tmp-<random>, which prune's sweep recognises. */
#define CACHE_TMP_PREFIX ".tmp-"

int cache_write_file(int dirfd, const char *name, const void *buf, size_t len) {
  return file_write_atomic(dirfd, name, buf, len, CACHE_TMP_PREFIX, 0);
}

char *cache_tmp_name(void) {
  return tmp_name_new(CACHE_TMP_PREFIX);
}

int cache_write_file_durable(int dirfd, const char *name, const void *buf, size_t len) {
  return file_write_atomic(dirfd, name, buf, len, CACHE_TMP_PREFIX, 1);
}

void cache_touch(int dirfd, const char *name) {
  (void)plat_touch(dirfd, name); /* a link put there since is not followed */
}

int cache_blob_exists(struct cache *c, const char *digest) {
  const char *hex = cache_digest_hex(digest);
  struct stat st;
  return hex && plat_fstatat(c->blobs_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int cache_blob_open(struct cache *c, const char *digest, struct byte_source **out, lib_error *err) {
  const char *hex = cache_digest_hex(digest);
  if (!hex)
    return error_set(err, VMPULL_E_NOT_FOUND, "%s: not a sha256 digest the cache stores", digest);
  _cleanup_free_ char *path = xasprintf("%s/blobs/sha256/%s", c->dir, hex);
  if (!path)
    return error_oom(err);
  struct stat st;
  int fd = beneath_open_file(c->blobs_fd, hex, &st);
  if (fd < 0)
    return error_set(err, VMPULL_E_NOT_FOUND, "%s: not in the cache", digest);
  int r = source_file_from_fd(fd, path, (uint64_t)st.st_size, out, err);
  if (r < 0)
    return r;
  cache_touch(c->blobs_fd, hex);
  return 0;
}

void cache_blob_remove(struct cache *c, const char *digest) {
  const char *hex = cache_digest_hex(digest);
  if (!hex)
    return;
  plat_unlinkat(c->blobs_fd, hex, 0);
}

static int sha256_buf(const void *buf, size_t len, char out[80]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
    return -1;
  memcpy(out, "sha256:", 7);
  hex_lower_format(md, mdlen, out + 7);
  return 0;
}

int cache_blob_read(struct cache *c, const char *digest, size_t max, char **body, size_t *len, lib_error *err) {
  const char *hex = cache_digest_hex(digest);
  if (!hex)
    return error_set(err, VMPULL_E_NOT_FOUND, "%s: not in the cache", digest);
  _cleanup_free_ char *path = xasprintf("%s/blobs/sha256/%s", c->dir, hex);
  if (!path)
    return error_oom(err);
  _cleanup_free_ char *buf = NULL;
  size_t n = 0;
  _cleanup_close_ int fd = beneath_open_file(c->blobs_fd, hex, NULL);
  int r = fd < 0 ? fd : read_fd_limited(fd, max, &buf, &n);
  /* A link or a FIFO under a blob's name is no blob: a miss, fetched again and renamed over it. */
  if (r == -ENOENT || r == -ELOOP || r == -EINVAL)
    return error_set(err, VMPULL_E_NOT_FOUND, "%s: not in the cache", digest);
  if (r < 0)
    return error_set_errno(err, VMPULL_E_IO, -r, "read %s", path);
  char got[80];
  if (sha256_buf(buf, n, got) < 0)
    return error_set(err, VMPULL_E_IO, "sha256 failed");
  if (strcmp(got, digest) != 0) {
    plat_unlinkat(c->blobs_fd, hex, 0);
    return error_set(err, VMPULL_E_NOT_FOUND, "%s: cached copy was damaged (removed)", digest);
  }
  cache_touch(c->blobs_fd, hex);
  *body = TAKE_PTR(buf);
  *len = n;
  return 0;
}

int cache_blob_verify(struct cache *c, const char *digest) {
  const char *hex = cache_digest_hex(digest);
  if (!hex)
    return -EINVAL;
  _cleanup_close_ int fd = beneath_open_file(c->blobs_fd, hex, NULL);
  if (fd == -ELOOP || fd == -EINVAL)
    return 0; /* a link or a FIFO where the blob should be */
  if (fd < 0)
    return fd;
  plat_fadvise_sequential(fd);
  _cleanup_evp_md_ctx_ EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
    return -ENOMEM;
  _cleanup_free_ uint8_t *buf = malloc(1 << 20);
  if (!buf)
    return -ENOMEM;
  for (;;) {
    ssize_t n = read(fd, buf, 1 << 20);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno == EIO ? 0 : -errno;
    if (n == 0)
      break;
    if (EVP_DigestUpdate(md, buf, (size_t)n) != 1)
      return -EIO;
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (EVP_DigestFinal_ex(md, out, &len) != 1 || len != 32)
    return -EIO;
  char got[65];
  hex_lower_format(out, len, got);
  return strcmp(got, hex) == 0;
}

int cache_blob_write(struct cache *c, const void *buf, size_t len, char digest_out[80], lib_error *err) {
  if (sha256_buf(buf, len, digest_out) < 0)
    return error_set(err, VMPULL_E_IO, "sha256 failed");
  int r = cache_write_file(c->blobs_fd, digest_out + 7, buf, len);
  if (r < 0)
    return error_set_errno(err, VMPULL_E_IO, -r, "write cache %s/blobs/sha256", c->dir);
  return 0;
}

int cache_commit_partial(struct cache *c, const char *name, int fd, const char *digest, lib_error *err) {
  const char *hex = cache_digest_hex(digest);
  if (!hex)
    return error_set(err, VMPULL_E_IO, "cannot cache %s: not a sha256 digest", digest);
  (void)fd;
  if (plat_renameat(c->partial_fd, name, c->blobs_fd, hex) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "commit %s to the cache in %s", digest, c->dir);
  cache_partial_forget(c, name);
  return 0;
}

static void json_add_str(json_object *o, const char *key, const char *val) {
  if (val)
    json_object_object_add(o, key, json_object_new_string(val));
}

static void json_add_u64(json_object *o, const char *key, uint64_t val) {
  if (val != UINT64_MAX)
    json_object_object_add(o, key, json_object_new_int64((int64_t)val));
}

static json_object *read_json(int dirfd, const char *name) {
  _cleanup_close_ int fd = beneath_open_file(dirfd, name, NULL);
  if (fd < 0)
    return NULL;
  _cleanup_free_ char *buf = NULL;
  size_t used;
  if (read_fd_limited(fd, 65534, &buf, &used) < 0)
    return NULL;
  json_object *j = NULL;
  const char *why;
  if (json_parse_strict(buf, used, NULL, &j, &why) != JSON_PARSE_OK)
    return NULL;
  if (!json_object_is_type(j, json_type_object)) {
    json_object_put(j);
    return NULL;
  }
  return j;
}

static int write_json(int dirfd, const char *name, json_object *j) {
  const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  return cache_write_file(dirfd, name, s, strlen(s));
}

/* A metadata record (a ref, a partial) as its JSON file: string members and one size, each at its
 * offset in the struct, so reading, writing and clearing a record is one function each. */
struct record_member {
  const char *name;
  size_t offset;
};
struct record_shape {
  const struct record_member *strings;
  size_t n_strings;
  const char *size_name;
  size_t size_offset;
};

/* (rec is const for record_write: only record_clear and record_read write through these.) */
static char **record_string(const void *rec, const struct record_member *m) {
  return (char **)((const char *)rec + m->offset);
}

static uint64_t *record_size(const void *rec, const struct record_shape *shape) {
  return (uint64_t *)((const char *)rec + shape->size_offset);
}

static void record_clear(const struct record_shape *shape, void *rec) {
  for (size_t i = 0; i < shape->n_strings; i++) {
    char **s = record_string(rec, &shape->strings[i]);
    free(*s);
    *s = NULL;
  }
  *record_size(rec, shape) = UINT64_MAX;
}

/* rec filled from j (members missing there are NULL or UINT64_MAX). */
static void record_from_json(const struct record_shape *shape, json_object *j, void *rec) {
  record_clear(shape, rec);
  for (size_t i = 0; i < shape->n_strings; i++)
    *record_string(rec, &shape->strings[i]) = json_member_strdup(j, shape->strings[i].name);
  *record_size(rec, shape) = json_member_u64(j, shape->size_name);
}

/* 1: rec filled from dirfd/name, 0: no readable record. */
static int record_read(const struct record_shape *shape, int dirfd, const char *name, void *rec) {
  _cleanup_json_ json_object *j = read_json(dirfd, name);
  if (!j)
    return 0;
  record_from_json(shape, j, rec);
  return 1;
}

static json_object *record_to_json(const struct record_shape *shape, const void *rec) {
  json_object *j = json_object_new_object();
  if (!j)
    return NULL;
  for (size_t i = 0; i < shape->n_strings; i++)
    json_add_str(j, shape->strings[i].name, *record_string(rec, &shape->strings[i]));
  json_add_u64(j, shape->size_name, *record_size(rec, shape));
  return j;
}

/* 0, or -errno. */
static int record_write(const struct record_shape *shape, int dirfd, const char *name, const void *rec) {
  _cleanup_json_ json_object *j = record_to_json(shape, rec);
  if (!j)
    return -ENOMEM;
  return write_json(dirfd, name, j);
}

static const struct record_member ref_strings[] = {
    {"key", offsetof(struct cache_ref, key)},
    {"digest", offsetof(struct cache_ref, digest)},
    {"etag", offsetof(struct cache_ref, etag)},
    {"last_modified", offsetof(struct cache_ref, last_modified)},
    {"content_disposition", offsetof(struct cache_ref, content_disposition)},
    {"media_type", offsetof(struct cache_ref, media_type)},
};
static const struct record_shape ref_shape = {ref_strings, ARRAY_SIZE(ref_strings), "size",
                                              offsetof(struct cache_ref, size)};

static const struct record_member partial_strings[] = {
    {"key", offsetof(struct cache_partial, key)},
    {"etag", offsetof(struct cache_partial, etag)},
    {"last_modified", offsetof(struct cache_partial, last_modified)},
    {"digest", offsetof(struct cache_partial, digest)},
};
static const struct record_shape partial_shape = {partial_strings, ARRAY_SIZE(partial_strings), "size",
                                                  offsetof(struct cache_partial, total)};

void cache_ref_clear(struct cache_ref *r) {
  record_clear(&ref_shape, r);
  r->stored = 0;
}

int cache_ref_get(struct cache *c, const char *key, struct cache_ref *r) {
  char name[65 + 5];
  cache_key_name(key, name);
  strcat(name, ".json");
  if (!record_read(&ref_shape, c->refs_fd, name, r))
    return 0;
  /* A hash collision or a hand-edited file: only an exact key is a hit. */
  if (!r->key || strcmp(r->key, key) != 0 || !cache_digest_hex(r->digest)) {
    cache_ref_clear(r);
    return 0;
  }
  /* Written whole by rename when the entry was filed, and never touched after: its age. */
  struct stat st;
  r->stored = plat_fstatat(c->refs_fd, name, &st, 0) == 0 ? st.st_mtime : 0;
  return 1;
}

int cache_ref_put(struct cache *c, const struct cache_ref *r, lib_error *err) {
  char name[65 + 5];
  cache_key_name(r->key, name);
  strcat(name, ".json");
  int ret = record_write(&ref_shape, c->refs_fd, name, r);
  if (ret < 0)
    return error_set_errno(err, VMPULL_E_IO, -ret, "write cache index in %s/refs", c->dir);
  return 0;
}

void cache_partial_clear(struct cache_partial *p) {
  record_clear(&partial_shape, p);
  free(p->extents);
  p->extents = NULL;
  p->n_extents = 0;
  p->segmented = 0;
}

static int extents_from_json(json_object *a, uint64_t total, struct cache_extent **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!json_object_is_type(a, json_type_array))
    return -EBADMSG;
  size_t len = json_object_array_length(a);
  _cleanup_free_ struct cache_extent *e = calloc(len ? len : 1, sizeof(*e));
  if (!e)
    return -ENOMEM;
  uint64_t last = 0;
  for (size_t i = 0; i < len; i++) {
    json_object *pair = json_object_array_get_idx(a, i);
    if (!json_object_is_type(pair, json_type_array) || json_object_array_length(pair) != 2)
      return -EBADMSG;
    uint64_t v[2];
    for (size_t k = 0; k < 2; k++) {
      json_object *x = json_object_array_get_idx(pair, k);
      if (!json_object_is_type(x, json_type_int) || json_object_get_int64(x) < 0)
        return -EBADMSG;
      v[k] = (uint64_t)json_object_get_int64(x);
    }
    /* ascending and apart: what the writer makes; anything else is not its record */
    if (v[0] >= v[1] || v[1] > total || (i > 0 && v[0] <= last))
      return -EBADMSG;
    e[i] = (struct cache_extent){v[0], v[1]};
    last = v[1];
  }
  *out = TAKE_PTR(e);
  *n = len;
  return 0;
}

/* A segmented record names its entry under another member than "key": a vmpull that does not
 * know "segments" then finds no record and starts over, rather than taking the file's length
 * for the bytes it holds. */
#define SEGMENTED_KEY "segmented_key"

int cache_extents_parse(const char *json, size_t len, uint64_t total, struct cache_extent **out, size_t *n) {
  *out = NULL;
  *n = 0;
  json_object *j = NULL;
  const char *why;
  if (json_parse_strict(json, len, NULL, &j, &why) != JSON_PARSE_OK)
    return -EBADMSG;
  int r = extents_from_json(j, total, out, n);
  json_object_put(j);
  return r;
}

int cache_partial_get(struct cache *c, const char *name, struct cache_partial *p) {
  _cleanup_free_ char *meta = xasprintf("%s.json", name);
  _cleanup_json_ json_object *j = meta ? read_json(c->partial_fd, meta) : NULL;
  if (!j)
    return 0;
  cache_partial_clear(p);
  record_from_json(&partial_shape, j, p);
  json_object *segments = NULL;
  if (json_object_object_get_ex(j, "segments", &segments)) {
    p->segmented = 1;
    free(p->key);
    p->key = json_member_strdup(j, SEGMENTED_KEY);
    if (p->total == UINT64_MAX || extents_from_json(segments, p->total, &p->extents, &p->n_extents) < 0) {
      free(p->extents);
      p->extents = NULL;
      p->n_extents = 0;
    }
  }
  if (!p->key) {
    cache_partial_clear(p);
    return 0;
  }
  return 1;
}

int cache_partial_put(struct cache *c, const char *name, const struct cache_partial *p, lib_error *err) {
  _cleanup_free_ char *meta = xasprintf("%s.json", name);
  _cleanup_json_ json_object *j = record_to_json(&partial_shape, p);
  json_object *segments = p->segmented && j ? json_object_new_array() : NULL;
  if (segments) {
    json_object_object_add(j, "segments", segments);
    json_object_object_del(j, "key");
    json_add_str(j, SEGMENTED_KEY, p->key);
  }
  int r = meta && j && (!p->segmented || segments) ? 0 : -ENOMEM;
  for (size_t i = 0; r == 0 && i < p->n_extents; i++) {
    json_object *pair = json_object_new_array();
    if (!pair || json_object_array_add(segments, pair) < 0) {
      json_object_put(pair);
      r = -ENOMEM;
      break;
    }
    json_object_array_add(pair, json_object_new_int64((int64_t)p->extents[i].start));
    json_object_array_add(pair, json_object_new_int64((int64_t)p->extents[i].end));
  }
  if (r == 0) {
    const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    r = p->segmented ? cache_write_file_durable(c->partial_fd, meta, text, strlen(text))
                     : cache_write_file(c->partial_fd, meta, text, strlen(text));
  }
  if (r < 0)
    return error_set_errno(err, VMPULL_E_IO, -r, "write cache metadata in %s/partial", c->dir);
  return 0;
}

void cache_partial_forget(struct cache *c, const char *name) {
  _cleanup_free_ char *meta = xasprintf("%s.json", name);
  if (meta)
    plat_unlinkat(c->partial_fd, meta, 0);
}
