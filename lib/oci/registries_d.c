/* SPDX-License-Identifier: Apache-2.0 */
/* The *.yaml files of registries.d through libyaml's document loader (registries_d.h). Only two levels of the
 * tree are read, so aliases cannot make the walk grow. */
#include "oci/registries_d.h"

#include "base/platform.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

struct yaml_ctx {
  yaml_document_t *doc;
  const char *path;
  lib_error *err;
};

static int bad(const struct yaml_ctx *y, const char *what, const char *name) {
  return error_set(y->err, VMPULL_E_CONFIG, "registries.d %s: %s%s%.200s", y->path, what, name ? " " : "",
                   name ? name : "");
}

static const char *scalar(yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(const struct yaml_ctx *y, int i) {
  return yaml_document_get_node(y->doc, i);
}

/* A mapping's keys must be scalars and differ (yaml.v3 refuses a key defined twice). */
static int check_mapping(const struct yaml_ctx *y, yaml_node_t *m, const char *where) {
  if (!m || m->type != YAML_MAPPING_NODE)
    return bad(y, "not a mapping:", where);
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    const char *k = scalar(node(y, p->key));
    if (!k)
      return bad(y, "a key that is not a scalar in", where);
    for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++)
      if (!strcmp(k, scalar(node(y, q->key))))
        return bad(y, "a key defined twice:", k);
  }
  return 0;
}

static int parse_bool(const char *s, int *out) {
  static const char *const yes[] = {"true", "yes", "on", "y"}, *const no[] = {"false", "no", "off", "n"};
  for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
    if (!strcasecmp(s, yes[i]))
      return *out = 1, 0;
    if (!strcasecmp(s, no[i]))
      return *out = 0, 0;
  }
  return -1;
}

/* One registryNamespace mapping into sc. */
static int parse_namespace(const struct yaml_ctx *y, yaml_node_t *m, const char *where, struct registries_d_scope *sc) {
  sc->use_sigstore_attachments = -1;
  if (m && m->type == YAML_SCALAR_NODE && !*scalar(m))
    return 0; /* "name:" with nothing: an empty namespace, as yaml.v3 reads it */
  int r = check_mapping(y, m, where);
  if (r < 0)
    return r;
  const char *lookaside = NULL, *sigstore = NULL;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    const char *k = scalar(node(y, p->key));
    yaml_node_t *v = node(y, p->value);
    const char **slot = !strcmp(k, "lookaside") ? &lookaside : !strcmp(k, "sigstore") ? &sigstore : NULL;
    if (slot) {
      if (!(*slot = scalar(v)))
        return bad(y, "not a string:", k);
    } else if (!strcmp(k, "use-sigstore-attachments")) {
      if (!scalar(v) || parse_bool(scalar(v), &sc->use_sigstore_attachments) < 0)
        return bad(y, "not a boolean:", k);
    }
  }
  const char *top = lookaside && *lookaside ? lookaside : sigstore && *sigstore ? sigstore : NULL;
  if (top && !(sc->lookaside = strdup(top)))
    return error_oom(y->err);
  return 0;
}

static int add_scope(struct registries_d *c, const char *name, const char *file, struct registries_d_scope **out,
                     lib_error *err) {
  for (size_t i = 0; i < c->n_scopes; i++) {
    struct registries_d_scope *s = &c->scopes[i];
    if ((!name && !s->name) || (name && s->name && !strcmp(name, s->name)))
      return error_set(err, VMPULL_E_CONFIG, "registries.d: %s%.200s%s defined both in %s and %s",
                       name ? "\"docker\" namespace \"" : "\"default-docker\"", name ? name : "", name ? "\"" : "",
                       s->file, file);
  }
  struct registries_d_scope *v = realloc(c->scopes, (c->n_scopes + 1) * sizeof(*v));
  if (!v)
    return error_oom(err);
  /* dflt points into the array that moved */
  if (c->dflt)
    c->dflt = v + (c->dflt - c->scopes);
  c->scopes = v;
  struct registries_d_scope *s = &v[c->n_scopes++];
  *s = (struct registries_d_scope){.use_sigstore_attachments = -1};
  s->file = strdup(file);
  s->name = name ? strdup(name) : NULL;
  if (!s->file || (name && !s->name))
    return error_oom(err);
  if (!name)
    c->dflt = s;
  *out = s;
  return 0;
}

static int parse_doc(const struct yaml_ctx *y, struct registries_d *c) {
  yaml_node_t *root = yaml_document_get_root_node(y->doc);
  if (!root || (root->type == YAML_SCALAR_NODE && !*scalar(root)))
    return 0; /* an empty file */
  int r = check_mapping(y, root, "the top level");
  if (r < 0)
    return r;
  for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
    const char *k = scalar(node(y, p->key));
    yaml_node_t *v = node(y, p->value);
    struct registries_d_scope *sc = NULL;
    if (!strcmp(k, "default-docker")) {
      if ((r = add_scope(c, NULL, y->path, &sc, y->err)) < 0 || (r = parse_namespace(y, v, k, sc)) < 0)
        return r;
    } else if (!strcmp(k, "docker")) {
      if (v->type == YAML_SCALAR_NODE && !*scalar(v))
        continue;
      if ((r = check_mapping(y, v, "docker")) < 0)
        return r;
      for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
        const char *ns = scalar(node(y, q->key));
        if ((r = add_scope(c, ns, y->path, &sc, y->err)) < 0 || (r = parse_namespace(y, node(y, q->value), ns, sc)) < 0)
          return r;
      }
    }
  }
  return 0;
}

int registries_d_parse(const char *buf, size_t len, const char *path, struct registries_d *c, lib_error *err) {
  if (len > REGISTRIES_D_FILE_MAX)
    return error_set(err, VMPULL_E_LIMIT, "registries.d %s is larger than %u bytes", path, REGISTRIES_D_FILE_MAX);
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser))
    return error_oom(err);
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  int ok = yaml_parser_load(&parser, &doc);
  if (!ok) {
    int r = error_set(err, VMPULL_E_CONFIG, "registries.d %s: not valid YAML (%s, line %zu)", path,
                      parser.problem ? parser.problem : "error", parser.problem_mark.line + 1);
    yaml_parser_delete(&parser);
    return r;
  }
  struct yaml_ctx y = {.doc = &doc, .path = path, .err = err};
  int r = parse_doc(&y, c);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return r;
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(const char *dir, struct registries_d *c, lib_error *err) {
  int fd = plat_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  struct plat_dir *d = fd >= 0 ? plat_dir_open(fd) : NULL;
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR)
      return 0;
    return error_set_errno(err, VMPULL_E_IO, errno, "registries.d %s", dir);
  }
  char *names[REGISTRIES_D_FILES_MAX];
  size_t n = 0;
  int r = 0;
  const char *e;
  while ((e = plat_dir_read(d))) {
    if (!ends_with_ci(e, ".yaml") || strcmp(e + strlen(e) - 5, ".yaml") != 0)
      continue;
    if (n == REGISTRIES_D_FILES_MAX) {
      r = error_set(err, VMPULL_E_LIMIT, "registries.d %s holds more than %u .yaml files", dir, REGISTRIES_D_FILES_MAX);
      break;
    }
    if (!(names[n] = strdup(e))) {
      r = error_oom(err);
      break;
    }
    n++;
  }
  plat_dir_close(d);
  /* The order only decides which file a "defined both in" message names first. */
  qsort(names, n, sizeof(*names), name_cmp);
  for (size_t i = 0; i < n; i++) {
    if (r == 0) {
      _cleanup_free_ char *path = xasprintf("%s/%s", dir, names[i]);
      _cleanup_free_ char *buf = NULL;
      size_t len = 0;
      int rr = path ? read_file_limited(path, REGISTRIES_D_FILE_MAX, &buf, &len) : -ENOMEM;
      if (rr == -ENOENT)
        ;
      else if (rr == -EFBIG)
        r = error_set(err, VMPULL_E_LIMIT, "registries.d %s is larger than %u bytes", path, REGISTRIES_D_FILE_MAX);
      else if (rr < 0)
        r = error_set_errno(err, VMPULL_E_IO, -rr, "registries.d %s/%s", dir, names[i]);
      else
        r = registries_d_parse(buf, len, path, c, err);
    }
    free(names[i]);
  }
  return r;
}

int registries_d_load(const char *dir, struct registries_d *out, lib_error *err) {
  *out = (struct registries_d){0};
  _cleanup_free_ char *user = NULL;
  if (!dir) {
    const char *home = plat_home_dir();
    struct stat st;
    user = home && *home ? xasprintf("%s/.config/containers/registries.d", home) : NULL;
    dir = user && stat(user, &st) == 0 ? user : "/etc/containers/registries.d";
  }
  if (!(out->dir = strdup(dir)))
    return error_oom(err);
  int r = load_dir(dir, out, err);
  if (r < 0)
    registries_d_clear(out);
  return r;
}

void registries_d_clear(struct registries_d *c) {
  for (size_t i = 0; i < c->n_scopes; i++) {
    free(c->scopes[i].name);
    free(c->scopes[i].lookaside);
    free(c->scopes[i].file);
  }
  free(c->scopes);
  free(c->dir);
  *c = (struct registries_d){0};
}

static const struct registries_d_scope *scope_named(const struct registries_d *c, const char *name) {
  for (size_t i = 0; i < c->n_scopes; i++)
    if (c->scopes[i].name && !strcmp(c->scopes[i].name, name))
      return &c->scopes[i];
  return NULL;
}

/* The scopes in the order containers/image asks them: identity, namespaces, default-docker. */
static const struct registries_d_scope *nth_scope(const struct registries_d *c, const char *identity,
                                                  const char *const *namespaces, size_t n, size_t i) {
  if (i == 0)
    return identity ? scope_named(c, identity) : NULL;
  if (i <= n)
    return scope_named(c, namespaces[i - 1]);
  return c->dflt;
}

const char *registries_d_lookaside(const struct registries_d *c, const char *identity, const char *const *namespaces,
                                   size_t n_namespaces) {
  for (size_t i = 0; i <= n_namespaces + 1; i++) {
    const struct registries_d_scope *s = nth_scope(c, identity, namespaces, n_namespaces, i);
    if (s && s->lookaside)
      return s->lookaside;
  }
  return NULL;
}

int registries_d_use_sigstore(const struct registries_d *c, const char *identity, const char *const *namespaces,
                              size_t n_namespaces) {
  for (size_t i = 0; i <= n_namespaces + 1; i++) {
    const struct registries_d_scope *s = nth_scope(c, identity, namespaces, n_namespaces, i);
    if (s && s->use_sigstore_attachments >= 0)
      return s->use_sigstore_attachments;
  }
  return 0;
}

char *registries_d_builtin_lookaside(void) {
  if (plat_is_admin())
    return strdup("file:///var/lib/containers/sigstore");
  const char *home = plat_home_dir();
  return xasprintf("file://%s/.local/share/containers/sigstore", home && *home ? home : "");
}
