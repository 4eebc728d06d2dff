/* SPDX-License-Identifier: Apache-2.0 */
/* Which registries.conf files a call reads, and their merge (containers/image's newConfigWrapper,
 * dropInConfigs, tryUpdatingCache and updateWithConfigurationFrom). Only $HOME and
 * $CONTAINERS_REGISTRIES_CONF (or REGISTRIES_CONFIG_PATH) move them, as for podman and skopeo. */
#include "base/platform.h"
#include "base/toml_read.h"
#include "base/util.h"
#include "oci/registries_conf.h"

#include <fcntl.h>
#include <sys/stat.h>

#define SWAP_PTRS(a, b)                                                                                                \
  do {                                                                                                                 \
    __typeof__(a) swapped_ = (a);                                                                                      \
    (a) = (b);                                                                                                         \
    (b) = swapped_;                                                                                                    \
  } while (0)

static int registry_prefix_cmp(const void *a, const void *b) {
  return strcmp(((const struct regconf_registry *)a)->prefix, ((const struct regconf_registry *)b)->prefix);
}

int registries_conf_merge(struct registries_conf *c, struct registries_conf *u, lib_error *err) {
  size_t room = c->n_registries + u->n_registries;
  struct regconf_registry *regs = realloc(c->registries, (room + 1) * sizeof(*regs));
  struct regconf_alias *aliases = realloc(c->aliases, (c->n_aliases + u->n_aliases + 1) * sizeof(*aliases));
  if (regs)
    c->registries = regs;
  if (aliases)
    c->aliases = aliases;
  if (!regs || !aliases)
    return error_oom(err);
  for (size_t i = 0; i < u->n_registries; i++) {
    struct regconf_registry *same = NULL;
    for (size_t j = 0; j < c->n_registries && !same; j++)
      if (!strcmp(c->registries[j].prefix, u->registries[i].prefix))
        same = &c->registries[j];
    if (same) {
      struct regconf_registry old = *same;
      *same = u->registries[i];
      u->registries[i] = old; /* freed with u */
    } else {
      c->registries[c->n_registries++] = u->registries[i];
      u->registries[i] = (struct regconf_registry){0};
    }
  }
  if (c->n_registries)
    qsort(c->registries, c->n_registries, sizeof(*c->registries), registry_prefix_cmp);
  if (u->search_set) {
    SWAP_PTRS(c->search, u->search);
    size_t n = c->n_search;
    c->n_search = u->n_search;
    u->n_search = n;
    SWAP_PTRS(c->search_origin, u->search_origin);
    c->search_set = 1;
  }
  if (u->credential_helpers_set) {
    SWAP_PTRS(c->credential_helpers, u->credential_helpers);
    size_t n = c->n_credential_helpers;
    c->n_credential_helpers = u->n_credential_helpers;
    u->n_credential_helpers = n;
    c->credential_helpers_set = 1;
  }
  for (size_t i = 0; i < u->n_aliases; i++) {
    struct regconf_alias *same = NULL;
    for (size_t j = 0; j < c->n_aliases && !same; j++)
      if (!strcmp(c->aliases[j].name, u->aliases[i].name))
        same = &c->aliases[j];
    if (same) {
      struct regconf_alias old = *same;
      *same = u->aliases[i];
      u->aliases[i] = old;
    } else {
      c->aliases[c->n_aliases++] = u->aliases[i];
      u->aliases[i] = (struct regconf_alias){0};
    }
  }
  registries_conf_clear(u);
  return 0;
}

/* One file into *out; 0 with *out empty when it is absent and may be. */
static int conf_file(const char *path, int drop_in, int must_exist, struct registries_conf *out, int *found,
                     lib_error *err) {
  *found = 0;
  *out = (struct registries_conf){0};
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  int r = read_file_limited(path, TOML_READ_MAX, &buf, &len);
  if (r == -ENOENT && !must_exist)
    return 0;
  if (r == -EFBIG)
    return error_set(err, VMPULL_E_LIMIT, "registries configuration %s: larger than the %u KiB limit", path,
                     TOML_READ_MAX >> 10);
  if (r < 0)
    return error_set_errno(err, r == -ENOENT ? VMPULL_E_CONFIG : VMPULL_E_IO, -r, "registries configuration %s", path);
  *found = 1;
  return registries_conf_parse(buf, len, path, drop_in, out, err);
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.conf files of dir (not its folders), in lexical order; none when dir is absent. */
static int drop_ins(const char *dir, char ***out, size_t *n, lib_error *err) {
  *out = NULL;
  *n = 0;
  int fd = plat_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
    return 0;
  if (fd < 0)
    return error_set_errno(err, VMPULL_E_IO, errno, "reading %s", dir);
  struct plat_dir *d = plat_dir_open(fd);
  if (!d)
    return error_set_errno(err, VMPULL_E_IO, errno, "reading %s", dir);
  char **names = NULL;
  size_t used = 0;
  int r = 0;
  const char *name;
  while (r == 0 && (name = plat_dir_read(d))) {
    size_t len = strlen(name);
    struct stat st;
    if (len < 5 || strcmp(name + len - 5, ".conf") != 0)
      continue;
    if (plat_fstatat(plat_dir_fd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
      continue;
    if (used == REGISTRIES_CONF_DROP_INS_MAX) {
      r = error_set(err, VMPULL_E_LIMIT, "%s: more than %d drop-in files", dir, REGISTRIES_CONF_DROP_INS_MAX);
      break;
    }
    char **grown = realloc(names, (used + 1) * sizeof(*names));
    char *path = grown ? xasprintf("%s/%s", dir, name) : NULL;
    if (grown)
      names = grown;
    if (!path) {
      r = error_oom(err);
      break;
    }
    names[used++] = path;
  }
  plat_dir_close(d);
  if (r < 0) {
    for (size_t i = 0; i < used; i++)
      free(names[i]);
    free(names);
    return r;
  }
  if (used)
    qsort(names, used, sizeof(*names), name_cmp);
  *out = names;
  *n = used;
  return 0;
}

static int sources_add(char **sources, const char *path, lib_error *err) {
  char *s = *sources ? xasprintf("%s, %s", *sources, path) : strdup(path);
  if (!s)
    return error_oom(err);
  free(*sources);
  *sources = s;
  return 0;
}

int registries_conf_load(const char *main_file, struct registries_conf *out, lib_error *err) {
  *out = (struct registries_conf){0};
  const char *env = getenv("CONTAINERS_REGISTRIES_CONF");
  if (!env)
    env = getenv("REGISTRIES_CONFIG_PATH");
  const char *chosen = main_file && *main_file ? main_file : env && *env ? env : NULL;
  const char *home = plat_home_dir();
  _cleanup_free_ char *user_file = home && *home ? xasprintf("%s/.config/containers/registries.conf", home) : NULL;
  _cleanup_free_ char *user_dir = home && *home ? xasprintf("%s/.config/containers/registries.conf.d", home) : NULL;
  const char *main_path = chosen;
  int system_dir = 1;
  if (!main_path && user_file && access(user_file, F_OK) == 0) {
    main_path = user_file;
    system_dir = 0; /* a registries.conf of one's own: /etc's drop-ins are not read */
  }
  if (!main_path)
    main_path = REGISTRIES_CONF_SYSTEM;

  _cleanup_(registries_conf_clear) struct registries_conf conf = {0};
  int found;
  int r = conf_file(main_path, 0, chosen != NULL, &conf, &found, err);
  if (r < 0)
    return r;
  if (found && (r = sources_add(&conf.sources, main_path, err)) < 0)
    return r;
  const char *dirs[] = {system_dir ? REGISTRIES_CONF_SYSTEM_DIR : NULL, user_dir};
  for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
    if (!dirs[i])
      continue;
    char **files = NULL;
    size_t n = 0;
    r = drop_ins(dirs[i], &files, &n, err);
    for (size_t j = 0; r == 0 && j < n; j++) {
      struct registries_conf dropped;
      r = conf_file(files[j], 1, 0, &dropped, &found, err);
      if (r == 0 && found) {
        r = sources_add(&conf.sources, files[j], err);
        if (r == 0)
          r = registries_conf_merge(&conf, &dropped, err);
        registries_conf_clear(&dropped);
      }
    }
    for (size_t j = 0; j < n; j++)
      free(files[j]);
    free(files);
    if (r < 0)
      return r;
  }
  if (!conf.sources && !(conf.sources = xasprintf("none of %s", main_path)))
    return error_oom(err);
  *out = conf;
  conf = (struct registries_conf){0};
  return 0;
}
