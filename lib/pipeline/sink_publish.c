/* SPDX-License-Identifier: Apache-2.0 */
/* The output's own file, a part of sink.c's module: its temporary, made beside the final name
 * (O_TMPFILE, else a named one that a crashed run's successor removes), and its publishing under
 * that name (linkat, or rename over with --replace), so that no half-written disk is ever seen under
 * the name and nothing there is clobbered without --replace. */
#include "base/error.h"
#include "base/fs_atomic.h"
#include "base/platform.h"
#include "base/util.h"
#include "pipeline/sink.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>

#define TMP_INFIX ".vmpull-tmp-"

/* A fresh temporary name for s: ".<base>" TMP_INFIX "<random>"; -1 when out of memory. */
static int new_tmp_name(struct sink *s) {
  char rnd[13];
  random_name(rnd, 12);
  free(s->tmp_name);
  s->tmp_name = xasprintf(".%s" TMP_INFIX "%s", s->base, rnd);
  return s->tmp_name ? 0 : -1;
}

/* Named temporaries left by a crashed run: each live one is flock()ed by its writer. */
static void remove_stale_temporaries(int dirfd, const char *base) {
  _cleanup_free_ char *prefix = xasprintf(".%s" TMP_INFIX, base);
  if (!prefix)
    return;
  int dfd = plat_openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dfd < 0)
    return;
  struct plat_dir *d = plat_dir_open(dfd);
  if (!d)
    return;
  const char *name;
  while ((name = plat_dir_read(d))) {
    if (!starts_with(name, prefix))
      continue;
    _cleanup_close_ int fd = plat_openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd >= 0 && plat_flock(fd, LOCK_EX | LOCK_NB) == 0)
      plat_unlinkat(dirfd, name, 0);
  }
  plat_dir_close(d);
}

/* What --replace may replace: a regular file, or a symlink (the link itself, never its target). A
 * FIFO, a device or a folder there is not an old disk: refused, naming what it is. */
static int replaceable(const struct stat *st, const char *path, lib_error *err) {
  if (S_ISREG(st->st_mode) || S_ISLNK(st->st_mode))
    return 0;
  const char *what = S_ISDIR(st->st_mode)    ? "a directory"
                     : S_ISFIFO(st->st_mode) ? "a FIFO (named pipe)"
                     : S_ISCHR(st->st_mode)  ? "a character device"
                     : S_ISBLK(st->st_mode)  ? "a block device"
                     : S_ISSOCK(st->st_mode) ? "a socket"
                                             : "not a regular file";
  return error_set(err, VMPULL_E_EXISTS, "output %s is %s; --replace replaces only a regular file", path, what);
}

static int link_tmpfile(struct sink *s, const char *name) {
  return tmpfile_link(s->fd, s->dirfd, name);
}

int sink_tmp_create(struct sink *s, const char *path, lib_error *err) {
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
  s->dirfd = s->o.in_folder ? plat_dup_cloexec(s->o.folder_fd, 0)
                            : plat_openat(AT_FDCWD, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  if (s->dirfd < 0)
    return error_set_errno(err, errno == ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, errno, "output folder %s", dir);

  struct stat st;
  if (plat_fstatat(s->dirfd, s->base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!s->o.replace)
      return error_set(err, VMPULL_E_EXISTS, "output %s already exists (use --replace to overwrite it)", path);
    int r = replaceable(&st, path, err);
    if (r < 0)
      return r;
  }

  /* Also where O_TMPFILE works: a crash between linking and renaming (--replace) leaves one. */
  remove_stale_temporaries(s->dirfd, s->base);

  if (!s->o.force_named_tmp) {
    s->fd = plat_tmpfile_open(s->dirfd, ".", s->o.mode);
    if (s->fd >= 0) {
      /* Held until close, so that once linked under a temporary name it is not taken for stale. */
      (void)plat_flock(s->fd, LOCK_EX | LOCK_NB);
      (void)plat_set_sparse(s->fd); /* (Windows: holes only in a file marked sparse) */
      return 0;
    }
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT)
      return error_set_errno(err, VMPULL_E_IO, errno, "create temporary file in %s", dir);
  }

  for (int attempt = 0; attempt < 16; attempt++) {
    if (new_tmp_name(s) < 0)
      return error_oom(err);
    s->fd = plat_openat(s->dirfd, s->tmp_name, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, s->o.mode);
    if (s->fd >= 0)
      break;
    if (errno != EEXIST)
      return error_set_errno(err, VMPULL_E_IO, errno, "create temporary file in %s", dir);
  }
  if (s->fd < 0)
    return error_set(err, VMPULL_E_IO, "create temporary file in %s: no free name", dir);
  /* Held until close: tells a later run this temporary is still being written. */
  (void)plat_flock(s->fd, LOCK_EX | LOCK_NB);
  (void)plat_set_sparse(s->fd);
  return 0;
}

int sink_publish(struct sink *s, uint64_t *allocated, lib_error *err) {
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
      /* Checked again: something else may have appeared there while the disk was written. */
      struct stat st;
      if (plat_fstatat(s->dirfd, s->base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        int r = replaceable(&st, s->path, err);
        if (r < 0)
          return r;
      }
      if (plat_renameat(s->dirfd, s->tmp_name, s->dirfd, s->base) < 0)
        return error_set_errno(err, VMPULL_E_IO, errno, "rename into %s", s->path);
    } else if (plat_rename_noreplace(s->dirfd, s->tmp_name, s->dirfd, s->base) < 0) {
      if (errno == EEXIST)
        return error_set(err, VMPULL_E_EXISTS, "output %s already exists (use --replace to overwrite it)", s->path);
      if (errno != EINVAL && errno != ENOSYS)
        return error_set_errno(err, VMPULL_E_IO, errno, "rename into %s", s->path);
      /* No RENAME_NOREPLACE on this filesystem: link() refuses to clobber too. */
      if (plat_linkat(s->dirfd, s->tmp_name, s->dirfd, s->base) < 0)
        return error_set_errno(err, errno == EEXIST ? VMPULL_E_EXISTS : VMPULL_E_IO, errno, "link %s", s->path);
      plat_unlinkat(s->dirfd, s->tmp_name, 0);
    }
    free(s->tmp_name);
    s->tmp_name = NULL;
  }
  s->committed = 1;
  /* Make the new name durable too. */
  int dfd = plat_openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dfd >= 0) {
    (void)plat_fsync(dfd);
    close(dfd);
  }
  struct stat st;
  if (allocated)
    *allocated = fstat(s->fd, &st) == 0 ? plat_allocated_bytes(s->fd, &st) : 0;
  return 0;
}
