/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The content-addressed cache under --cache-dir:
 *
 *   blobs/sha256/<hex>        artifacts as fetched (compressed), named by their digest:
 *                             the OCI image layout's own blob store shape
 *   disks/sha256/<hex>        decoded disks kept with --keep-uncompressed, named by the
 *   disks/sha256/<hex>.json   digest of the source they came from, and their record: that
 *                             digest, what they are, and the map every use checks them by
 *   partial/<key>             a download being filled or interrupted (the file is also
 *   partial/<key>.json        the entry's lock) and its validators, for resume
 *   refs/<key>.json           what was asked for (URL, reference) -> digest + validators
 *
 * <key> is the sha256 of what was asked for, so any URL maps to a safe name.
 * A blob only appears under its digest (by rename) after its digest checked,
 * and every read of a blob checks it again, so nothing here needs fsync:
 * whatever a crash leaves is caught on the next read and fetched again. A kept
 * disk is checked against its record on every use the same way; only the record
 * is fsynced before it gets its name, since it is what the disk is checked by.
 * Entries age by last use: a blob's or disk's mtime is set whenever it is used.
 */
#ifndef VMPULL_CACHE_H
#define VMPULL_CACHE_H

#include "base/util.h"
#include "pipeline/disk_map.h"
#include "pipeline/source.h"

#include <stdint.h>
#include <time.h>

struct cache {
  char *dir;
  int fd;         /* the cache folder */
  int blobs_fd;   /* blobs/sha256 */
  int disks_fd;   /* disks/sha256 */
  int partial_fd; /* partial */
  int refs_fd;    /* refs */
};

/* Open dir. create: make the folders (0700) when missing; without it a missing
 * cache is VMPULL_E_NOT_FOUND. dir itself may be a link; below it nothing is followed
 * (fs_beneath.h): a link where a folder of the cache should be fails, naming it, and
 * sets *refused (may be NULL), so that a pull stops rather than going on without the cache. */
int cache_open(const char *dir, int create, struct cache **out, int *refused, lib_error *err);
void cache_free(struct cache *c);
static inline void cache_freep(struct cache **c) {
  cache_free(*c);
}
#define _cleanup_cache_ _cleanup_(cache_freep)

/* The file name that stands for a key: sha256 hex of it. */
void cache_key_name(const char *key, char out[65]);
/* "sha256:<64 lowercase hex>": the only digests the cache stores. Returns the hex or NULL. */
const char *cache_digest_hex(const char *digest);

/* Open blobs/sha256/<hex> as a byte source and mark it used. -VMPULL_E_NOT_FOUND when absent. */
int cache_blob_open(struct cache *c, const char *digest, struct byte_source **out, lib_error *err);
int cache_blob_exists(struct cache *c, const char *digest);
/* Remove a blob and every ref that points at it. */
void cache_blob_remove(struct cache *c, const char *digest);
/* Hash a blob against its name: 1 good, 0 damaged, < 0 cannot tell (-errno). */
int cache_blob_verify(struct cache *c, const char *digest);
/* Small documents (manifests, stream metadata): read a whole blob, checking its digest. */
int cache_blob_read(struct cache *c, const char *digest, size_t max, char **body, size_t *len, lib_error *err);
/* Store buf as a blob; its digest goes to digest_out. */
int cache_blob_write(struct cache *c, const void *buf, size_t len, char digest_out[80], lib_error *err);
/* Move partial/<name> (fd, filled and checked) to blobs/sha256/<hex of digest>. */
int cache_commit_partial(struct cache *c, const char *name, int fd, const char *digest, lib_error *err);

struct cache_ref {
  char *key;    /* what was asked for: a URL (credentials removed), a reference */
  char *digest; /* what it was: "sha256:..." */
  char *etag;   /* validators for a conditional request, or NULL */
  char *last_modified;
  char *content_disposition; /* filename= of the response, for the naming rule */
  char *media_type;          /* for manifests */
  uint64_t size;
  time_t stored; /* cache_ref_get: when the record was written (its file's mtime); 0: not known */
};
void cache_ref_clear(struct cache_ref *r);
/* 1 found (r filled), 0 not there (or unreadable: a miss, not an error). */
int cache_ref_get(struct cache *c, const char *key, struct cache_ref *r);
int cache_ref_put(struct cache *c, const struct cache_ref *r, lib_error *err);

/* Bytes [start, end) of a partial file. */
struct cache_extent {
  uint64_t start, end;
};

struct cache_partial {
  char *key;
  char *etag;
  char *last_modified;
  char *digest;   /* expected digest when known, else NULL */
  uint64_t total; /* expected size, UINT64_MAX when unknown */
  /* A segmented download (net/http_segments.h) fills the file out of order: then the record
   * says which bytes it holds ("segments": [[start, end], ...], each synced before the record
   * naming it was written), and the file's length says nothing. Without it (an older record, a
   * download on one connection) the file holds its first st_size bytes. A segmented record keeps
   * its key as "segmented_key": an older vmpull finds no record there and starts over. */
  int segmented;
  struct cache_extent *extents; /* sorted, within total (owned) */
  size_t n_extents;
};
void cache_partial_clear(struct cache_partial *p);
/* 1 found, 0 none. A "segments" member that is not a list of [start, end] pairs (0 <= start <
 * end <= size, ascending, apart) reads as segmented with no bytes: nothing of it is trusted. */
int cache_partial_get(struct cache *c, const char *name, struct cache_partial *p);
/* A segmented record is written durably (fsync before the rename): it names bytes already synced. */
int cache_partial_put(struct cache *c, const char *name, const struct cache_partial *p, lib_error *err);
/* The "segments" member's parser, strict (exposed for unit tests): 0 with *out, *n filled (owned),
 * -EBADMSG, or -ENOMEM. */
int cache_extents_parse(const char *json, size_t len, uint64_t total, struct cache_extent **out, size_t *n);
/* Forget the metadata (the data file is the lock and goes by rename or unlink by its holder). */
void cache_partial_forget(struct cache *c, const char *name);

/* Kept disks (lib/store/cache_disk.c). A kept disk is only trusted with its record,
 * disks/sha256/<hex>.json: the source digest it was decoded from, its size, and the map of
 * its chunks (lib/pipeline/disk_map.h) that the writer recorded as it wrote the disk. */
struct cache_disk {
  char *format;        /* format the disk was decoded from ("xz") */
  char *image_name;    /* the image file name (for a tar layer: the file inside), or NULL */
  uint64_t fetched;    /* size of the source as fetched */
  uint64_t size;       /* size of the disk */
  struct disk_map map; /* what the disk holds, chunk by chunk */
};
void cache_disk_clear(struct cache_disk *d);
/* Open disks/sha256/<hex> for reading with its record, and mark it used: 1 found (*fd, d
 * filled), 0 none, -EBADMSG a disk without a valid record for this digest and its size (an
 * older vmpull's, a crash, a hand edit, another digest's: not to be trusted). The record is
 * not compared with the disk's bytes here: that is disk_copy_checked's job, in its one read. */
int cache_disk_open(struct cache *c, const char *digest, int *fd, struct cache_disk *d);
/* Is a file there under the digest's name (valid or not)? */
int cache_disk_exists(struct cache *c, const char *digest);
/* Is a kept disk with a valid record there (without marking it used or reading it)? 1 yes, 0 no. */
int cache_disk_check(struct cache *c, const char *digest);
/* Read the whole kept disk against its record: 1 good, 0 bad (a missing or invalid record
 * too), < 0 cannot tell (-errno; -ENOENT: it is gone). */
int cache_disk_verify(struct cache *c, const char *digest);
/* Remove a kept disk and its record; with fd >= 0 only while the disk under the name is still
 * the file fd (a concurrent pull may have kept a new one meanwhile). */
void cache_disk_drop(struct cache *c, const char *digest, int fd);
/* Keep a copy of the decoded disk in fd (d->size bytes, d->map its map) for the source digest. */
int cache_disk_store(struct cache *c, const char *digest, int fd, const struct cache_disk *d, lib_error *err);
/* The record's text, and its strict parser: for this digest and a disk of size bytes only
 * (exposed for unit tests). Parse: 0, -EBADMSG for anything malformed, -ENOMEM. */
char *cache_disk_record_format(const char *digest, const struct cache_disk *d);
int cache_disk_record_parse(const char *text, size_t len, const char *digest, uint64_t size, struct cache_disk *d);
/* The largest record a disk of size bytes can have: larger files are not read. */
uint64_t cache_disk_record_max(uint64_t size);

/* Write buf to dirfd/name atomically (temporary + rename). Returns 0 or -errno. */
int cache_write_file(int dirfd, const char *name, const void *buf, size_t len);
/* The same with fsync before the rename: the file is on disk once it has its name. */
int cache_write_file_durable(int dirfd, const char *name, const void *buf, size_t len);
/* A temporary's name in the cache (.tmp-<random>, which prune's sweep recognises), or NULL. */
char *cache_tmp_name(void);
/* Set a file's mtime (its last use) to now. */
void cache_touch(int dirfd, const char *name);

#endif
