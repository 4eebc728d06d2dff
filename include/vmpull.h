/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvmpull: acquire a virtual-machine disk image and leave a ready-to-boot,
 * uncompressed, sparse disk file behind.
 *
 * Error model
 *   Every function that can fail returns an int: 0 (or a non-negative value)
 *   on success, a negative vmpull_code on failure, and fills the caller's
 *   vmpull_error (always the last argument) with the same code and a one-line
 *   message whose context reads from the outside in, e.g.
 *     "pull ./disk.qcow2.xz: decompress: xz: compressed data is corrupt".
 *   Messages never contain credentials. The library never prints, logs or
 *   exits; warnings reach the caller through vmpull_pull_options.warning.
 *
 * Threads
 *   The library keeps no global mutable state after vmpull_global_init():
 *   any number of pulls may run at once in different threads, each with its
 *   own options and result. Callbacks run on the thread that called
 *   vmpull_pull() (never on an internal transfer or decoder thread).
 *
 * Ownership
 *   Strings passed in options are borrowed for the duration of the call.
 *   Strings in vmpull_result are owned by the result and released by
 *   vmpull_result_free().
 */
#ifndef VMPULL_H
#define VMPULL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VMPULL_BUILDING_LIBRARY)
#define VMPULL_PUBLIC __attribute__((visibility("default")))
#else
#define VMPULL_PUBLIC
#endif

/* Stable error codes. Their names (vmpull_code_name) are what `--json` prints. */
typedef enum vmpull_code {
  VMPULL_OK = 0,
  VMPULL_E_USAGE = 1,          /* "usage": bad option or source string */
  VMPULL_E_NOT_FOUND = 2,      /* "not_found": file, blob, tag or checksum entry missing */
  VMPULL_E_IO = 3,             /* "io": read/write/filesystem failure */
  VMPULL_E_UNSUPPORTED = 4,    /* "unsupported_format" */
  VMPULL_E_CORRUPT = 5,        /* "corrupt": compressed data or archive is damaged */
  VMPULL_E_DIGEST = 6,         /* "digest_mismatch" */
  VMPULL_E_LIMIT = 7,          /* "limit": a size, count or depth limit was hit */
  VMPULL_E_NETWORK = 8,        /* "network": connect, reset, timeout */
  VMPULL_E_HTTP = 9,           /* "http": unexpected status or protocol violation */
  VMPULL_E_TLS = 10,           /* "tls": certificate or handshake failure */
  VMPULL_E_AUTH = 11,          /* "auth": credentials refused or missing */
  VMPULL_E_MANIFEST = 12,      /* "manifest": malformed or unexpected index/manifest */
  VMPULL_E_NO_MATCH = 13,      /* "no_match": no index entry matches provider/arch */
  VMPULL_E_CANCELLED = 14,     /* "cancelled": progress callback or cancel flag */
  VMPULL_E_EXISTS = 15,        /* "exists": the output exists and replace was not asked */
} vmpull_code;

#define VMPULL_ERROR_MAX 2048

/* Filled by a failing call. No allocation: it can live on the stack and needs no free. */
typedef struct vmpull_error {
  int code;                          /* a vmpull_code */
  char message[VMPULL_ERROR_MAX];    /* one line, NUL-terminated */
} vmpull_error;

/* "usage", "not_found", ... for a code; "unknown" for anything else. */
VMPULL_PUBLIC const char *vmpull_code_name(int code);

/* Library version string, e.g. "0.1.0". */
VMPULL_PUBLIC const char *vmpull_version(void);

/* Call once per process before starting pulls from several threads (it
 * initialises libcurl's global state, which is not thread-safe). vmpull_pull()
 * calls it itself when the program did not, which is fine in single-threaded
 * programs. Returns 0 or a negative vmpull_code. */
VMPULL_PUBLIC int vmpull_global_init(vmpull_error *err);

/* What is happening, reported to the progress callback. */
typedef enum vmpull_stage {
  VMPULL_STAGE_RESOLVE = 0,    /* looking up manifests, checksums */
  VMPULL_STAGE_TRANSFER = 1,   /* bytes flowing: fetched -> decoded -> written */
  VMPULL_STAGE_DONE = 2,       /* the output is committed under its final name */
} vmpull_stage;

typedef struct vmpull_progress {
  vmpull_stage stage;
  const char *name;            /* image file name being pulled (never a URL with credentials) */
  uint64_t fetched;            /* source bytes read so far (compressed, as fetched) */
  uint64_t fetched_total;      /* expected source bytes, or UINT64_MAX when unknown */
  uint64_t written;            /* decompressed bytes produced so far */
  uint64_t resumed;            /* bytes of fetched that came from a cache or partial file */
} vmpull_progress;

/* Return non-zero to cancel the pull (it then fails with VMPULL_E_CANCELLED). */
typedef int (*vmpull_progress_fn)(const vmpull_progress *progress, void *userdata);
/* A warning the caller may show (one line, no credentials). */
typedef void (*vmpull_warning_fn)(const char *message, void *userdata);

typedef struct vmpull_pull_options {
  size_t struct_size;          /* set by vmpull_pull_options_init() */

  const char *source;          /* path, http(s) URL, oci-dir://..., docker://... */
  const char *output;          /* exact output path; NULL: naming rule below */
  const char *data_dir;        /* output folder for the naming rule (created 0700) */
  const char *machine_name;    /* naming rule prefix; default "podman-machine-default" */
  const char *provider;        /* qemu (default), applehv, libkrun, hyperv, wsl */
  const char *arch;            /* x86_64/amd64, aarch64/arm64; NULL: the host */
  int replace;                 /* replace an existing output atomically */
  const char *expected_digest; /* "sha256:HEX" of the source bytes as fetched, or NULL */
  const char *checksums;       /* SHA256SUMS file (path or URL) to look the image up in */
  unsigned threads;            /* decoder threads; 0: online CPUs */
  uint64_t max_size;           /* decompressed output limit; 0: 1 TiB */
  unsigned mode;               /* output file mode; 0: 0644 */

  /* Network */
  int tls_verify;              /* default 1 */
  const char *ca_cert;         /* extra CA bundle file */
  const char *cert_dir;        /* registry certs.d-style folder */
  const char *user_agent;      /* default "vmpull/<version>" */
  long connect_timeout;        /* seconds; 0: 30 */
  long stall_timeout;          /* seconds under stall_min_rate before abort; 0: 60 */
  long stall_min_rate;         /* bytes/s; 0: 1024 */
  int retries;                 /* retries after the first attempt; -1: default (5) */

  /* Registries */
  const char *creds;           /* "USER:PASS" */
  const char *authfile;        /* containers auth.json */
  const char *default_image;   /* replaces quay.io/podman/machine-os:<os_version> */
  const char *os_version;      /* X.Y of the default machine image */

  /* Cache */
  const char *cache_dir;       /* NULL: no cache */
  int no_cache;
  int offline;

  /* Callbacks (run on the calling thread) */
  vmpull_progress_fn progress;
  void *progress_data;
  vmpull_warning_fn warning;
  void *warning_data;
  /* Polled between chunks: set it (e.g. from a signal handler) to cancel. */
  volatile sig_atomic_t *cancel;
} vmpull_pull_options;

/* Fill opts with defaults and set struct_size. Always call it first. */
VMPULL_PUBLIC void vmpull_pull_options_init(vmpull_pull_options *opts, size_t struct_size);

typedef struct vmpull_result {
  char *path;                  /* final disk path */
  char *source;                /* the source as given, credentials replaced by *** */
  char *format;                /* "xz", "gzip", "zstd", "bzip2", "zip", "lzma", "lzip", "none" */
  char *digest;                /* "sha256:HEX" of the source bytes as fetched */
  char *image_name;            /* image file name used for naming */
  char *content_disposition;   /* filename from Content-Disposition, or NULL */
  char *reference;             /* resolved OCI reference / manifest digest, or NULL */
  uint64_t fetched;            /* source bytes */
  uint64_t size;               /* apparent size of the disk written */
  uint64_t allocated;          /* bytes the disk occupies (st_blocks * 512) */
} vmpull_result;

/* Pull opts->source into a disk file. On success fills *result (free it with
 * vmpull_result_free). On failure nothing is left under the output name and
 * an existing output is untouched. */
VMPULL_PUBLIC int vmpull_pull(const vmpull_pull_options *opts, vmpull_result *result, vmpull_error *err);

VMPULL_PUBLIC void vmpull_result_free(vmpull_result *result);

#ifdef __cplusplus
}
#endif
#endif /* VMPULL_H */
