/* SPDX-License-Identifier: Apache-2.0 */
#include "base/fs_beneath.h"

#include "base/error.h"
#include "base/platform.h"
#include "base/util.h"

#include <fcntl.h>
#include <limits.h>

static int forced_fallback;

void beneath_force_fallback(int on) {
  __atomic_store_n(&forced_fallback, on, __ATOMIC_RELAXED);
}

/* 0: every call walks one component at a time (tests); plat_open_beneath may still answer -ENOSYS. */
static int use_openat2(void) {
  return !__atomic_load_n(&forced_fallback, __ATOMIC_RELAXED);
}

static int is_link(int dirfd, const char *name) {
  struct stat st;
  return plat_fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

/* A folder on the way, entered without following a link: -ELOOP for a link. */
static int enter(int dirfd, const char *name) {
  int fd = plat_openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
  if (fd >= 0)
    return fd;
  return errno == ENOTDIR && is_link(dirfd, name) ? -ELOOP : -errno;
}

/* The folder holding path's last component, reached one component at a time; *leaf points into
 * copy (the last component; "" or "." when path names dirfd itself). Returns a new fd or -errno. */
static int walk_to_parent(int dirfd, char *copy, char **leaf) {
  if (copy[0] == '/')
    return -EXDEV;
  _cleanup_close_ int cur = plat_openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  if (cur < 0)
    return -errno;
  char *c = copy;
  for (;;) {
    char *slash = strchr(c, '/');
    if (slash)
      *slash = '\0';
    if (!strcmp(c, ".."))
      return -EXDEV;
    char *rest = slash ? slash + 1 : NULL;
    while (rest && *rest == '/')
      rest++;
    if (!rest || !*rest) {
      *leaf = c;
      return TAKE_FD(cur);
    }
    if (*c && strcmp(c, ".") != 0) {
      int fd = enter(cur, c);
      if (fd < 0)
        return fd;
      closep(&cur);
      cur = fd;
    }
    c = rest;
  }
}

/* The folder holding path's last component, by openat2 or by the walk; *leaf as walk_to_parent. */
static int open_parent(int dirfd, char *copy, char **leaf) {
  char *slash = strrchr(copy, '/');
  const char *last = slash ? slash + 1 : NULL;
  if (!use_openat2() || !slash || slash == copy || !*last || !strcmp(last, ".") || !strcmp(last, ".."))
    return walk_to_parent(dirfd, copy, leaf);
  *slash = '\0';
  int fd = plat_open_beneath(dirfd, copy, O_PATH | O_DIRECTORY, 0);
  if (fd != -ENOSYS) {
    *leaf = slash + 1;
    return fd;
  }
  *slash = '/';
  return walk_to_parent(dirfd, copy, leaf);
}

/* The folder holding path's last component, opened (by the walk; by openat2 too when resolved),
 * and that component's name copied into leaf ("" when path names dirfd itself). Returns the fd or
 * -errno (-ENAMETOOLONG for a name no folder can hold). */
static int parent_of(int dirfd, const char *path, int resolved, char leaf[NAME_MAX + 1]) {
  _cleanup_free_ char *copy = strdup(path);
  if (!copy)
    return -ENOMEM;
  char *last = NULL;
  _cleanup_close_ int parent = resolved ? open_parent(dirfd, copy, &last) : walk_to_parent(dirfd, copy, &last);
  if (parent < 0)
    return parent;
  if (strlen(last) > NAME_MAX)
    return -ENAMETOOLONG;
  strcpy(leaf, last);
  return TAKE_FD(parent);
}

static int open_walked(int dirfd, const char *path, int flags, mode_t mode) {
  char leaf[NAME_MAX + 1];
  _cleanup_close_ int parent = parent_of(dirfd, path, 0, leaf);
  if (parent < 0)
    return parent;
  const char *name = *leaf ? leaf : ".";
  _cleanup_close_ int fd = plat_openat(parent, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0)
    return (errno == ENOTDIR || errno == ELOOP) && is_link(parent, name) ? -ELOOP : -errno;
  if (flags & O_PATH) {
    /* O_PATH | O_NOFOLLOW opens a link itself rather than failing. */
    struct stat st;
    if (fstat(fd, &st) < 0)
      return -errno;
    if (S_ISLNK(st.st_mode))
      return -ELOOP;
  }
  return TAKE_FD(fd);
}

int beneath_open(int dirfd, const char *path, int flags, mode_t mode) {
  if (use_openat2()) {
    int fd = plat_open_beneath(dirfd, path, flags, mode);
    if (fd != -ENOSYS)
      return fd;
  }
  return open_walked(dirfd, path, flags, mode);
}

int beneath_open_file(int dirfd, const char *path, struct stat *st) {
  _cleanup_close_ int fd = beneath_open(dirfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
  if (fd < 0)
    return fd;
  struct stat own;
  if (!st)
    st = &own;
  if (fstat(fd, st) < 0)
    return -errno;
  if (!S_ISREG(st->st_mode))
    return -EINVAL;
  if (plat_set_blocking(fd) < 0)
    return -errno;
  return TAKE_FD(fd);
}

int beneath_mkdirs(int dirfd, const char *path, mode_t mode, int *created) {
  if (created)
    *created = 0;
  if (path[0] == '/')
    return -EXDEV;
  _cleanup_free_ char *copy = strdup(path);
  if (!copy)
    return -ENOMEM;
  _cleanup_close_ int cur = plat_openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (cur < 0)
    return -errno;
  char *save = NULL;
  for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
    if (!strcmp(c, ".."))
      return -EXDEV;
    if (!strcmp(c, "."))
      continue;
    /* mkdirat never follows a link at the name (EEXIST); the open then refuses it. */
    int made = plat_mkdirat(cur, c, mode) == 0;
    if (!made && errno != EEXIST)
      return -errno;
    int fd = plat_openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0)
      return errno == ENOTDIR && is_link(cur, c) ? -ELOOP : -errno;
    closep(&cur);
    cur = fd;
    if (created)
      *created = made;
  }
  return TAKE_FD(cur);
}

int beneath_unlink(int dirfd, const char *path, int flags) {
  char leaf[NAME_MAX + 1];
  _cleanup_close_ int parent = parent_of(dirfd, path, 1, leaf);
  if (parent < 0)
    return parent;
  if (!*leaf)
    return -EINVAL;
  return plat_unlinkat(parent, leaf, flags) < 0 ? -errno : 0;
}

int beneath_stat(int dirfd, const char *path, struct stat *st) {
  char leaf[NAME_MAX + 1];
  _cleanup_close_ int parent = parent_of(dirfd, path, 1, leaf);
  if (parent < 0)
    return parent;
  return plat_fstatat(parent, *leaf ? leaf : ".", st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

enum culprit { CULPRIT_NONE, CULPRIT_LINK, CULPRIT_NOT_FOLDER, CULPRIT_OUTSIDE };

/* Walk path again to find what stopped it; *len is the length of the prefix that names it. */
static enum culprit find_culprit(int dirfd, const char *path, size_t *len) {
  if (path[0] == '/') {
    *len = strlen(path);
    return CULPRIT_OUTSIDE;
  }
  _cleanup_close_ int cur = plat_openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  if (cur < 0)
    return CULPRIT_NONE;
  size_t at = 0;
  while (path[at]) {
    size_t n = strcspn(path + at, "/");
    char name[NAME_MAX + 1];
    if (n > NAME_MAX)
      return CULPRIT_NONE;
    memcpy(name, path + at, n);
    name[n] = '\0';
    *len = at + n;
    int last = !path[at + n] || !path[at + n + 1];
    if (!strcmp(name, ".."))
      return CULPRIT_OUTSIDE;
    if (n && strcmp(name, ".") != 0) {
      struct stat st;
      if (plat_fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return CULPRIT_NONE;
      if (S_ISLNK(st.st_mode))
        return CULPRIT_LINK;
      if (last)
        return CULPRIT_NONE;
      if (!S_ISDIR(st.st_mode))
        return CULPRIT_NOT_FOLDER;
      int fd = plat_openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
      if (fd < 0)
        return CULPRIT_NONE;
      closep(&cur);
      cur = fd;
    }
    at += n + (path[at + n] == '/');
  }
  return CULPRIT_NONE;
}

int beneath_error(lib_error *err, int code, int neg_errno, int dirfd, const char *top, const char *path,
                  const char *doing) {
  int e = -neg_errno;
  if (e == ELOOP || e == EXDEV || e == ENOTDIR) {
    size_t len = 0;
    switch (find_culprit(dirfd, path, &len)) {
    case CULPRIT_LINK:
      return error_set(err, VMPULL_E_IO, "%s/%.*s is a symbolic link (not followed below %s)", top, (int)len, path,
                       top);
    case CULPRIT_NOT_FOLDER: return error_set(err, VMPULL_E_IO, "%s/%.*s is not a folder", top, (int)len, path);
    case CULPRIT_OUTSIDE: return error_set(err, VMPULL_E_IO, "%s/%s: the path leaves %s", top, path, top);
    case CULPRIT_NONE:
      if (e == ELOOP)
        return error_set(err, VMPULL_E_IO, "%s/%s: a symbolic link on the way (not followed below %s)", top, path, top);
      break;
    }
  }
  if (e == EINVAL)
    return error_set(err, VMPULL_E_IO, "%s/%s is not a regular file", top, path);
  return error_set_errno(err, code, e, "%s %s/%s", doing, top, path);
}

int beneath_read_small(int dirfd, const char *top, const char *path, size_t max, char **out, size_t *len,
                       lib_error *err) {
  struct stat st;
  _cleanup_close_ int fd = beneath_open_file(dirfd, path, &st);
  if (fd == -ENOENT)
    return 0;
  if (fd < 0)
    return beneath_error(err, VMPULL_E_IO, fd, dirfd, top, path, "open");
  int r = (uint64_t)st.st_size > max ? -EFBIG : read_fd_limited(fd, max, out, len);
  if (r == -EFBIG)
    return max >= (1u << 20)
               ? error_set(err, VMPULL_E_LIMIT, "%s: %s is more than the %zu MiB limit", top, path, max >> 20)
               : error_set(err, VMPULL_E_LIMIT, "%s: %s is more than %zu bytes", top, path, max);
  if (r < 0)
    return error_set_errno(err, VMPULL_E_IO, -r, "%s: read %s", top, path);
  return 1;
}
