/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sigstore_probe: the sigstore attachments of one image (lib/oci/sigstore_attach.c), read as a pull
 * reads them: the source opened as vmpull opens it (options -> resolve_source), walked to the
 * manifest a pull chooses, then sigstore_attachments_fetch; with -K each payload is checked with
 * lib/trust/sigstore.c. tests/cli/test_sigstore_attach.py runs it against the real registry.
 *
 *   sigstore_probe [-k] [-M REG=MIRROR] [-K KEYFILE]... [-d DIGEST] [-o DIR] [-C CACHE] [-O] SOURCE
 *     -k  tls_verify = 0;  -M: a mirror (up to 4);  -C: cache_dir;  -O: offline
 *     -d  the manifest whose attachments to read (default: the one the walk chooses)
 *     -o  write payload-I and signature-I (the annotation's text) into DIR
 *     -K  a public key to verify each payload with (repeatable)
 *
 * Prints "manifest DIGEST", "mirror NAME|-", "tag TAG", "attachment DIGEST|none", "payloads N",
 * "other N", per payload "payload I DIGEST LEN" and "signature I present|absent", with -K
 * "verified I KEYID" or "rejected I MESSAGE"; on failure "code NAME" and "message TEXT", exit 1.
 */
#include "api/options.h"
#include "fetch/cache_session.h"
#include "oci/oci_store.h"
#include "oci/oci_walk.h"
#include "oci/sigstore_attach.h"
#include "resolve/resolve.h"
#include "trust/sigstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const lib_error *err) {
  printf("code %s\nmessage %s\n", vmpull_code_name(err->code), err->message);
  return 1;
}

static int write_file(const char *dir, const char *name, size_t i, const char *buf, size_t len) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s-%zu", dir, name, i);
  FILE *f = fopen(path, "we");
  if (!f)
    return -1;
  int ok = fwrite(buf, 1, len, f) == len;
  return fclose(f) == 0 && ok ? 0 : -1;
}

int main(int argc, char **argv) {
  vmpull_pull_options o;
  vmpull_pull_options_init(&o, sizeof(o));
  const char *mirrors[4];
  const char *keys[8];
  size_t n_keys = 0;
  const char *digest = NULL, *outdir = NULL;
  int c;
  while ((c = getopt(argc, argv, "kM:K:d:o:C:O")) != -1) {
    switch (c) {
    case 'k': o.tls_verify = 0; break;
    case 'M':
      if (o.n_mirrors < 4)
        mirrors[o.n_mirrors++] = optarg;
      break;
    case 'K':
      if (n_keys < 8)
        keys[n_keys++] = optarg;
      break;
    case 'd': digest = optarg; break;
    case 'o': outdir = optarg; break;
    case 'C': o.cache_dir = optarg; break;
    case 'O': o.offline = 1; break;
    default: return 2;
    }
  }
  if (optind + 1 != argc)
    return 2;
  o.source = argv[optind];
  o.mirrors = mirrors;
  o.no_cache = o.cache_dir == NULL;

  struct pull_config cfg;
  pull_config_from_options(&o, &cfg);
  lib_error err = {0};
  /* Every exit frees what it holds: the ASan run checks the failures for leaks too. */
  _cleanup_(pull_cache_done) struct pull_cache pc = PULL_CACHE_INIT;
  struct progress_state progress = {0};
  if (pull_cache_init(&pc, &cfg.fetch, &progress, NULL, &err) < 0)
    return fail(&err);
  _cleanup_oci_store_ struct oci_store *store = NULL;
  int r = resolve_source(&cfg.resolve, &pc, &store, NULL, &err);
  if (r < 0)
    return fail(&err);
  _cleanup_(oci_target_clear) struct oci_target t = {0};
  if (!digest) {
    r = oci_walk_one(&store->walk, &t, &err);
    if (r < 0)
      return fail(&err);
    digest = t.manifest_digest;
  }
  printf("manifest %s\nmirror %s\n", digest, store->mirror ? store->mirror : "-");
  _cleanup_(sigstore_attachments_clear) struct sigstore_attachments a = {0};
  r = sigstore_attachments_fetch(store, digest, &a, &err);
  if (r < 0)
    return fail(&err);
  printf("tag %s\nattachment %s\npayloads %zu\nother %zu\n", a.tag, a.manifest_digest ? a.manifest_digest : "none",
         a.n_payloads, a.n_other);
  _cleanup_sigstore_keys_ struct sigstore_keys *k = NULL;
  if (n_keys) {
    if (sigstore_keys_new(&k, &err) < 0)
      return fail(&err);
    for (size_t i = 0; i < n_keys; i++)
      if (sigstore_keys_add_file(k, keys[i], &err) < 0)
        return fail(&err);
  }
  for (size_t i = 0; i < a.n_payloads; i++) {
    const struct sigstore_payload *p = &a.payloads[i];
    printf("payload %zu %s %zu\nsignature %zu %s\n", i, p->digest, p->len, i, p->signature_b64 ? "present" : "absent");
    if (outdir &&
        (write_file(outdir, "payload", i, p->payload, p->len) < 0 ||
         (p->signature_b64 && write_file(outdir, "signature", i, p->signature_b64, strlen(p->signature_b64)))))
      return 3;
    if (k) {
      char id[SIGSTORE_KEY_ID_MAX];
      lib_error verr = {0};
      if (sigstore_verify_payload(k, p->payload, p->len, p->signature_b64, id, &verr) == 0)
        printf("verified %zu %s\n", i, id);
      else
        printf("rejected %zu %s\n", i, verr.message);
    }
  }
  return 0;
}
