/* SPDX-License-Identifier: Apache-2.0 */
/* The public cache commands: list, prune (by last use and total size), verify. */
#include "base/digest.h"
#include "base/error.h"
#include "base/fs_beneath.h"
#include "base/json_util.h"
#include "base/platform.h"
#include "base/util.h"
#include "store/cache.h"
#include "store/lock.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <time.h>

#define TMP_MAX_AGE (24 * 3600) /* a temporary this old belongs to no live process */

struct scan {
  vmpull_cache_entry *v;
  size_t n, cap;
  /* digest -> what it was fetched for, from refs/ */
  char **ref_digest, **ref_key;
  size_t refs;
};

static void entry_clear(vmpull_cache_entry *e) {
  free(e->digest);
  free(e->source);
  free(e->path);
  memset(e, 0, sizeof(*e));
}

VMPULL_PUBLIC void vmpull_cache_entries_free(vmpull_cache_entries *list) {
  if (!list)
    return;
  for (size_t i = 0; i < list->count; i++)
    entry_clear(&list->entries[i]);
  free(list->entries);
  memset(list, 0, sizeof(*list));
}

static void scan_free(struct scan *s) {
  for (size_t i = 0; i < s->n; i++)
    entry_clear(&s->v[i]);
  free(s->v);
  for (size_t i = 0; i < s->refs; i++) {
    free(s->ref_digest[i]);
    free(s->ref_key[i]);
  }
  free(s->ref_digest);
  free(s->ref_key);
  memset(s, 0, sizeof(*s));
}

static int is_hex_name(const char *name) {
  return hex_lower_is(name, 64);
}

static int push(vmpull_cache_entry **v, size_t *n, size_t *cap, vmpull_cache_entry *e) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    vmpull_cache_entry *nv = realloc(*v, nc * sizeof(*nv));
    if (!nv)
      return -ENOMEM;
    *v = nv;
    *cap = nc;
  }
  (*v)[(*n)++] = *e;
  memset(e, 0, sizeof(*e));
  return 0;
}

static const char *ref_source(const struct scan *s, const char *digest) {
  for (size_t i = 0; digest && i < s->refs; i++)
    if (strcmp(s->ref_digest[i], digest) == 0)
      return s->ref_key[i];
  return NULL;
}

static struct plat_dir *open_dir(int dirfd) {
  int fd = plat_openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0)
    return NULL;
  return plat_dir_open(fd);
}

DEFINE_CLEANUP_FUNC(struct plat_dir *, plat_dir_close)
#define _cleanup_dir_ _cleanup_(plat_dir_closep)

/* refs/<name> parsed: *j is NULL when the file is not JSON; < 0 when it is empty or unreadable. */
static int read_ref(int refs_fd, const char *name, json_object **j) {
  _cleanup_close_ int fd = beneath_open_file(refs_fd, name, NULL);
  char buf[16384];
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
  if (n <= 0)
    return -1;
  const char *why;
  if (json_parse_strict(buf, (size_t)n, NULL, j, &why) != JSON_PARSE_OK)
    *j = NULL;
  return 0;
}

static int scan_refs(struct cache *c, struct scan *s) {
  _cleanup_dir_ struct plat_dir *d = open_dir(c->refs_fd);
  if (!d)
    return -errno;
  size_t cap = 0;
  const char *ent;
  while ((ent = plat_dir_read(d))) {
    if (!ends_with_ci(ent, ".json") || ent[0] == '.')
      continue;
    json_object *j;
    if (read_ref(c->refs_fd, ent, &j) < 0)
      continue;
    json_object *dv, *kv;
    if (j && json_object_object_get_ex(j, "digest", &dv) && json_object_object_get_ex(j, "key", &kv) &&
        json_object_is_type(dv, json_type_string) && json_object_is_type(kv, json_type_string)) {
      if (s->refs == cap) {
        size_t nc = cap ? cap * 2 : 16;
        char **a = realloc(s->ref_digest, nc * sizeof(*a));
        if (a)
          s->ref_digest = a;
        char **b = realloc(s->ref_key, nc * sizeof(*b));
        if (b)
          s->ref_key = b;
        if (!a || !b) {
          json_object_put(j);
          return -ENOMEM;
        }
        cap = nc;
      }
      s->ref_digest[s->refs] = strdup(json_object_get_string(dv));
      s->ref_key[s->refs] = strdup(json_object_get_string(kv));
      if (!s->ref_digest[s->refs] || !s->ref_key[s->refs]) {
        free(s->ref_digest[s->refs]);
        free(s->ref_key[s->refs]);
        json_object_put(j);
        return -ENOMEM;
      }
      s->refs++;
    }
    if (j)
      json_object_put(j);
  }
  return 0;
}

static int scan_folder(struct cache *c, struct scan *s, int kind) {
  int dirfd = kind == VMPULL_CACHE_BLOB ? c->blobs_fd : kind == VMPULL_CACHE_DISK ? c->disks_fd : c->partial_fd;
  const char *sub = kind == VMPULL_CACHE_BLOB ? "blobs/sha256" : kind == VMPULL_CACHE_DISK ? "disks/sha256" : "partial";
  _cleanup_dir_ struct plat_dir *d = open_dir(dirfd);
  if (!d)
    return -errno;
  const char *ent;
  while ((ent = plat_dir_read(d))) {
    if (!is_hex_name(ent))
      continue;
    struct stat st;
    if (plat_fstatat(dirfd, ent, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
      continue;
    vmpull_cache_entry e = {.kind = kind, .size = (uint64_t)st.st_size, .last_used = (int64_t)st.st_mtime};
    e.path = xasprintf("%s/%s/%s", c->dir, sub, ent);
    if (kind == VMPULL_CACHE_PARTIAL) {
      struct cache_partial p = {.total = UINT64_MAX};
      if (cache_partial_get(c, ent, &p)) {
        e.source = TAKE_PTR(p.key);
        e.digest = TAKE_PTR(p.digest);
      }
      cache_partial_clear(&p);
    } else {
      e.digest = xasprintf("sha256:%s", ent);
      const char *src = ref_source(s, e.digest);
      if (src)
        e.source = strdup(src);
    }
    /* Records are files anyone who can write the cache could have written: shown clean. */
    if (!e.path || text_clean_in_place(&e.source) < 0 || text_clean_in_place(&e.digest) < 0 ||
        push(&s->v, &s->n, &s->cap, &e) < 0) {
      entry_clear(&e);
      return -ENOMEM;
    }
  }
  return 0;
}

/* Everything in the cache, oldest use first. */
static int scan_all(struct cache *c, struct scan *s, lib_error *err) {
  int r = scan_refs(c, s);
  if (r >= 0)
    r = scan_folder(c, s, VMPULL_CACHE_BLOB);
  if (r >= 0)
    r = scan_folder(c, s, VMPULL_CACHE_DISK);
  if (r >= 0)
    r = scan_folder(c, s, VMPULL_CACHE_PARTIAL);
  if (r < 0)
    return error_set_errno(err, VMPULL_E_IO, -r, "read cache %s", c->dir);
  return 0;
}

static int by_last_use(const void *a, const void *b) {
  const vmpull_cache_entry *x = a, *y = b;
  if (x->last_used != y->last_used)
    return x->last_used < y->last_used ? -1 : 1;
  return strcmp(x->path, y->path);
}

/* A missing cache folder is an empty cache. */
static int open_existing(const char *dir, struct cache **c, lib_error *err) {
  int r = cache_open(dir, 0, c, NULL, err);
  if (r == -VMPULL_E_NOT_FOUND) {
    error_clear(err);
    *c = NULL;
    return 0;
  }
  return r;
}

/* Open and read the whole cache, oldest use first when sorted; *c stays NULL for a missing cache. */
static int open_scanned(const char *cache_dir, int sorted, struct cache **c, struct scan *s, lib_error *err) {
  int r = open_existing(cache_dir, c, err);
  if (r < 0 || !*c)
    return r;
  r = scan_all(*c, s, err);
  if (r < 0) {
    scan_free(s);
    return r;
  }
  if (sorted && s->n) /* qsort(NULL, 0, ...) is undefined behaviour (UBSan reports it) */
    qsort(s->v, s->n, sizeof(*s->v), by_last_use);
  return 0;
}

static void take_result(struct scan *s, vmpull_cache_entries *out) {
  out->entries = TAKE_PTR(s->v);
  out->count = s->n;
  s->n = s->cap = 0;
}

static int cache_list_run(const char *cache_dir, vmpull_cache_entries *out, lib_error *err) {
  error_clear(err);
  if (!out)
    return error_set(err, VMPULL_E_USAGE, "vmpull_cache_list: no result given");
  memset(out, 0, sizeof(*out));
  _cleanup_cache_ struct cache *c = NULL;
  struct scan s = {0};
  int r = open_scanned(cache_dir, 1, &c, &s, err);
  if (r < 0 || !c)
    return r;
  take_result(&s, out);
  scan_free(&s);
  return 0;
}

/* Remove one entry unless a live pull holds it. Returns 1 removed, 0 kept. */
static int remove_entry(struct cache *c, const vmpull_cache_entry *e) {
  const char *name = strrchr(e->path, '/') + 1;
  if (e->kind == VMPULL_CACHE_PARTIAL) {
    _cleanup_close_ int fd = -1;
    if (lock_file_try(c->partial_fd, name, &fd) != 1)
      return 0;
    cache_partial_forget(c, name);
    return plat_unlinkat(c->partial_fd, name, 0) == 0;
  }
  int dirfd = e->kind == VMPULL_CACHE_BLOB ? c->blobs_fd : c->disks_fd;
  if (plat_unlinkat(dirfd, name, 0) < 0)
    return errno == ENOENT;
  if (e->kind == VMPULL_CACHE_DISK) {
    _cleanup_free_ char *meta = xasprintf("%s.json", name);
    if (meta)
      plat_unlinkat(dirfd, meta, 0);
  }
  return 1;
}

/* Refs whose blob is gone, metadata whose data is gone, temporaries nobody finished. */
static void sweep(struct cache *c, int64_t now) {
  int dirs[] = {c->refs_fd, c->partial_fd, c->disks_fd, c->blobs_fd, c->fd};
  for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
    _cleanup_dir_ struct plat_dir *d = open_dir(dirs[i]);
    if (!d)
      continue;
    const char *ent;
    while ((ent = plat_dir_read(d))) {
      struct stat st;
      if (plat_fstatat(dirs[i], ent, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
        continue;
      if (starts_with(ent, ".tmp-")) {
        if (now - (int64_t)st.st_mtime > TMP_MAX_AGE)
          plat_unlinkat(dirs[i], ent, 0);
        continue;
      }
      if (dirs[i] == c->fd || !ends_with_ci(ent, ".json"))
        continue;
      int gone = 0;
      if (dirs[i] == c->refs_fd) {
        json_object *j;
        if (read_ref(c->refs_fd, ent, &j) < 0)
          continue;
        json_object *dv;
        if (j && json_object_object_get_ex(j, "digest", &dv) && json_object_is_type(dv, json_type_string))
          gone = !cache_blob_exists(c, json_object_get_string(dv));
        else
          gone = 1;
        if (j)
          json_object_put(j);
      } else {
        /* partial/<key>.json and disks/sha256/<hex>.json go with their data file. */
        char data[256];
        snprintf(data, sizeof(data), "%.*s", (int)(strlen(ent) - 5), ent);
        struct stat dst;
        gone = plat_fstatat(dirs[i], data, &dst, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
        /* A pull creates the data file before its metadata; give a racing one time. */
        gone = gone && now - (int64_t)st.st_mtime > 60;
      }
      if (gone)
        plat_unlinkat(dirs[i], ent, 0);
    }
  }
}

static int cache_prune_run(const char *cache_dir, int64_t older_than, uint64_t max_size, vmpull_cache_entries *removed,
                           lib_error *err) {
  error_clear(err);
  if (removed)
    memset(removed, 0, sizeof(*removed));
  if (older_than < -1)
    return error_set(err, VMPULL_E_USAGE, "vmpull_cache_prune: negative age");
  _cleanup_cache_ struct cache *c = NULL;
  struct scan s = {0};
  int r = open_scanned(cache_dir, 1, &c, &s, err);
  if (r < 0 || !c)
    return r;
  int64_t now = (int64_t)time(NULL);
  vmpull_cache_entry *gone = NULL;
  size_t ngone = 0, capgone = 0;
  uint64_t total = 0;
  for (size_t i = 0; i < s.n; i++)
    total += s.v[i].size;
  /* Oldest use first, so a size limit removes the least recently used entries. */
  for (size_t i = 0; i < s.n; i++) {
    vmpull_cache_entry *e = &s.v[i];
    int old = older_than == 0 || (older_than > 0 && now - e->last_used >= older_than);
    int over = max_size != UINT64_MAX && total > max_size;
    if (!old && !over)
      continue;
    if (!remove_entry(c, e))
      continue;
    total -= e->size;
    if (removed && push(&gone, &ngone, &capgone, e) < 0)
      entry_clear(e);
  }
  sweep(c, now);
  scan_free(&s);
  if (removed) {
    removed->entries = gone;
    removed->count = ngone;
  }
  return 0;
}

static int cache_verify_run(const char *cache_dir, vmpull_cache_entries *removed, lib_error *err) {
  error_clear(err);
  if (removed)
    memset(removed, 0, sizeof(*removed));
  _cleanup_cache_ struct cache *c = NULL;
  struct scan s = {0};
  int r = open_scanned(cache_dir, 0, &c, &s, err);
  if (r < 0 || !c)
    return r;
  vmpull_cache_entry *bad = NULL;
  size_t nbad = 0, capbad = 0;
  int checked = 0;
  for (size_t i = 0; i < s.n; i++) {
    vmpull_cache_entry *e = &s.v[i];
    int good;
    if (e->kind == VMPULL_CACHE_BLOB)
      good = cache_blob_verify(c, e->digest);
    else if (e->kind == VMPULL_CACHE_DISK)
      good = cache_disk_verify(c, e->digest); /* against the map its record holds */
    else
      continue; /* partials are checked when they are finished */
    if (good < 0 && good != -ENOENT) {
      error_set_errno(err, VMPULL_E_IO, -good, "verify %s", e->path);
      free(bad);
      scan_free(&s);
      return -VMPULL_E_IO;
    }
    if (good == -ENOENT)
      continue;
    checked++;
    if (good)
      continue;
    if (remove_entry(c, e) && removed && push(&bad, &nbad, &capbad, e) < 0)
      entry_clear(e);
  }
  sweep(c, (int64_t)time(NULL));
  scan_free(&s);
  if (removed) {
    removed->entries = bad;
    removed->count = nbad;
  } else {
    free(bad);
  }
  return checked;
}

VMPULL_PUBLIC int vmpull_cache_list(const char *cache_dir, vmpull_cache_entries *out, vmpull_error *err) {
  lib_error e = {0};
  int r = cache_list_run(cache_dir, out, &e);
  error_export(&e, err);
  return r;
}

VMPULL_PUBLIC int vmpull_cache_prune(const char *cache_dir, int64_t older_than, uint64_t max_size,
                                     vmpull_cache_entries *removed, vmpull_error *err) {
  lib_error e = {0};
  int r = cache_prune_run(cache_dir, older_than, max_size, removed, &e);
  error_export(&e, err);
  return r;
}

VMPULL_PUBLIC int vmpull_cache_verify(const char *cache_dir, vmpull_cache_entries *removed, vmpull_error *err) {
  lib_error e = {0};
  int r = cache_verify_run(cache_dir, removed, &e);
  error_export(&e, err);
  return r;
}
