/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Index and manifest parsing plus selection. The input is one or more JSON
 * documents separated by NUL bytes: the first is the root, and each fetch the
 * walk makes returns the next one (cycling), so nested indexes, platform and
 * disktype selection and annotations are all reached. Each document is also
 * parsed and selected from on its own.
 */
#include "base/error.h"
#include "base/util.h"
#include "fuzz_common.h"
#include "oci/oci_manifest.h"
#include "oci/oci_walk.h"

#include <stdlib.h>
#include <string.h>

struct docs {
  const uint8_t *data;
  size_t size;
  const uint8_t *next; /* where the next fetch starts */
  unsigned fetches;
};

static void doc_at(const struct docs *d, const uint8_t *p, const uint8_t **start, size_t *len) {
  if (p >= d->data + d->size)
    p = d->data;
  const uint8_t *end = memchr(p, 0, (size_t)(d->data + d->size - p));
  *start = p;
  *len = (size_t)((end ? end : d->data + d->size) - p);
}

static int fetch(void *userdata, const struct oci_descriptor *desc, char **buf, size_t *len, lib_error *err) {
  struct docs *d = userdata;
  if (!desc || !desc->digest || !desc->media_type)
    abort(); /* the walker only fetches what it validated */
  if (++d->fetches > 64)
    return error_set(err, VMPULL_E_LIMIT, "fuzz: too many fetches"); /* the nesting limit should stop it first */
  const uint8_t *p;
  doc_at(d, d->next, &p, len);
  d->next = p + *len + 1;
  *buf = fuzz_strndup(p, *len);
  return 0;
}

static int on_target(void *userdata, const struct oci_target *t, lib_error *err) {
  (void)userdata;
  (void)err;
  if (!t->manifest_digest || !t->layer.digest)
    abort();
  return 0;
}

static const struct oci_select selections[] = {
    {.disktype = "qcow2", .arch = "x86_64", .os = "linux"},
    {.disktype = "applehv", .arch = "aarch64", .os = "linux"},
    {.disktype = "wsl", .arch = "x86_64", .os = "linux"},
};

static void parse_and_select(const uint8_t *p, size_t len) {
  static const char *const declared[] = {NULL, OCI_MT_INDEX, OCI_MT_MANIFEST, DOCKER_MT_LIST};
  lib_error err;
  for (size_t k = 0; k < ARRAY_SIZE(declared); k++) {
    _cleanup_(oci_doc_clear) struct oci_doc doc = {0};
    if (oci_doc_parse((const char *)p, len, declared[k], &doc, &err) < 0) {
      if (err.code != VMPULL_E_MANIFEST && err.code != VMPULL_E_LIMIT)
        abort();
      continue;
    }
    if (doc.n_items > OCI_ENTRIES_MAX)
      abort();
    size_t chosen;
    if (doc.kind == OCI_DOC_INDEX) {
      (void)oci_index_has_disks(&doc);
      for (size_t i = 0; i < ARRAY_SIZE(selections); i++)
        if (oci_index_select(&doc, &selections[i], &chosen, &err) == 0 && chosen >= doc.n_items)
          abort();
      if (oci_index_find_ref(&doc, "latest", &chosen, &err) == 0 && chosen >= doc.n_items)
        abort();
    } else {
      int tar = 0;
      if (oci_manifest_layer(&doc, &chosen, &tar, &err) == 0 && chosen >= doc.n_items)
        abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct docs d = {.data = data, .size = size};
  const uint8_t *root;
  size_t root_len;
  doc_at(&d, data, &root, &root_len);
  parse_and_select(root, root_len);

  for (size_t i = 0; i < ARRAY_SIZE(selections); i++) {
    d.next = root + root_len + 1;
    d.fetches = 0;
    struct oci_walk w = {.root = (const char *)root,
                         .root_len = root_len,
                         .sel = selections[i],
                         .fetch = fetch,
                         .userdata = &d,
                         .ref_name = i == 2 ? "latest" : NULL,
                         .root_is_layout = i == 2};
    struct oci_target t;
    lib_error err;
    if (oci_walk_one(&w, &t, &err) == 0) {
      on_target(NULL, &t, &err);
      oci_target_clear(&t);
    }
    if (i == 0) {
      d.next = root + root_len + 1;
      d.fetches = 0;
      (void)oci_walk_all(&w, on_target, NULL, &err);
    }
  }
  return 0;
}
