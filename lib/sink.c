/* SPDX-License-Identifier: Apache-2.0 */
#include "sink.h"

#include "error.h"
#include "progress.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#define TMP_INFIX ".vmpull-tmp-"
#define SINK_WRITEBACK (32u << 20)

int sink_block_is_zero(const uint8_t *p) {
  /* Words, not bytes; checking the first word alone rejects most data blocks at once. */
  typedef uint64_t __attribute__((may_alias, aligned(1))) word;
  const word *w = (const word *)(const void *)p;
  if (w[0])
    return 0;
  for (size_t i = 0; i < SINK_BLOCK / 8; i += 8) {
    if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
      return 0;
  }
  return 1;
}

static void random_suffix(char out[13]) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  uint8_t rnd[12];
  if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
    uint64_t t = now_ns() ^ (uint64_t)getpid();
    memcpy(rnd, &t, 8);
    memcpy(rnd + 8, &t, 4);
  }
  for (int i = 0; i < 12; i++)
    out[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
  out[12] = '\0';
}

/* A fresh temporary name for s: ".<base>" TMP_INFIX "<random>"; -1 when out of memory. */
static int new_tmp_name(struct sink *s) {
  char rnd[13];
  random_suffix(rnd);
  free(s->tmp_name);
  s->tmp_name = xasprintf(".%s" TMP_INFIX "%s", s->base, rnd);
  return s->tmp_name ? 0 : -1;
}

/* Named temporaries left by a crashed run: each live one is flock()ed by its writer. */
static void remove_stale_temporaries(int dirfd, const char *base) {
  _cleanup_free_ char *prefix = xasprintf(".%s" TMP_INFIX, base);
  if (!prefix)
    return;
  int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return;
  DIR *d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    return;
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!starts_with(de->d_name, prefix))
      continue;
    _cleanup_close_ int fd = openat(dirfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
      unlinkat(dirfd, de->d_name, 0);
  }
  closedir(d);
}

int sink_open(struct sink *s, const char *path, const struct sink_options *o, vmpull_error *err) {
  *s = (struct sink)SINK_INIT;
  s->o = *o;
  if (!s->o.mode)
    s->o.mode = 0644;
  s->path = strdup(path);
  _cleanup_free_ char *dcopy = strdup(path);
  _cleanup_free_ char *bcopy = strdup(path);
  if (!s->path || !dcopy || !bcopy)
    return error_oom(err);
  const char *base = basename(bcopy);
  if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || path[strlen(path) - 1] == '/')
    return error_set(err, VMPULL_E_USAGE, "output %s: not a file name", path);
  s->base = strdup(base);
  if (!s->base)
    return error_oom(err);
  const char *dir = dirname(dcopy);
  s->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (s->dirfd < 0)
    return error_set_errno(err, errno == ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, errno, "output folder %s", dir);

  struct stat st;
  if (fstatat(s->dirfd, s->base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!s->o.replace)
      return error_set(err, VMPULL_E_EXISTS, "output %s already exists (use --replace to overwrite it)", path);
    if (S_ISDIR(st.st_mode))
      return error_set(err, VMPULL_E_EXISTS, "output %s is a directory", path);
  }

  /* Also where O_TMPFILE works: a crash between linking and renaming (--replace) leaves one. */
  remove_stale_temporaries(s->dirfd, s->base);

  if (!s->o.force_named_tmp) {
    s->fd = openat(s->dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, s->o.mode);
    if (s->fd >= 0) {
      /* Held until close, so that once linked under a temporary name it is not taken for stale. */
      (void)flock(s->fd, LOCK_EX | LOCK_NB);
      return 0;
    }
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT)
      return error_set_errno(err, VMPULL_E_IO, errno, "create temporary file in %s", dir);
  }

  for (int attempt = 0; attempt < 16; attempt++) {
    if (new_tmp_name(s) < 0)
      return error_oom(err);
    s->fd = openat(s->dirfd, s->tmp_name, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, s->o.mode);
    if (s->fd >= 0)
      break;
    if (errno != EEXIST)
      return error_set_errno(err, VMPULL_E_IO, errno, "create temporary file in %s", dir);
  }
  if (s->fd < 0)
    return error_set(err, VMPULL_E_IO, "create temporary file in %s: no free name", dir);
  /* Held until close: tells a later run this temporary is still being written. */
  (void)flock(s->fd, LOCK_EX | LOCK_NB);
  return 0;
}

/* Write whole blocks at file offset off (block aligned): zero blocks become holes. */
static int write_blocks(struct sink *s, const uint8_t *buf, size_t len, uint64_t off, vmpull_error *err) {
  size_t run_start = 0;
  int in_run = 0;
  for (size_t i = 0; i <= len; i += SINK_BLOCK) {
    int zero = i < len && sink_block_is_zero(buf + i);
    if (i < len && !zero) {
      if (!in_run) {
        in_run = 1;
        run_start = i;
      }
      continue;
    }
    if (in_run) {
      int r = pwrite_all(s->fd, buf + run_start, i - run_start, off + run_start);
      if (r < 0)
        return error_set_errno(err, VMPULL_E_IO, -r, "write %s", s->path);
      s->data_bytes += i - run_start;
      in_run = 0;
    }
  }
  return 0;
}

/* Every SINK_WRITEBACK bytes, start writing the page cache out without waiting for it: the disk
 * works while the decoder does, the fsync at commit finds little left (it was 0.4-0.7 s of idle
 * wall time for a 2 GiB image; bench/), and dirty pages never pile up to gigabytes. Only a
 * hint: a failure shows at fsync. */
static void start_writeback(struct sink *s) {
  uint64_t end = s->offset - s->pending_len;
  if (end - s->writeback_from < SINK_WRITEBACK)
    return;
  (void)sync_file_range(s->fd, (off_t)s->writeback_from, (off_t)(end - s->writeback_from), SYNC_FILE_RANGE_WRITE);
  s->writeback_from = end;
}

int sink_write(struct sink *s, const uint8_t *buf, size_t len, vmpull_error *err) {
  if (len == 0)
    return 0;
  if (s->o.progress) {
    /* Decoders may turn one read into gigabytes of zeros: cancellation must not wait for the next read. */
    s->o.progress->ev.written = s->offset;
    int r = progress_report(s->o.progress, 0, err);
    if (r < 0)
      return r;
  }
  if (s->o.max_size != UINT64_MAX && (s->offset > s->o.max_size || len > s->o.max_size - s->offset))
    return error_set(err, VMPULL_E_LIMIT, "output exceeds the size limit of %llu bytes (--max-size)",
                     (unsigned long long)s->o.max_size);
  /* Decoders hand over chunks of any length; a partial block waits in pending so
   * that hole detection always sees whole, aligned blocks (at most one 4 KiB copy). */
  uint64_t block_off = s->offset - s->pending_len;
  s->offset += len;
  if (s->pending_len) {
    size_t n = MIN(len, (size_t)SINK_BLOCK - s->pending_len);
    memcpy(s->pending + s->pending_len, buf, n);
    s->pending_len += n;
    buf += n;
    len -= n;
    if (s->pending_len < SINK_BLOCK)
      return 0;
    int r = write_blocks(s, s->pending, SINK_BLOCK, block_off, err);
    if (r < 0)
      return r;
    block_off += SINK_BLOCK;
    s->pending_len = 0;
  }
  size_t whole = len - len % SINK_BLOCK;
  int r = write_blocks(s, buf, whole, block_off, err);
  if (r < 0)
    return r;
  memcpy(s->pending, buf + whole, len - whole);
  s->pending_len = len - whole;
  start_writeback(s);
  return 0;
}

void sink_declare_size(struct sink *s, uint64_t size) {
  s->declared = size;
}

static int link_tmpfile(struct sink *s, const char *name) {
  if (linkat(s->fd, "", s->dirfd, name, AT_EMPTY_PATH) == 0)
    return 0;
  if (errno != ENOENT && errno != EPERM)
    return -errno;
  /* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc route does not. */
  char proc[64];
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", s->fd);
  if (linkat(AT_FDCWD, proc, s->dirfd, name, AT_SYMLINK_FOLLOW) == 0)
    return 0;
  return -errno;
}

int sink_commit(struct sink *s, uint64_t *allocated, vmpull_error *err) {
  if (s->declared != UINT64_MAX && s->declared != s->offset)
    return error_set(err, VMPULL_E_CORRUPT, "decompressed %llu bytes but the image declares %llu",
                     (unsigned long long)s->offset, (unsigned long long)s->declared);
  if (s->pending_len) {
    uint64_t off = s->offset - s->pending_len;
    size_t n = s->pending_len;
    int zero = 1;
    for (size_t i = 0; i < n && zero; i++)
      zero = s->pending[i] == 0;
    if (!zero) {
      int r = pwrite_all(s->fd, s->pending, n, off);
      if (r < 0)
        return error_set_errno(err, VMPULL_E_IO, -r, "write %s", s->path);
      s->data_bytes += n;
    }
    s->pending_len = 0;
  }
  if (ftruncate(s->fd, (off_t)s->offset) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "set size of %s", s->path);
  if (fsync(s->fd) < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "fsync %s", s->path);

  if (!s->tmp_name) {
    if (!s->o.replace) {
      int r = link_tmpfile(s, s->base);
      if (r == -EEXIST)
        return error_set(err, VMPULL_E_EXISTS, "output %s already exists (use --replace to overwrite it)", s->path);
      if (r < 0)
        return error_set_errno(err, VMPULL_E_IO, -r, "link %s", s->path);
    } else {
      /* linkat cannot replace: link under a private name, then rename over. */
      int r = -EEXIST;
      for (int attempt = 0; attempt < 16 && r == -EEXIST; attempt++) {
        if (new_tmp_name(s) < 0)
          return error_oom(err);
        r = link_tmpfile(s, s->tmp_name);
      }
      if (r < 0) {
        free(s->tmp_name);
        s->tmp_name = NULL;
        return error_set_errno(err, VMPULL_E_IO, -r, "link %s", s->path);
      }
    }
  }
  if (s->tmp_name) {
    if (s->o.replace) {
      if (renameat(s->dirfd, s->tmp_name, s->dirfd, s->base) < 0)
        return error_set_errno(err, VMPULL_E_IO, errno, "rename into %s", s->path);
    } else if (renameat2(s->dirfd, s->tmp_name, s->dirfd, s->base, RENAME_NOREPLACE) < 0) {
      if (errno == EEXIST)
        return error_set(err, VMPULL_E_EXISTS, "output %s already exists (use --replace to overwrite it)", s->path);
      if (errno != EINVAL && errno != ENOSYS)
        return error_set_errno(err, VMPULL_E_IO, errno, "rename into %s", s->path);
      /* No RENAME_NOREPLACE on this filesystem: link() refuses to clobber too. */
      if (linkat(s->dirfd, s->tmp_name, s->dirfd, s->base, 0) < 0)
        return error_set_errno(err, errno == EEXIST ? VMPULL_E_EXISTS : VMPULL_E_IO, errno, "link %s", s->path);
      unlinkat(s->dirfd, s->tmp_name, 0);
    }
    free(s->tmp_name);
    s->tmp_name = NULL;
  }
  s->committed = 1;
  /* Make the new name durable too. */
  int dfd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  struct stat st;
  if (allocated)
    *allocated = fstat(s->fd, &st) == 0 ? (uint64_t)st.st_blocks * 512u : 0;
  return 0;
}

void sink_close(struct sink *s) {
  if (s->tmp_name && s->dirfd >= 0)
    unlinkat(s->dirfd, s->tmp_name, 0);
  closep(&s->fd);
  closep(&s->dirfd);
  free(s->tmp_name);
  free(s->base);
  free(s->path);
  *s = (struct sink)SINK_INIT;
}
