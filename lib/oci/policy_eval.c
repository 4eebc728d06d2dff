/* SPDX-License-Identifier: Apache-2.0 */
/* The policy's verdict on one chosen manifest (policy_eval.h), after containers/image's
 * signature/policy_eval*.go. */
#include "oci/policy_eval.h"

#include "base/util.h"
#include "net/http_retry.h"
#include "oci/oci_digest.h"
#include "oci/oci_store.h"
#include "oci/registries_d.h"
#include "oci/sigstore_attach.h"
#include "trust/openpgp.h"
#include "trust/sigstore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void signature_verdict_clear(struct signature_verdict *v) {
  free(v->key);
  *v = (struct signature_verdict){0};
}

void lookaside_sigs_clear(struct lookaside_sigs *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->v[i]);
  free(s->v);
  free(s->lens);
  *s = (struct lookaside_sigs){0};
}

static int sigs_add(struct lookaside_sigs *s, char *buf, size_t len, lib_error *err) {
  char **v = realloc(s->v, (s->n + 1) * sizeof(*v));
  if (v)
    s->v = v;
  size_t *l = v ? realloc(s->lens, (s->n + 1) * sizeof(*l)) : NULL;
  if (!l) {
    free(buf);
    return error_oom(err);
  }
  s->lens = l;
  s->v[s->n] = buf;
  s->lens[s->n++] = len;
  return 0;
}

/* One signature: 1 read, 0 there is none (the end of the list), or an error. */
static int read_one(const char *url, const struct http_config *http, char **buf, size_t *len, lib_error *err) {
  if (starts_with(url, "file://")) {
    const char *path = url + strlen("file://");
    int r = read_file_limited(path, LOOKASIDE_SIGNATURE_MAX, buf, len);
    if (r == -ENOENT)
      return 0;
    if (r == -EFBIG)
      return error_set(err, VMPULL_E_LIMIT, "signature %s is larger than %u bytes", path, LOOKASIDE_SIGNATURE_MAX);
    if (r < 0)
      return error_set_errno(err, VMPULL_E_IO, -r, "signature %s", path);
    return 1;
  }
  if (!starts_with(url, "http://") && !starts_with(url, "https://"))
    return error_set(err, VMPULL_E_SIGNATURE, "lookaside %s: unsupported scheme (file, http and https are)", url);
  struct http_request req = {.url = url, .max_redirects = 10, .max_body = LOOKASIDE_SIGNATURE_MAX};
  struct http_response resp = {0};
  int r = http_get_retry(http, &req, &resp, err);
  if (r < 0)
    return error_wrap(err, "signature %s", url);
  if (resp.status == 404) {
    http_response_clear(&resp);
    return 0;
  }
  if (resp.status != 200) {
    r = http_status_error(&resp, err);
    http_response_clear(&resp);
    return error_wrap(err, "signature %s", url);
  }
  *buf = TAKE_PTR(resp.body);
  *len = resp.body_len;
  http_response_clear(&resp);
  return 1;
}

/* Reads signature n (from 1) of a lookaside: 1 read, 0 there is none (the end of the list), or an error. */
typedef int (*signature_read_fn)(const void *where, size_t n, char **buf, size_t *len, lib_error *err);

/* signature-1, -2, ... until one is missing, at most LOOKASIDE_SIGNATURES_MAX (shown: where they are). */
static int read_signatures(signature_read_fn read, const void *where, const char *shown, struct lookaside_sigs *out,
                           lib_error *err) {
  *out = (struct lookaside_sigs){0};
  for (size_t i = 0;; i++) {
    if (i == LOOKASIDE_SIGNATURES_MAX) {
      lookaside_sigs_clear(out);
      return error_set(err, VMPULL_E_LIMIT, "lookaside %s holds more than %u signatures", shown,
                       LOOKASIDE_SIGNATURES_MAX);
    }
    char *buf = NULL;
    size_t len = 0;
    int r = read(where, i + 1, &buf, &len, err);
    if (r > 0)
      r = sigs_add(out, buf, len, err) < 0 ? -1 : 1;
    if (r <= 0) {
      if (r < 0)
        lookaside_sigs_clear(out);
      return r < 0 ? -err->code : 0;
    }
  }
}

/* A registry's lookaside: <base>/<repo>@<alg>=<hex>/signature-<n> (docker_image_src.go). */
struct url_lookaside {
  const char *folder; /* <base>/<repo>@<alg>=<hex> */
  const struct http_config *http;
};

/* <base>/<repo>@<alg>=<hex> (manifest_digest valid), or NULL on OOM. */
static char *lookaside_folder(const char *base, const char *repo_path, const char *manifest_digest) {
  const char *colon = strchr(manifest_digest, ':');
  return xasprintf("%s/%s@%.*s=%s", base, repo_path, (int)(colon - manifest_digest), manifest_digest, colon + 1);
}

static int read_url_signature(const void *where, size_t n, char **buf, size_t *len, lib_error *err) {
  const struct url_lookaside *u = where;
  _cleanup_free_ char *url = xasprintf("%s/signature-%zu", u->folder, n);
  if (!url)
    return error_oom(err);
  return read_one(url, u->http, buf, len, err);
}

int lookaside_read(const char *base, const char *repo_path, const char *manifest_digest, const struct http_config *http,
                   struct lookaside_sigs *out, lib_error *err) {
  *out = (struct lookaside_sigs){0};
  if (!oci_digest_valid(manifest_digest))
    return error_set(err, VMPULL_E_SIGNATURE, "manifest digest %s is not valid", manifest_digest);
  _cleanup_free_ char *folder = lookaside_folder(base, repo_path, manifest_digest);
  if (!folder)
    return error_oom(err);
  struct url_lookaside u = {.folder = folder, .http = http};
  return read_signatures(read_url_signature, &u, base, out, err);
}

/* A layout's copies: signatures/<alg>-<hex>/signature-<n>, read through its store. */
struct layout_lookaside {
  struct oci_store *store;
  const char *folder;
};

static int read_layout_signature(const void *where, size_t n, char **buf, size_t *len, lib_error *err) {
  const struct layout_lookaside *l = where;
  _cleanup_free_ char *name = xasprintf("%s/signature-%zu", l->folder, n);
  if (!name)
    return error_oom(err);
  return l->store->read_file(l->store, name, LOOKASIDE_SIGNATURE_MAX, buf, len, err);
}

int layout_lookaside_read(struct oci_store *s, const char *manifest_digest, struct lookaside_sigs *out,
                          lib_error *err) {
  *out = (struct lookaside_sigs){0};
  if (!s->read_file)
    return 0;
  if (!oci_digest_valid(manifest_digest))
    return error_set(err, VMPULL_E_SIGNATURE, "manifest digest %s is not valid", manifest_digest);
  _cleanup_free_ char *folder = layout_signature_folder(manifest_digest);
  _cleanup_free_ char *shown = folder ? xasprintf("%s/%s", s->display, folder) : NULL;
  if (!shown)
    return error_oom(err);
  struct layout_lookaside l = {.store = s, .folder = folder};
  return read_signatures(read_layout_signature, &l, shown, out, err);
}

/* The scope lookup's keys for img: its identity and namespaces. */
struct scope_keys {
  char *identity;
  char **namespaces;
  size_t n;
};

static void scope_keys_clear(struct scope_keys *k) {
  free(k->identity);
  strv_free(k->namespaces);
  *k = (struct scope_keys){0};
}

static int scope_keys_for(const struct policy_image *img, struct scope_keys *k, lib_error *err) {
  *k = (struct scope_keys){0};
  int r;
  if (img->reference) {
    k->identity = docker_name_string(img->reference);
    r = k->identity ? docker_namespaces(img->reference->name, &k->namespaces, &k->n) : -1;
  } else {
    k->identity = strdup(img->scope_path);
    r = k->identity ? path_namespaces(img->scope_path, &k->namespaces, &k->n) : -1;
  }
  if (r < 0) {
    scope_keys_clear(k);
    return error_oom(err);
  }
  return 0;
}

int policy_lookaside_base(const struct policy_settings *ps, const struct docker_name *ref, char **out, lib_error *err) {
  *out = NULL;
  _cleanup_(registries_d_clear) struct registries_d rd = {0};
  int r = registries_d_load(ps->registries_d, &rd, err);
  if (r < 0)
    return r;
  struct policy_image img = {.reference = ref};
  _cleanup_(scope_keys_clear) struct scope_keys k = {0};
  if ((r = scope_keys_for(&img, &k, err)) < 0)
    return r;
  const char *base = registries_d_lookaside(&rd, k.identity, (const char *const *)k.namespaces, k.n);
  *out = base ? strdup(base) : registries_d_builtin_lookaside();
  if (*out) {
    size_t n = strlen(*out);
    while (n > 0 && (*out)[n - 1] == '/')
      (*out)[--n] = '\0';
  }
  return *out ? 0 : error_oom(err);
}

/* What one evaluation reads at most once, whichever requirements ask for it. */
struct eval_state {
  const struct policy_settings *ps;
  const struct policy_image *img;
  int have_lookaside;
  struct lookaside_sigs lookaside;
  int have_attachments;
  struct sigstore_attachments attachments;
  struct signature_verdict *verdict;
};

/* Where img's signatures were read: the serving host's repository (containers/image's physicalRef). */
static const struct docker_name *signatures_at(const struct policy_image *img) {
  return img->physical ? img->physical : img->reference;
}

/* ", which served the image" when at is not the reference's own repository (for log lines). */
static int served_elsewhere(const struct policy_image *img, const struct docker_name *at) {
  return strcmp(at->name, img->reference->name) != 0;
}

static int load_lookaside(struct eval_state *st, lib_error *err) {
  if (st->have_lookaside)
    return 0;
  const struct policy_image *img = st->img;
  int r;
  if (img->reference) {
    const struct docker_name *at = signatures_at(img);
    _cleanup_free_ char *base = NULL;
    if ((r = policy_lookaside_base(st->ps, at, &base, err)) < 0)
      return r;
    /* reference.Path: the repository without its registry */
    const char *repo = strchr(at->name, '/');
    repo = repo ? repo + 1 : at->name;
    if (hooks_logging(img->hooks) && oci_digest_valid(img->manifest_digest)) {
      _cleanup_free_ char *folder = lookaside_folder(base, repo, img->manifest_digest);
      int elsewhere = served_elsewhere(img, at);
      hooks_log(img->hooks, VMPULL_LOG_INFO, "signatures of %s from lookaside %s%s%s%s", img->manifest_digest,
                folder ? folder : base, elsewhere ? " (registries.d scope of " : "", elsewhere ? at->name : "",
                elsewhere ? ", which served the image)" : "");
    }
    r = lookaside_read(base, repo, img->manifest_digest, img->http, &st->lookaside, err);
  } else if (img->store) {
    r = layout_lookaside_read(img->store, img->manifest_digest, &st->lookaside, err);
  } else {
    r = 0;
  }
  if (r < 0)
    return r;
  st->have_lookaside = 1;
  return 0;
}

/* A registry's attachments are read only when registries.d says use-sigstore-attachments for it
 * (as containers/image); a layout's are its own index.json entries. */
static int load_attachments(struct eval_state *st, lib_error *err) {
  if (st->have_attachments)
    return 0;
  int r = 0, use = st->img->store != NULL;
  if (use && st->img->reference) {
    /* the serving host's scope decides (containers/image: useSigstoreAttachments(physicalRef)) */
    const struct docker_name *at = signatures_at(st->img);
    struct policy_image served = {.reference = at};
    _cleanup_(registries_d_clear) struct registries_d rd = {0};
    _cleanup_(scope_keys_clear) struct scope_keys k = {0};
    if ((r = registries_d_load(st->ps->registries_d, &rd, err)) < 0 || (r = scope_keys_for(&served, &k, err)) < 0)
      return r;
    use = registries_d_use_sigstore(&rd, k.identity, (const char *const *)k.namespaces, k.n);
    if (use)
      hooks_log(st->img->hooks, VMPULL_LOG_INFO, "sigstore attachments of %s from %s%s", st->img->manifest_digest,
                at->name, served_elsewhere(st->img, at) ? ", which served the image" : "");
    else
      hooks_log(st->img->hooks, VMPULL_LOG_INFO,
                "sigstore attachments of %s not read: the registries.d scope of %s does not say "
                "use-sigstore-attachments",
                st->img->manifest_digest, at->name);
  }
  if (use)
    r = sigstore_attachments_fetch(st->img->store, st->img->manifest_digest, &st->attachments, err);
  if (r < 0)
    return r;
  st->have_attachments = 1;
  return 0;
}

/* The claims of a verified payload against the image: its digest, then its identity. */
static int claims_accepted(const struct policy_req *q, const struct policy_image *img, const char *payload, size_t len,
                           int sigstore, lib_error *err) {
  _cleanup_(sig_claims_clear) struct sig_claims c = {0};
  int r = sig_claims_parse(payload, len, sigstore, &c, err);
  if (r < 0)
    return r;
  if (strcmp(c.manifest_digest, img->manifest_digest) != 0)
    return error_set(err, VMPULL_E_SIGNATURE, "signature for digest %s does not match manifest %s", c.manifest_digest,
                     img->manifest_digest);
  if (!policy_identity_matches(&q->identity, img->reference, c.docker_reference))
    return error_set(err, VMPULL_E_SIGNATURE, "signature for identity \"%.200s\" is not accepted", c.docker_reference);
  return 0;
}

static int set_verdict(struct eval_state *st, const char *type, const char *key, lib_error *err) {
  signature_verdict_clear(st->verdict);
  st->verdict->type = type;
  st->verdict->key = strdup(key);
  return st->verdict->key ? 0 : error_oom(err);
}

/* The reasons of each rejected signature, as one message (containers/image's "None of the
 * signatures were accepted, reasons: ..."). */
static void note_rejection(char *reasons, size_t size, size_t n, const lib_error *why) {
  size_t used = strlen(reasons);
  if (used + 3 >= size)
    return;
  if (n) {
    memcpy(reasons + used, "; ", 2);
    used += 2;
  }
  size_t m = strnlen(why->message, size - used - 1);
  memcpy(reasons + used, why->message, m);
  reasons[used + m] = '\0';
}

static int verdict_from(size_t n_sigs, const char *reasons, const char *what, lib_error *err) {
  if (n_sigs == 0)
    return error_set(err, VMPULL_E_SIGNATURE, "a signature was required, but no %s signature exists", what);
  if (n_sigs == 1)
    return error_set(err, VMPULL_E_SIGNATURE, "%s", reasons);
  return error_set(err, VMPULL_E_SIGNATURE, "none of the %zu signatures were accepted: %s", n_sigs, reasons);
}

static int signed_by(struct eval_state *st, const struct policy_req *q, lib_error *err) {
  if (q->key_type != POLICY_KEY_GPG)
    return error_set(err, VMPULL_E_SIGNATURE, "keyType other than GPGKeys is not supported (as in containers/image)");
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = NULL;
  int r = openpgp_keyring_new(&k, err);
  for (size_t i = 0; r == 0 && i < q->n_keys; i++)
    r = q->keys[i].path ? openpgp_keyring_add_file(k, q->keys[i].path, err)
                        : openpgp_keyring_add_data(k, q->keys[i].data, q->keys[i].data_len, "keyData", err);
  if (r < 0)
    return r;
  if (openpgp_keyring_count(k) == 0)
    return error_set(err, VMPULL_E_SIGNATURE, "no public keys imported");
  if ((r = load_lookaside(st, err)) < 0)
    return r;
  char reasons[VMPULL_ERROR_MAX] = "";
  for (size_t i = 0; i < st->lookaside.n; i++) {
    lib_error why = {0};
    char fpr[OPENPGP_FPR_MAX];
    _cleanup_free_ char *plain = NULL;
    size_t plain_len = 0;
    r = openpgp_verify_opaque(k, st->lookaside.v[i], st->lookaside.lens[i], &plain, &plain_len, fpr, &why);
    if (r == 0)
      r = claims_accepted(q, st->img, plain, plain_len, 0, &why);
    if (r == 0)
      return set_verdict(st, "simple-signing", fpr, err);
    note_rejection(reasons, sizeof(reasons), i, &why);
  }
  return verdict_from(st->lookaside.n, reasons, "simple-signing", err);
}

static int sigstore_signed(struct eval_state *st, const struct policy_req *q, lib_error *err) {
  if (q->unsupported)
    return error_set(err, VMPULL_E_SIGNATURE, "sigstoreSigned with %s (keyless) is not supported", q->unsupported);
  _cleanup_sigstore_keys_ struct sigstore_keys *k = NULL;
  int r = sigstore_keys_new(&k, err);
  for (size_t i = 0; r == 0 && i < q->n_keys; i++)
    r = q->keys[i].path ? sigstore_keys_add_file(k, q->keys[i].path, err)
                        : sigstore_keys_add_data(k, q->keys[i].data, q->keys[i].data_len, "keyData", err);
  if (r < 0)
    return r;
  if ((r = load_attachments(st, err)) < 0)
    return r;
  char reasons[VMPULL_ERROR_MAX] = "";
  const struct sigstore_attachments *a = &st->attachments;
  for (size_t i = 0; i < a->n_payloads; i++) {
    lib_error why = {0};
    char key_id[SIGSTORE_KEY_ID_MAX];
    const struct sigstore_payload *p = &a->payloads[i];
    if (!p->signature_b64)
      r = error_set(&why, VMPULL_E_SIGNATURE, "layer %s has no signature annotation", p->digest);
    else
      r = sigstore_verify_payload(k, p->payload, p->len, p->signature_b64, key_id, &why);
    if (r == 0)
      r = claims_accepted(q, st->img, p->payload, p->len, 1, &why);
    if (r == 0)
      return set_verdict(st, "sigstore", key_id, err);
    note_rejection(reasons, sizeof(reasons), i, &why);
  }
  return verdict_from(a->n_payloads, reasons, "sigstore", err);
}

static int requirement_allows(struct eval_state *st, const struct policy_req *q, lib_error *err) {
  switch (q->type) {
  case POLICY_ACCEPT_ANYTHING: return 0;
  case POLICY_REJECT: return error_set(err, VMPULL_E_SIGNATURE, "any image is rejected");
  case POLICY_SIGNED_BY: return signed_by(st, q, err);
  case POLICY_SIGSTORE_SIGNED: return sigstore_signed(st, q, err);
  }
  return error_set(err, VMPULL_E_SIGNATURE, "unknown requirement");
}

int policy_check(const struct policy_settings *ps, const struct policy_image *img, struct signature_verdict *v,
                 lib_error *err) {
  *v = (struct signature_verdict){0};
  _cleanup_(policy_clear) struct policy p = {0};
  int r = policy_load(ps->policy_path, &p, err);
  if (r == 0)
    hooks_log(img->hooks, VMPULL_LOG_INFO, "no signature policy (policy.json) found: %s accepted",
              img->manifest_digest);
  if (r <= 0)
    return r; /* no policy.json anywhere: vmpull's own choice is to accept */
  _cleanup_(scope_keys_clear) struct scope_keys k = {0};
  if ((r = scope_keys_for(img, &k, err)) < 0)
    return r;
  const char *kind, *scope;
  const struct policy_reqs *reqs =
      policy_requirements_for(&p, img->transport, k.identity, (const char *const *)k.namespaces, k.n, &kind, &scope);
  struct eval_state st = {.ps = ps, .img = img, .verdict = v};
  for (size_t i = 0; i < reqs->n && r == 0; i++) {
    r = requirement_allows(&st, &reqs->v[i], err);
    if (r < 0) {
      if (scope)
        error_wrap(err, "policy %s, %s scope \"%s\", requirement %zu (%s)", p.path, kind, scope, i + 1,
                   policy_req_type_name(reqs->v[i].type));
      else
        error_wrap(err, "policy %s, default, requirement %zu (%s)", p.path, i + 1,
                   policy_req_type_name(reqs->v[i].type));
    }
  }
  lookaside_sigs_clear(&st.lookaside);
  sigstore_attachments_clear(&st.attachments);
  if (r < 0)
    signature_verdict_clear(v);
  else if (scope) /* which policy decided, for -v */
    hooks_log(img->hooks, VMPULL_LOG_INFO, "policy %s, %s scope \"%s\": %s accepted (%zu requirement%s, the first %s)",
              p.path, kind, scope, img->manifest_digest, reqs->n, reqs->n == 1 ? "" : "s",
              reqs->n ? policy_req_type_name(reqs->v[0].type) : "none");
  else
    hooks_log(img->hooks, VMPULL_LOG_INFO, "policy %s, default: %s accepted (%zu requirement%s, the first %s)", p.path,
              img->manifest_digest, reqs->n, reqs->n == 1 ? "" : "s",
              reqs->n ? policy_req_type_name(reqs->v[0].type) : "none");
  return r < 0 ? r : 0;
}
