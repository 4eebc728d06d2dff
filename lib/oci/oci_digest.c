/* SPDX-License-Identifier: Apache-2.0 */
#include "oci/oci_digest.h"

#include "base/digest.h"
#include "base/error.h"
#include "base/evp_util.h"
#include "base/util.h"

#include <openssl/evp.h>

int oci_digest_valid(const char *d) {
  return digest_hex(d) != NULL;
}

static const EVP_MD *digest_md(const char *like) {
  return starts_with(like, "sha512:") ? EVP_sha512() : EVP_sha256();
}

static void digest_format(const char *like, const unsigned char *md, unsigned len, char out[OCI_DIGEST_MAX]) {
  memcpy(out, like, 7); /* "sha256:" or "sha512:" */
  hex_lower_format(md, len, out + 7);
}

int oci_digest_buffer(const char *like, const void *buf, size_t len, char out[OCI_DIGEST_MAX], lib_error *err) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (EVP_Digest(buf, len, md, &mdlen, digest_md(like), NULL) != 1)
    return error_set(err, VMPULL_E_IO, "%.6s: cannot compute digest", like);
  digest_format(like, md, mdlen, out);
  return 0;
}

int oci_digest_verify(const char *want, const void *buf, size_t len, const char *what, lib_error *err) {
  char got[OCI_DIGEST_MAX];
  int r = oci_digest_buffer(want, buf, len, got, err);
  if (r < 0)
    return r;
  if (strcmp(want, got) != 0)
    return error_set(err, VMPULL_E_DIGEST, "%s: digest mismatch: expected %s, got %s", what, want, got);
  return 0;
}

struct digest_source {
  struct byte_source base;
  struct byte_source *inner;
  EVP_MD_CTX *md;
  char want[OCI_DIGEST_MAX];
  int checked;
};

static int digest_source_read(struct byte_source *s, uint8_t *buf, size_t cap, size_t *got, lib_error *err) {
  struct digest_source *d = (struct digest_source *)s;
  int r = source_read(d->inner, buf, cap, got, err);
  if (r < 0)
    return r;
  if (*got) {
    if (EVP_DigestUpdate(d->md, buf, *got) != 1)
      return error_set(err, VMPULL_E_IO, "%s: digest update failed", s->name);
    return 0;
  }
  if (d->checked)
    return 0;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (EVP_DigestFinal_ex(d->md, md, &mdlen) != 1)
    return error_set(err, VMPULL_E_IO, "%s: digest finalisation failed", s->name);
  char have[OCI_DIGEST_MAX];
  digest_format(d->want, md, mdlen, have);
  if (strcmp(have, d->want) != 0)
    return error_set(err, VMPULL_E_DIGEST, "%s: digest mismatch: expected %s, got %s", s->name, d->want, have);
  d->checked = 1;
  return 0;
}

static void digest_source_free(struct byte_source *s) {
  struct digest_source *d = (struct digest_source *)s;
  source_free(d->inner);
  EVP_MD_CTX_free(d->md);
  free(d);
}

static const struct byte_source_ops digest_source_ops = {.read = digest_source_read, .free = digest_source_free};

int oci_digest_source_new(struct byte_source *inner, const char *want, struct byte_source **out, lib_error *err) {
  _cleanup_evp_md_ctx_ EVP_MD_CTX *md = EVP_MD_CTX_new();
  struct digest_source *d = calloc(1, sizeof(*d));
  if (!md || !d || EVP_DigestInit_ex(md, digest_md(want), NULL) != 1) {
    free(d);
    source_free(inner);
    return error_set(err, VMPULL_E_IO, "%.6s: cannot initialise digest", want);
  }
  d->base.ops = &digest_source_ops;
  d->base.name = inner->name;
  d->base.size = inner->size;
  d->inner = inner;
  d->md = TAKE_PTR(md);
  snprintf(d->want, sizeof(d->want), "%s", want);
  *out = &d->base;
  return 0;
}

char *oci_digest_dashed(const char *prefix, const char *digest, const char *suffix) {
  if (!digest || !oci_digest_valid(digest))
    return NULL;
  size_t alg = strcspn(digest, ":");
  return xasprintf("%s%.*s-%s%s", prefix, (int)alg, digest, digest + alg + 1, suffix);
}
