/* SPDX-License-Identifier: Apache-2.0 */
#include "base/dir_list.h"

#include "base/platform.h"
#include "base/util.h"

#include <fcntl.h>

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void dir_list_free(char **names, int n) {
  for (int i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

int dir_list(const char *path, char ***names) {
  *names = NULL;
  int fd = plat_openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  struct plat_dir *d = plat_dir_open(fd);
  if (!d)
    return -1;
  char **v = NULL;
  int n = 0, e = 0;
  const char *name;
  errno = 0;
  while ((name = plat_dir_read(d))) {
    char **grown = n % 32 ? v : realloc(v, ((size_t)n + 32) * sizeof(*v));
    char *copy = grown ? strdup(name) : NULL;
    if (grown)
      v = grown;
    if (!copy) {
      e = ENOMEM;
      break;
    }
    v[n++] = copy;
  }
  plat_dir_close(d);
  if (e) {
    dir_list_free(v, n);
    errno = e;
    return -1;
  }
  if (n)
    qsort(v, (size_t)n, sizeof(*v), by_name);
  *names = v;
  return n;
}
