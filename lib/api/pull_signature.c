/* SPDX-License-Identifier: Apache-2.0 */
#include "api/pull_signature.h"

#include "base/redact.h"
#include "base/util.h"
#include "fetch/fetch.h"
#include "net/http.h"
#include "trust/keyring_load.h"

/* A detached signature is a few hundred bytes; more is not one. */
#define SIGNATURE_MAX (1u << 20)
/* What one read of the signed bytes takes, when they are read for the check alone. */
#define CHECK_BUFFER_SIZE (1u << 20)

void pull_signature_clear(struct pull_signature *ps) {
  openpgp_stream_free(ps->stream); /* joins a check still running */
  openpgp_keyring_free(ps->keyring);
  free(ps->sig);
  free(ps->shown);
  *ps = (struct pull_signature)PULL_SIGNATURE_INIT;
}

int pull_signature_prepare(const struct pull_config *o, struct pull_cache *pc, const struct resolved *rs,
                           struct pull_signature *ps, lib_error *err) {
  const struct trust_settings *t = &o->resolve.trust;
  if (!rs->signature_expected)
    return 0;
  const char *what = rs->display ? rs->display : "the image";
  if (t->insecure_skip_signature) {
    hooks_warn(&o->hooks, "%s: its signature is not checked (--insecure-skip-signature)", what);
    return 0;
  }
  if (!rs->signature_url)
    return error_set(err, VMPULL_E_SIGNATURE,
                     "%s: the stream entry names no signature (--insecure-skip-signature pulls it unchecked)", what);
  if (!(ps->shown = redact_url(rs->signature_url)))
    return error_oom(err);

  struct http_config c;
  pull_cache_http_config(pc, &o->resolve.http, &c);
  struct http_request req = {
      .url = rs->signature_url,
      .max_redirects = 10,
      .allow_insecure_redirect = !c.tls_verify,
      .max_body = SIGNATURE_MAX,
  };
  _cleanup_(http_response_clear) struct http_response resp = {0};
  int r = fetch_document(pc, &c, &req, &resp, err);
  if (r == 0 && resp.status != 200)
    r = http_status_error(&resp, err);
  if (r < 0)
    return error_wrap(err, "signature %s", ps->shown);
  ps->sig_len = resp.body_len;
  ps->sig = TAKE_PTR(resp.body);

  r = keyring_load(t, &ps->keyring, err);
  if (r < 0)
    return error_wrap(err, "signature %s", ps->shown);
  return 1;
}

static int feed(void *data, const uint8_t *buf, size_t len, lib_error *err) {
  return openpgp_stream_feed(data, buf, len, err);
}

int pull_signature_start(struct pull_signature *ps, struct tee_options *to, lib_error *err) {
  if (!ps->keyring)
    return 0;
  int r = openpgp_stream_start(ps->keyring, ps->sig, ps->sig_len, &ps->stream, err);
  if (r < 0)
    return error_wrap(err, "signature %s", ps->shown);
  to->observe = feed;
  to->observe_data = ps->stream;
  return 0;
}

int pull_signature_verdict(struct pull_signature *ps, struct pull_facts *facts, lib_error *err) {
  if (!ps->keyring || ps->decided)
    return 0;
  if (!ps->stream)
    return error_set(err, VMPULL_E_SIGNATURE, "signature %s: the bytes it signs were not read", ps->shown);
  char fpr[OPENPGP_FPR_MAX];
  int r = openpgp_stream_finish(ps->stream, fpr, err);
  if (r < 0)
    return error_wrap(err, "signature %s", ps->shown);
  if (pull_facts_signed(facts, "openpgp", fpr) < 0)
    return error_oom(err);
  ps->decided = 1;
  return 0;
}

int pull_signature_check_blob(struct pull_signature *ps, struct byte_source **src, uint64_t expected_size,
                              const char *digest, struct progress_state *progress, struct pull_facts *facts,
                              lib_error *err) {
  if (!ps->keyring || ps->decided || !*src)
    return error_set(err, VMPULL_E_SIGNATURE, "signature %s: no bytes to check it over", ps->shown);
  struct tee_options to = {.expected_size = expected_size, .progress = progress};
  int r = pull_signature_start(ps, &to, err);
  if (r < 0)
    return r;
  _cleanup_source_ struct byte_source *tee = NULL;
  r = tee_new(*src, &to, &tee, err);
  if (r < 0)
    return r;
  *src = NULL;
  _cleanup_free_ uint8_t *buf = malloc(CHECK_BUFFER_SIZE);
  if (!buf)
    return error_oom(err);
  for (;;) {
    size_t got = 0;
    r = source_read(tee, buf, CHECK_BUFFER_SIZE, &got, err);
    if (r < 0)
      return r;
    if (!got)
      break;
  }
  char read_digest[80];
  r = tee_digest(tee, read_digest, err);
  if (r < 0)
    return r;
  /* (a cached copy that is not the blob is damaged: a digest error costs the pull one more attempt,
   * from the network) */
  if (strcmp(read_digest, digest) != 0)
    return error_set(err, VMPULL_E_DIGEST, "%s: digest mismatch: expected %s, got %s", tee->name, digest, read_digest);
  return pull_signature_verdict(ps, facts, err);
}
