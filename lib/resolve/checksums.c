/* SPDX-License-Identifier: Apache-2.0 */
#include "resolve/checksums.h"

#include "base/error.h"
#include "base/hooks.h"
#include "base/redact.h"
#include "base/util.h"
#include "fetch/fetch.h"
#include "net/http.h"
#include "resolve/resolve.h"
#include "trust/keyring_load.h"
#include "trust/openpgp.h"

#include <ctype.h>

#define CHECKSUMS_MAX (16u << 20)
#define SHA256_HEX 64
#define SIGNATURE_MAX (1u << 20)

struct span {
  const char *p;
  size_t n;
};

static int span_eq(struct span a, const char *s) {
  return a.n == strlen(s) && memcmp(a.p, s, a.n) == 0;
}
static int span_starts(struct span a, const char *s) {
  size_t n = strlen(s);
  return a.n >= n && memcmp(a.p, s, n) == 0;
}

static size_t hex_run(const char *p, size_t n) {
  size_t i = 0;
  while (i < n && isxdigit((unsigned char)p[i]))
    i++;
  return i;
}

/* One entry of the list: which name, which hex, whether the hex is SHA-256. */
struct entry {
  struct span name;
  struct span hex;
  int escaped; /* GNU "\" prefix: the name has \\ and \n escapes */
  int sha256;
};

/* "SHA256 (name) = hex" */
static int parse_bsd(struct span line, struct entry *e) {
  const char *open = memmem(line.p, line.n, " (", 2);
  if (!open || open == line.p)
    return 0;
  struct span algo = {line.p, (size_t)(open - line.p)};
  for (size_t i = 0; i < algo.n; i++)
    if (!isalnum((unsigned char)algo.p[i]) && algo.p[i] != '-')
      return 0;
  /* The name may itself contain ") = ": the separator is the last one. */
  const char *close = NULL;
  for (const char *q = open + 2; q + 4 <= line.p + line.n; q++)
    if (memcmp(q, ") = ", 4) == 0)
      close = q;
  if (!close)
    return 0;
  e->name = (struct span){open + 2, (size_t)(close - open - 2)};
  e->hex = (struct span){close + 4, (size_t)(line.p + line.n - close - 4)};
  if (!e->hex.n || hex_run(e->hex.p, e->hex.n) != e->hex.n)
    return 0;
  e->sha256 =
      (span_eq(algo, "SHA256") || span_eq(algo, "sha256") || span_eq(algo, "SHA2-256")) && e->hex.n == SHA256_HEX;
  e->escaped = 0;
  return 1;
}

/* "<hex>  <name>", "<hex> *<name>", "<hex> <name>", optionally "\"-prefixed. */
static int parse_gnu(struct span line, struct entry *e) {
  e->escaped = 0;
  if (line.n && line.p[0] == '\\') {
    e->escaped = 1;
    line.p++;
    line.n--;
  }
  size_t h = hex_run(line.p, line.n);
  if (h < 32 || h >= line.n || line.p[h] != ' ')
    return 0;
  e->hex = (struct span){line.p, h};
  size_t i = h + 1;
  if (i < line.n && (line.p[i] == '*' || line.p[i] == ' '))
    i++;
  if (i >= line.n)
    return 0;
  e->name = (struct span){line.p + i, line.n - i};
  e->sha256 = h == SHA256_HEX;
  return 1;
}

/* The entry's name, unescaped and without a leading "./", into buf (NUL-terminated). */
static int entry_name(const struct entry *e, char *buf, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < e->name.n; i++) {
    char ch = e->name.p[i];
    if (e->escaped && ch == '\\' && i + 1 < e->name.n) {
      char nx = e->name.p[++i];
      ch = nx == 'n' ? '\n' : nx == 'r' ? '\r' : nx;
    }
    if (o + 1 >= cap)
      return -1;
    buf[o++] = ch;
  }
  buf[o] = '\0';
  if (starts_with(buf, "./"))
    memmove(buf, buf + 2, o - 1);
  return 0;
}

enum armour { TEXT, PGP_HEADER, PGP_SIGNATURE };

int checksums_parse(const char *text, size_t len, const char *name, char **digest, lib_error *err) {
  *digest = NULL;
  if (!name || !*name)
    return error_set(err, VMPULL_E_USAGE, "no image file name to look up");
  char exact[SHA256_HEX + 1] = "", by_base[SHA256_HEX + 1] = "";
  int other_algo = 0, ambiguous = 0;
  enum armour state = TEXT;
  char *namebuf = malloc(4096);
  if (!namebuf)
    return error_oom(err);
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    struct span line = {p, (size_t)((nl ? nl : end) - p)};
    p = nl ? nl + 1 : end;
    while (line.n && (line.p[line.n - 1] == '\r' || line.p[line.n - 1] == ' ' || line.p[line.n - 1] == '\t'))
      line.n--;

    if (state == PGP_HEADER) {
      if (line.n == 0)
        state = TEXT; /* armour headers ("Hash: SHA256") end at the first blank line */
      continue;
    }
    if (state == PGP_SIGNATURE) {
      if (span_starts(line, "-----END PGP SIGNATURE-----"))
        state = TEXT;
      continue;
    }
    if (span_starts(line, "-----BEGIN PGP SIGNED MESSAGE-----")) {
      state = PGP_HEADER;
      continue;
    }
    if (span_starts(line, "-----BEGIN PGP SIGNATURE-----")) {
      state = PGP_SIGNATURE;
      continue;
    }
    if (span_starts(line, "- ")) { /* dash-escaped line of clearsigned text */
      line.p += 2;
      line.n -= 2;
    }
    if (line.n == 0 || line.p[0] == '#')
      continue;

    struct entry e;
    if (!parse_bsd(line, &e) && !parse_gnu(line, &e))
      continue;
    if (entry_name(&e, namebuf, 4096) < 0)
      continue;
    const char *slash = strrchr(namebuf, '/');
    int is_exact = strcmp(namebuf, name) == 0;
    int is_base = !is_exact && slash && strcmp(slash + 1, name) == 0;
    if (!is_exact && !is_base)
      continue;
    if (!e.sha256) {
      other_algo = 1;
      continue;
    }
    char hex[SHA256_HEX + 1];
    for (size_t i = 0; i < SHA256_HEX; i++)
      hex[i] = (char)tolower((unsigned char)e.hex.p[i]);
    hex[SHA256_HEX] = '\0';
    if (is_exact && !exact[0]) {
      memcpy(exact, hex, sizeof(hex));
    } else if (is_base) {
      if (by_base[0] && strcmp(by_base, hex) != 0)
        ambiguous = 1;
      else
        memcpy(by_base, hex, sizeof(hex));
    }
  }
  free(namebuf);
  if (!exact[0] && by_base[0] && ambiguous)
    return error_set(err, VMPULL_E_NOT_FOUND, "several entries for '%s' in different folders, with different digests",
                     name);
  const char *found = exact[0] ? exact : by_base[0] ? by_base : NULL;
  if (!found)
    return error_set(err, VMPULL_E_NOT_FOUND, "no %sentry for '%s'", other_algo ? "SHA-256 " : "", name);
  *digest = xasprintf("sha256:%s", found);
  return *digest ? 0 : error_oom(err);
}

/* A path, file:// or an http(s) URL, fetched like the image (the list and its detached signature). */
static int read_checksums(const struct resolve_settings *s, struct pull_cache *pc, const char *src, size_t max,
                          char **text, size_t *len, lib_error *err) {
  if (strncasecmp(src, "http://", 7) == 0 || strncasecmp(src, "https://", 8) == 0) {
    struct http_config c;
    pull_cache_http_config(pc, &s->http, &c);
    struct http_request req = {
        .url = src, .max_redirects = 10, .allow_insecure_redirect = !c.tls_verify, .max_body = max};
    _cleanup_(http_response_clear) struct http_response resp = {0};
    /* Like the image itself: retried, revalidated against the cache, and there for --offline. */
    int r = fetch_document(pc, &c, &req, &resp, err);
    if (r < 0)
      return r;
    if (resp.status != 200)
      return http_status_error(&resp, err);
    *len = resp.body_len;
    *text = TAKE_PTR(resp.body);
    return 0;
  }
  if (strncasecmp(src, "file://", 7) == 0)
    src += 7;
  int r = read_file_limited(src, max, text, len);
  if (r == -EFBIG)
    return error_set(err, VMPULL_E_LIMIT, "larger than %zu bytes", max);
  if (r < 0)
    return error_set_errno(err, r == -ENOENT ? VMPULL_E_NOT_FOUND : VMPULL_E_IO, -r, "read");
  return 0;
}

/* Whether text holds a clearsigned part (a line that opens one). */
static int clearsigned(const char *text, size_t len) {
  static const char mark[] = "-----BEGIN PGP SIGNED MESSAGE-----";
  for (const char *p = text, *end = text + len; p < end;) {
    if ((size_t)(end - p) >= sizeof(mark) - 1 && memcmp(p, mark, sizeof(mark) - 1) == 0)
      return 1;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    p = nl ? nl + 1 : end;
  }
  return 0;
}

/* The part of the list that is looked in: a clearsigned list's signed text as GPGME returns it
 * (never lines added around it), a list with a detached signature whole once it verifies, an
 * unsigned one whole when no --keyring asks for a signature. *plain NULL: text itself. */
static int trusted_text(const struct resolve_settings *s, struct pull_cache *pc, const char *shown, const char *text,
                        size_t len, char **plain, size_t *plain_len, lib_error *err) {
  const struct trust_settings *t = &s->trust;
  *plain = NULL;
  int detached = t->checksums_signature && *t->checksums_signature;
  int inline_signed = clearsigned(text, len);
  if (t->insecure_skip_signature) {
    if (detached || inline_signed)
      hooks_warn(&s->hooks, "checksums %s: its signature is not checked (--insecure-skip-signature)", shown);
    return 0;
  }
  if (!detached && !inline_signed) {
    if (t->keyring && *t->keyring)
      return error_set(err, VMPULL_E_SIGNATURE,
                       "not signed, and --keyring asks for a signature (a detached one is named with "
                       "--checksums-signature)");
    return 0;
  }
  _cleanup_free_ char *sig = NULL;
  size_t sig_len = 0;
  if (detached) {
    int r = read_checksums(s, pc, t->checksums_signature, SIGNATURE_MAX, &sig, &sig_len, err);
    if (r < 0) {
      _cleanup_free_ char *sig_shown = redact_url(t->checksums_signature);
      return error_wrap(err, "signature %s", sig_shown ? sig_shown : "file");
    }
  }
  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = NULL;
  int r = keyring_load(t, &k, err);
  if (r < 0)
    return r;
  char fpr[OPENPGP_FPR_MAX];
  if (detached)
    r = openpgp_verify_detached(k, sig, sig_len, text, len, fpr, err);
  else
    r = openpgp_verify_clearsigned(k, text, len, plain, plain_len, fpr, err);
  if (r < 0) {
    if (!detached)
      return error_wrap(err, "clearsigned");
    _cleanup_free_ char *sig_shown = redact_url(t->checksums_signature);
    return error_wrap(err, "signature %s", sig_shown ? sig_shown : "file");
  }
  if (pc && pc->facts && pull_facts_signed(pc->facts, "openpgp", fpr) < 0)
    return error_oom(err);
  return 0;
}

int checksums_lookup(const struct resolve_settings *s, struct pull_cache *pc, const char *name, char **digest,
                     lib_error *err) {
  _cleanup_free_ char *shown = redact_url(s->checksums);
  if (!shown)
    return error_oom(err);
  if (!name)
    return error_set(err, VMPULL_E_USAGE, "checksums %s: the source has no file name to look up", shown);
  _cleanup_free_ char *text = NULL;
  size_t len = 0;
  _cleanup_free_ char *plain = NULL;
  size_t plain_len = 0;
  int r = read_checksums(s, pc, s->checksums, CHECKSUMS_MAX, &text, &len, err);
  if (r >= 0)
    r = trusted_text(s, pc, shown, text, len, &plain, &plain_len, err);
  if (r >= 0)
    r = checksums_parse(plain ? plain : text, plain ? plain_len : len, name, digest, err);
  if (r < 0)
    return error_wrap(err, "checksums %s", shown);
  return 0;
}
