/* SPDX-License-Identifier: Apache-2.0 */
/* Scope-based release of OpenSSL digest objects, defined once for every file that hashes. */
#ifndef VMPULL_EVP_UTIL_H
#define VMPULL_EVP_UTIL_H

#include "base/util.h"

#include <openssl/evp.h>

DEFINE_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free)
DEFINE_CLEANUP_FUNC(EVP_MD *, EVP_MD_free)
#define _cleanup_evp_md_ctx_ _cleanup_(EVP_MD_CTX_freep)
#define _cleanup_evp_md_ _cleanup_(EVP_MD_freep)

#endif
