/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvmpull: acquire a virtual-machine disk image and leave a ready-to-boot,
 * uncompressed, sparse disk file behind.
 *
 * Build against it with `pkg-config --cflags --libs vmpull` (links
 * libvmpull.so.0). A complete program is examples/embed.c.
 *
 * Error model
 *   Every function that can fail returns an int: 0 (or a non-negative value)
 *   on success, a negative vmpull_code on failure (-VMPULL_E_IO, ...), and
 *   fills the caller's vmpull_error (always the last argument; vmpull_pull()
 *   also takes NULL when the caller only wants the code) with the same code,
 *   positive, and a one-line message whose context reads from the outside in:
 *     "pull ./disk.qcow2.xz: decompress: xz: compressed data is corrupt".
 *   Every message names the file, URL or reference involved. Messages never
 *   contain credentials (user:password in a URL is shown as ***), control
 *   characters, newlines or invalid UTF-8 (text from servers, files or names
 *   shows each such byte as \xNN), so they can be logged or shown as they are;
 *   neither do warnings nor the strings of a vmpull_result.
 *   The library never prints, logs, exits or raises signals; warnings reach
 *   the caller through vmpull_pull_options.warning. On success err->code is
 *   VMPULL_OK and err->message is empty.
 *
 * Threads
 *   The library keeps no global mutable state besides what
 *   vmpull_global_init() sets up once: any number of pulls may run at once in
 *   different threads, each with its own vmpull_pull_options, vmpull_result
 *   and vmpull_error (those three are not shared between concurrent calls;
 *   read-only strings they point to may be). Pulls writing the same output
 *   path at once are not coordinated: one of them fails or replaces the other.
 *   Every callback (progress, warning, log) runs on the thread that called
 *   vmpull_pull(), never on an internal transfer or decoder thread, and never
 *   after vmpull_pull() returned; a callback may not call vmpull_pull()
 *   itself. The same holds for vmpull_inspect(), and the vmpull_cache_*()
 *   functions may run while pulls use the same cache. vmpull_code_name() and
 *   vmpull_version() may be called from any thread, and from a signal handler.
 *
 * Signals
 *   The library installs no signal handlers. To stop a pull from a signal
 *   handler, set the flag vmpull_pull_options.cancel points to (see
 *   examples/embed.c).
 *
 * Ownership
 *   Strings and callbacks passed in vmpull_pull_options are borrowed: they
 *   must stay valid until vmpull_pull() returns and are not kept afterwards.
 *   Strings in vmpull_result are allocated by the library, owned by the
 *   caller, and released together by vmpull_result_free(). A vmpull_outcome
 *   is the library's allocation, released by vmpull_outcome_free() with every
 *   string it handed out. Pointers inside
 *   a vmpull_progress are valid only during the callback.
 *
 * Compatibility
 *   libvmpull.so.0 keeps its ABI. New fields go at the end of
 *   vmpull_pull_options (sized by struct_size, so a program built against an
 *   older header keeps working) and of vmpull_progress (the library allocates
 *   it); vmpull_result and vmpull_error, which the program allocates, keep
 *   their size. New functions get a new symbol version node. Error codes and
 *   their names never change meaning.
 *   Because vmpull_result and vmpull_error cannot grow, 0.3 adds an outcome
 *   instead of bumping the SONAME: vmpull_pull2() and vmpull_pull_to_fd()
 *   return a vmpull_outcome, opaque and allocated by the library, read
 *   through accessor functions (node VMPULL_0.3). A new fact about a pull is a
 *   new accessor, never a field, so the outcome grows without a break; an
 *   accessor a library does not have is a link error, not a wrong read. A
 *   SONAME bump was the other way; it would have made every program built
 *   against libvmpull.so.0 (and every distribution package of it) rebuild for
 *   nothing they use, and the next fact would have needed another. The 0.1
 *   and 0.2 calls (vmpull_pull() with vmpull_result and vmpull_error) stay and
 *   keep working for programs built against them: vmpull_pull() runs the same
 *   pull as vmpull_pull2() and copies the outcome's strings into the result.
 */
#ifndef VMPULL_H
#define VMPULL_H

/* The version of this header. It is the package version and vmpull_version() of the
 * library it came with, and no symbol node is newer than VMPULL_<MAJOR>.<MINOR> (the
 * build and the tests hold them together). A program may test for an API at build time
 * with VMPULL_CHECK_VERSION(0, 3, 0), and at run time compare vmpull_version(). */
#define VMPULL_VERSION_MAJOR 0
#define VMPULL_VERSION_MINOR 3
#define VMPULL_VERSION_PATCH 0
#define VMPULL_VERSION_STRING "0.3.0"
/* True when this header is version major.minor.patch or newer (as GLIB_CHECK_VERSION). */
#define VMPULL_CHECK_VERSION(major, minor, patch)                                    \
  (VMPULL_VERSION_MAJOR > (major) ||                                                 \
   (VMPULL_VERSION_MAJOR == (major) && VMPULL_VERSION_MINOR > (minor)) ||            \
   (VMPULL_VERSION_MAJOR == (major) && VMPULL_VERSION_MINOR == (minor) &&            \
    VMPULL_VERSION_PATCH >= (patch)))

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VMPULL_BUILDING_LIBRARY) && defined(_WIN32)
#define VMPULL_PUBLIC __declspec(dllexport)
#elif defined(VMPULL_BUILDING_LIBRARY)
#define VMPULL_PUBLIC __attribute__((visibility("default")))
#else
#define VMPULL_PUBLIC
#endif

/* Stable error codes: functions return their negation, vmpull_error.code holds
 * them positive. Their names (vmpull_code_name) are what `vmpull --json`
 * prints. Codes may be added; treat an unknown one like VMPULL_E_IO. */
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
  VMPULL_E_CONFIG = 16,        /* "config" (added in 0.3): a registries.conf that does not parse,
                                  or a registry it blocks */
  VMPULL_E_SIGNATURE = 17,     /* "signature" (added in 0.3): a required signature is missing or
                                  does not verify */
} vmpull_code;

#define VMPULL_ERROR_MAX 2048

/* Filled by a failing call (and cleared by vmpull_pull() on entry). No
 * allocation: it can live on the stack and needs no free. A message longer
 * than the buffer loses its middle, marked "...": the start (the outer
 * context) and the end (the reason) are kept. */
typedef struct vmpull_error {
  int code;                          /* a vmpull_code */
  char message[VMPULL_ERROR_MAX];    /* one line, NUL-terminated */
} vmpull_error;

/* "usage", "not_found", ... for a code (positive, as in vmpull_error.code);
 * "unknown" for anything else. A static string: never free it. Thread-safe. */
VMPULL_PUBLIC const char *vmpull_code_name(int code);

/* Version of the library actually loaded, e.g. "0.3.0" (a static string); it may be
 * newer than VMPULL_VERSION_STRING, the header the program was built with. Thread-safe. */
VMPULL_PUBLIC const char *vmpull_version(void);

/* Initialise process-wide state of the libraries vmpull uses (libcurl's
 * global init, which is not thread-safe). Call it once from the main thread
 * before starting pulls in several threads; further calls do nothing and
 * return the first call's result. vmpull_pull() calls it itself, which is
 * enough in a single-threaded program. There is no matching cleanup: the
 * state lives until the process exits. Returns 0 or a negative vmpull_code. */
VMPULL_PUBLIC int vmpull_global_init(vmpull_error *err);

/* What is happening, reported to the progress callback. The stages come in
 * this order; a failed pull ends without VMPULL_STAGE_DONE. */
typedef enum vmpull_stage {
  VMPULL_STAGE_RESOLVE = 0,    /* looking up manifests, checksums */
  VMPULL_STAGE_TRANSFER = 1,   /* bytes flowing: fetched -> decoded -> written */
  VMPULL_STAGE_DONE = 2,       /* the output is committed under its final name */
} vmpull_stage;

/* One progress event. Byte counts only grow during a pull (but written, when a pull writes its
 * disk again from the start after a warning saying why: a damaged kept disk, a changed file). */
typedef struct vmpull_progress {
  vmpull_stage stage;
  const char *name;            /* image file name being pulled (never a URL with credentials);
                                  NULL before it is known; valid during the callback only */
  uint64_t fetched;            /* source bytes read so far (compressed, as fetched) */
  uint64_t fetched_total;      /* expected source bytes, or UINT64_MAX when unknown */
  uint64_t written;            /* decompressed bytes produced so far */
  uint64_t resumed;            /* bytes of fetched that came from a cache or partial file */
  /* (added in 0.2; the library allocates this struct, so it may grow) */
  const char *mirror;          /* the registry mirror serving this pull ("cache.example:5000"),
                                  NULL when the registry itself (or no registry) does */
  /* (added in 0.3) How the pull goes, for a program to show (`vmpull --progress json`). */
  const char *reference;       /* the reference resolved (docker://host/repo@sha256:..., oci-dir://...),
                                  NULL for a file or URL and before it is resolved */
  int cache;                   /* a vmpull_cache_use: how the cache serves the image's bytes, set
                                  from the first VMPULL_STAGE_TRANSFER event on (NONE before) */
  uint64_t resumed_from;       /* the byte an interrupted download resumes at, 0: none */
  unsigned retries;            /* retries scheduled so far: one more at each, reported at once */
  const char *retry_reason;    /* why the last retry ("HTTP 503 Service Unavailable"), NULL before one */
  uint64_t retry_wait_ms;      /* how long the last retry waits before it starts */
  unsigned item, items;        /* vmpull_save with VMPULL_SAVE_ALL: which disk is being copied (from 1)
                                  of how many, name being its file name; 0 and 0 otherwise */
  const char *source;          /* the source as given, a password in it masked (as errors show it) */
  unsigned retry_attempt;      /* the last retry's number for its own request, from 1: as the warning's
                                  "retry N of M", it counts the failures in a row of that one request
                                  or download (another URL or blob starts at 1 again, and so does a
                                  download that got further since its last failure); 0 before one */
} vmpull_progress;

/* Called on the thread that called vmpull_pull(): once when resolving starts
 * (VMPULL_STAGE_RESOLVE), once when the transfer starts, then at most every
 * 50 ms while bytes flow (not for every chunk) or while waiting to retry a
 * request or for another vmpull downloading the same cache entry (at least
 * once a second then, nothing moving), and once with
 * VMPULL_STAGE_DONE. Return 0 to go on, non-zero to cancel: the
 * pull then stops at once and fails with VMPULL_E_CANCELLED, leaving nothing
 * behind (the return value of the DONE call is ignored: the disk is already
 * committed). The callback should be quick; it blocks the transfer. */
typedef int (*vmpull_progress_fn)(const vmpull_progress *progress, void *userdata);
/* A warning the caller may show (one line, no newline, no credentials; valid
 * during the call only), e.g. a retry after a dropped connection. Called on
 * the thread that called vmpull_pull(). */
typedef void (*vmpull_warning_fn)(const char *message, void *userdata);

/* (added in 0.3) Levels of the log hook, vmpull_pull_options.log. */
typedef enum vmpull_log_level {
  VMPULL_LOG_DEBUG = 0,        /* detail: each HTTP request (method, URL, status, bytes), each
                                  mirror tried, decoder threads */
  VMPULL_LOG_INFO = 1,         /* what the pull decided: cached, revalidate, resume or
                                  download, the mirror chosen, the format detected */
} vmpull_log_level;
/* (added in 0.3) A line for someone debugging a pull (what `vmpull -v` shows): one line,
 * no newline, no credentials, cleaned like warnings; valid during the call only. Called
 * only when set, on the thread that called vmpull_pull(), in the order things happen;
 * the library still prints nothing itself. The wording is not an interface. */
typedef void (*vmpull_log_fn)(int level, const char *message, void *userdata);

/* What to pull and how. Initialise with vmpull_pull_options_init(), then set
 * fields; a zero/NULL field means its default. All pointers are borrowed for
 * the duration of vmpull_pull(). One options struct may be reused for
 * several pulls in turn, or read by several pulls at once (it is not
 * written to). */
/* What machine_name and max_size stand for when they are NULL / 0. */
#define VMPULL_DEFAULT_MACHINE_NAME "podman-machine-default"
#define VMPULL_DEFAULT_MAX_SIZE (1ull << 40) /* 1 TiB */
typedef struct vmpull_pull_options {
  size_t struct_size;          /* set by vmpull_pull_options_init() */

  const char *source;          /* path, http(s) URL, oci-dir://..., docker://... (skopeo's oci:PATH[:REF]
                                  and oci-archive:FILE[:REF] too; its other transports are refused) */
  const char *output;          /* exact output path; NULL: naming rule below. (0.3) A block device
                                  (or a symlink that resolves to one, /dev/disk/by-id/...) is
                                  written in place, see "Block devices" below */
  const char *data_dir;        /* output folder for the naming rule (created 0700) */
  const char *machine_name;    /* naming rule prefix; default "podman-machine-default" */
  const char *provider;        /* qemu (default), applehv, libkrun, hyperv, wsl */
  const char *arch;            /* x86_64/amd64, aarch64/arm64; NULL: the host */
  int replace;                 /* replace an existing output atomically. On a block device nothing
                                  is atomic: replace only lets a device that is not empty be
                                  overwritten, and a failed pull leaves a partial image there */
  const char *expected_digest; /* "sha256:HEX" of the source bytes as fetched, or NULL */
  const char *checksums;       /* SHA256SUMS file (path or URL) to look the image up in */
  unsigned threads;            /* decoder threads; 0: online CPUs */
  uint64_t max_size;           /* decompressed output limit; 0: 1 TiB. A source announcing more
                                  than it + 1% + 1 MiB (Content-Length, OCI descriptor, file
                                  size) fails with VMPULL_E_LIMIT before it is read */
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

  /* Callbacks (run on the calling thread; NULL: none) */
  vmpull_progress_fn progress;
  void *progress_data;         /* passed to progress as userdata */
  vmpull_warning_fn warning;
  void *warning_data;          /* passed to warning as userdata */
  /* NULL or a flag polled before every chunk and while waiting for the
   * network: set it to non-zero (from a signal handler or another thread) to
   * cancel; the pull then fails with VMPULL_E_CANCELLED within a fraction of
   * a second, leaving nothing behind. The library never clears it. */
  volatile sig_atomic_t *cancel;

  /* Cache (continued) */
  int keep_uncompressed;       /* also keep the decoded disk in the cache: the next pull of
                                  the same source digest copies it (reflink where possible) */
  const char *stream_url;      /* fcos:// stream metadata URL; NULL: builds.coreos.fedoraproject.org */

  /* Registry mirrors (docker:// sources). Each string is "REGISTRY=MIRROR":
   * MIRROR is host[:port][/namespace] and REGISTRY a registry host, optionally
   * with a namespace ("quay.io", "quay.io/podman"). The mirrors of the
   * reference's registry are tried in the order given, before the registry
   * itself; a mirror that cannot be reached, answers 401, 403, 404 or 5xx is
   * skipped (one warning each), a digest mismatch is an error. creds are the
   * reference's registry's only: a mirror gets what the auth files hold for
   * its own host. The mirror that served the pull is reported in
   * vmpull_progress.mirror. */
  const char *const *mirrors;
  size_t n_mirrors;
  int mirror_by_digest_only;   /* use mirrors only for references by digest; a tag goes to the
                                  registry itself (registries.conf's mirror-by-digest-only) */

  /* (added in 0.3) Log lines (vmpull_log_fn), run on the calling thread; NULL: none. A
   * program built against an older header has no such field: its pulls log nothing. */
  vmpull_log_fn log;
  void *log_data;              /* passed to log as userdata */

  /* (added in 0.3) registries.conf (containers-registries.conf(5)), read for docker:// sources
   * as containers/image reads it: $CONTAINERS_REGISTRIES_CONF, else
   * ~/.config/containers/registries.conf if it exists, else /etc/containers/registries.conf,
   * then the *.conf drop-ins of /etc/containers/registries.conf.d (not when the main file is
   * the one in $HOME) and ~/.config/containers/registries.conf.d. A [[registry]]'s mirrors come
   * after `mirrors` above, its location replaces the registry, insecure = true acts as
   * tls_verify = 0 for that host only, blocked = true fails with VMPULL_E_CONFIG, as does a
   * file that does not parse; credential-helpers are asked in order. Aliases are never
   * applied. An older program's pulls read the files too. */
  int no_registries_conf;      /* non-zero: read none of it */
  const char *registries_conf; /* this file instead of the main one (it must exist; the drop-ins
                                  are still read, as skopeo's --registries-conf), or NULL */

  /* Credentials (added in 0.3) */
  int no_creds;                /* send no credentials to any registry: not creds, not the auth
                                  files nor their helpers (skopeo's --no-creds); with creds set
                                  too, a registry pull fails with VMPULL_E_USAGE */

  /* Signatures (added in 0.3) */
  const char *keyring;         /* OpenPGP public keys (armored or binary file) that fcos:// disks and
                                  signed checksum lists must be signed by; NULL: the keys shipped
                                  in <datadir>/vmpull/keys (Fedora's, as coreos-installer trusts) */
  const char *checksums_signature; /* detached OpenPGP signature of the checksums list (path, file://
                                  or URL: SHA256SUMS.gpg); a clearsigned list needs none */
  int insecure_skip_signature; /* check no signature of fcos:// disks and checksum lists (a warning
                                  says so); never applies to a registry's policy.json */

  /* Signature policy (added in 0.3) */
  const char *signature_policy; /* containers-policy.json(5) for OCI sources; NULL:
                                   $HOME/.config/containers/policy.json, else
                                   /etc/containers/policy.json, else none (anything is
                                   accepted). A rejected image fails with VMPULL_E_SIGNATURE
                                   before any of its disk's bytes are requested. */
  const char *registries_d;     /* containers-registries.d(5) folder (lookaside signature
                                   stores); NULL: $HOME/.config/containers/registries.d if it
                                   exists, else /etc/containers/registries.d */

  /* Fetch (added in 0.3) */
  int refresh;                 /* a plain URL whose server cannot be reached (the name does not
                                  resolve, the connection is refused, connecting timed out) fails
                                  even when the cache has a copy; 0: that copy is used, with a
                                  warning naming its age, and the outcome says VMPULL_CACHE_STALE */

  /* Block devices (added in 0.3). An output that is a block device (by stat, after following
   * links) is opened O_EXCL, so a mounted or otherwise claimed device fails (VMPULL_E_IO, naming
   * it); it must hold a raw disk (a qcow2, VHDX, VMDK, ... fails with VMPULL_E_UNSUPPORTED naming
   * the format, the device untouched); a disk whose size is known before it is written (a raw
   * source, a size its container declares) must fit, else the pull fails when the device is
   * full; a device with a non-zero byte in its first or last MiB is refused (VMPULL_E_EXISTS)
   * unless replace. The disk's holes are zeroed on the device (BLKZEROOUT), its first MiB is kept
   * back (zeroed on the device) and written only after every check passed, then the device is
   * flushed and its partition table re-read. A failed pull after the first write leaves a
   * partial image on the device, and its message says so. Linux only; not vmpull_pull_to_fd. */
  int assume_zeroed;           /* the device reads as zeros already (new, or discarded): its holes
                                  are not zeroed, only the disk's data is written (with an output
                                  that is not a block device: VMPULL_E_USAGE) */
  /* (added in 0.3) Also write the disk's block map here (bmap format 2.0, as bmap-tools reads it:
   * the ranges of its non-zero 4 KiB blocks, each with the sha256 of its bytes, computed while
   * writing), published like the output (a temporary, then its name; an existing file is
   * replaced only with replace, also with vmpull_pull_to_fd) and only when the pull succeeds;
   * NULL: none. */
  const char *bmap;
  /* (added in 0.3) Segmented downloads: at most this many connections for one http(s) file or
   * registry blob whose server takes byte ranges (Accept-Ranges: bytes and a strong validator,
   * or a blob by digest) and that is at least two pieces long (8 MiB or more). The download
   * starts on one connection and adds more while the bytes per second keep rising.
   * 0: the default (8); 1: one streaming request, as before. */
  unsigned connections;
} vmpull_pull_options;

/* Fill opts with defaults (zero, tls_verify = 1, retries = -1) and set
 * struct_size; pass sizeof(*opts), so that a newer library knows which
 * fields this program's header had. Always call it first. */
VMPULL_PUBLIC void vmpull_pull_options_init(vmpull_pull_options *opts, size_t struct_size);

/* What a successful pull produced. Filled by vmpull_pull() (zeroed on
 * failure); every string is owned by the result, freed by vmpull_result_free(). */
typedef struct vmpull_result {
  char *path;                  /* final disk path */
  char *source;                /* the source as given, credentials replaced by *** */
  char *format;                /* "xz", "gzip", "zstd", "bzip2", "zip", "lzma", "lzip", "none" */
  char *digest;                /* "sha256:HEX" of the source bytes as fetched (always set by this
                                  call: a local file copied as it is is hashed for it) */
  char *image_name;            /* image file name used for naming */
  char *content_disposition;   /* filename from Content-Disposition, or NULL */
  char *reference;             /* resolved OCI reference / manifest digest, or NULL */
  uint64_t fetched;            /* source bytes */
  uint64_t size;               /* apparent size of the disk written */
  uint64_t allocated;          /* bytes the disk occupies (st_blocks * 512) */
} vmpull_result;

/* Pull opts->source into a disk file, in one streaming pass: fetch, hash,
 * detect the format, decompress and write a sparse temporary file that is
 * renamed to the output path once every check passed. Blocks until done.
 * Returns 0 and fills *result (free it with vmpull_result_free), or a
 * negative vmpull_code with *err filled and *result zeroed; then nothing is
 * left under the output name (no temporary file either) and an existing
 * output is untouched. Thread-safe for distinct result/err. */
VMPULL_PUBLIC int vmpull_pull(const vmpull_pull_options *opts, vmpull_result *result, vmpull_error *err);

/* Free the strings of a result and zero it (NULL and an already freed or
 * zeroed result are fine). The struct itself is the caller's. */
VMPULL_PUBLIC void vmpull_result_free(vmpull_result *result);

/*
 * The outcome of a pull (added in 0.3, node VMPULL_0.3): what vmpull_pull2()
 * and vmpull_pull_to_fd() hand back, opaque, allocated by the library and read
 * through the accessors below (new facts come as new accessors). It is
 * returned on failure too, with the error's details and the facts known so far
 * (the mirror, the bytes transferred). Every string it returns is owned by the
 * outcome (valid until vmpull_outcome_free), cleaned like vmpull_result's:
 * what came from outside (source, names, reference, mirror, the message) has
 * no control characters, no invalid UTF-8 and no credentials; the path is the
 * output as given or made by the naming rule. Every accessor
 * takes NULL and then returns what it returns for "not known": NULL, 0, or
 * UINT64_MAX for a size. An outcome may be read from any thread, but freed
 * only once.
 */
typedef struct vmpull_outcome vmpull_outcome;

/* How the cache served the image's bytes (vmpull_outcome_cache). */
typedef enum vmpull_cache_use {
  VMPULL_CACHE_NONE = 0,       /* no cache in use (none given, --no-cache, a local file, or a cache that failed) */
  VMPULL_CACHE_MISS = 1,       /* fetched from the network (and filed in the cache); see resumed_from */
  VMPULL_CACHE_HIT = 2,        /* the cached blob, no request for it (by digest, or --offline) */
  VMPULL_CACHE_REVALIDATED = 3, /* the cached copy, after the server said it is current (304) */
  VMPULL_CACHE_KEPT_DISK = 4,  /* a decoded disk kept by keep_uncompressed was copied */
  VMPULL_CACHE_STALE = 5,      /* the cached copy of a plain URL, served without the server's word:
                                  it could not be reached (see vmpull_pull_options.refresh) */
} vmpull_cache_use;

/* "none", "miss", "hit", "revalidated", "kept-disk", "stale" (the names `vmpull --json` prints);
 * "unknown" for anything else. A static string; thread-safe. (added in 0.3) */
VMPULL_PUBLIC const char *vmpull_cache_use_name(vmpull_cache_use use);

/* Pull opts->source as vmpull_pull() does (the same output rules: a
 * temporary file renamed into place, nothing left behind on failure).
 * Returns 0 or a negative vmpull_code, with err filled as vmpull_pull() fills
 * it (err may be NULL). When outcome is not NULL, *outcome receives the
 * outcome on success and on failure (free it with vmpull_outcome_free); it is
 * NULL only when the library ran out of memory for it. */
VMPULL_PUBLIC int vmpull_pull2(const vmpull_pull_options *opts, vmpull_outcome **outcome, vmpull_error *err);

/* The same pull, written to the caller's writable fd instead of a named
 * file: opts->output, opts->data_dir, opts->machine_name, opts->replace and
 * opts->mode are ignored, no temporary file is made and nothing is renamed (the fd is
 * the caller's; it is not closed, and the outcome's path is NULL). A regular
 * file (not opened with O_APPEND, which is refused) is truncated first, written from offset 0 with holes for its zero
 * blocks (lseek over them, ftruncate to the disk's size at the end) and
 * fsync'd; any other fd (a pipe, a socket) gets every byte in order, zeros
 * included. A decoded disk is not kept (keep_uncompressed) when the fd is not
 * a regular file open for reading and writing. Where vmpull_pull() would
 * fetch again after cached bytes proved bad, a pipe's pull fails instead (the
 * pipe already has bytes). On failure what was written to the fd is
 * unspecified. */
VMPULL_PUBLIC int vmpull_pull_to_fd(const vmpull_pull_options *opts, int fd, vmpull_outcome **outcome,
                                    vmpull_error *err);

/* Free an outcome (NULL is fine). */
VMPULL_PUBLIC void vmpull_outcome_free(vmpull_outcome *outcome);

/* Success facts, as in vmpull_result (NULL when not known or not applicable). */
VMPULL_PUBLIC const char *vmpull_outcome_path(const vmpull_outcome *outcome); /* NULL for pull_to_fd */
VMPULL_PUBLIC const char *vmpull_outcome_source(const vmpull_outcome *outcome); /* set on failure too */
VMPULL_PUBLIC const char *vmpull_outcome_format(const vmpull_outcome *outcome);
/* "sha256:HEX" of the source bytes as fetched; NULL for a local file that was
 * copied as it is (no compression: a reflink or its data extents) with no
 * digest to check (expected_digest, a checksums entry): nothing hashed it. */
VMPULL_PUBLIC const char *vmpull_outcome_digest(const vmpull_outcome *outcome);
VMPULL_PUBLIC const char *vmpull_outcome_image_name(const vmpull_outcome *outcome);
VMPULL_PUBLIC const char *vmpull_outcome_content_disposition(const vmpull_outcome *outcome);
VMPULL_PUBLIC const char *vmpull_outcome_reference(const vmpull_outcome *outcome);
/* The registry mirror that served the bytes ("cache.example:5000/ns"), NULL
 * when the registry itself (or no registry) did; known from resolving on. */
VMPULL_PUBLIC const char *vmpull_outcome_mirror(const vmpull_outcome *outcome);
/* Sizes in bytes; UINT64_MAX when not known (a failed pull). */
VMPULL_PUBLIC uint64_t vmpull_outcome_fetched(const vmpull_outcome *outcome);   /* source bytes */
VMPULL_PUBLIC uint64_t vmpull_outcome_size(const vmpull_outcome *outcome);      /* apparent size of the disk */
VMPULL_PUBLIC uint64_t vmpull_outcome_allocated(const vmpull_outcome *outcome); /* st_blocks * 512; 0 for a pipe */
/* Bytes of the image received from the network in this call (manifests and
 * other metadata not counted; a cache hit or a kept disk: 0). Counted on
 * failure too. */
VMPULL_PUBLIC uint64_t vmpull_outcome_bytes_transferred(const vmpull_outcome *outcome);
/* The offset an interrupted download of the image was resumed at (the bytes
 * before it came from the cache's partial/); 0: not resumed. */
VMPULL_PUBLIC uint64_t vmpull_outcome_resumed_from(const vmpull_outcome *outcome);
/* How the cache served the bytes (VMPULL_CACHE_NONE for NULL). */
VMPULL_PUBLIC vmpull_cache_use vmpull_outcome_cache(const vmpull_outcome *outcome);
/* The signature that verified who made the image: its kind ("openpgp" for a fcos:// disk or a
 * checksums list; "simple-signing" or "sigstore" for what policy.json required) and the key (an
 * OpenPGP fingerprint: 40 or 64 uppercase hex digits; a sigstore key's "SHA256:<hex>" id), or NULL
 * when none was checked. */
VMPULL_PUBLIC const char *vmpull_outcome_signature_type(const vmpull_outcome *outcome);
VMPULL_PUBLIC const char *vmpull_outcome_signature_key(const vmpull_outcome *outcome);

/* Failure facts, also filled on success (code 0, message ""). */
VMPULL_PUBLIC int vmpull_outcome_error_code(const vmpull_outcome *outcome); /* a vmpull_code, positive */
VMPULL_PUBLIC const char *vmpull_outcome_error_message(const vmpull_outcome *outcome); /* "" on success */
/* The errno behind the failure (ENOSPC, EACCES, ECONNREFUSED, ...); 0: none. */
VMPULL_PUBLIC int vmpull_outcome_errno(const vmpull_outcome *outcome);
/* The HTTP status of the response that failed the pull (404, 503, ...); 0: none. */
VMPULL_PUBLIC int vmpull_outcome_http_status(const vmpull_outcome *outcome);
/* libcurl's CURLcode of the transfer that failed (7: could not connect, ...); 0: none. */
VMPULL_PUBLIC int vmpull_outcome_curl_code(const vmpull_outcome *outcome);

/*
 * The cache (vmpull_pull_options.cache_dir). Its layout:
 *   blobs/sha256/<hex>   artifacts as fetched (compressed), named by their digest:
 *                        the blob store of an OCI image layout
 *   disks/sha256/<hex>   decoded disks kept by keep_uncompressed, named by the
 *                        digest of the source they were decoded from, each with
 *                        a record (<hex>.json) it is checked by on every use
 *   partial/             interrupted downloads with their validators, resumed by
 *                        the next pull of the same thing
 *   refs/                what was asked for (URL, reference) -> digest, ETag,
 *                        Last-Modified
 * Entries age by last use (a pull that uses an entry sets its modification
 * time). A blob is only ever trusted after its digest checked, so a damaged
 * entry costs a new download, never a bad disk. These functions are safe to
 * run while pulls use the same cache: an entry a pull is filling is skipped.
 */
typedef enum vmpull_cache_kind {
  VMPULL_CACHE_BLOB = 0,       /* blobs/sha256/<hex> */
  VMPULL_CACHE_DISK = 1,       /* disks/sha256/<hex> */
  VMPULL_CACHE_PARTIAL = 2,    /* partial/<key>: an interrupted download */
} vmpull_cache_kind;

typedef struct vmpull_cache_entry {
  int kind;                    /* a vmpull_cache_kind */
  char *digest;                /* "sha256:HEX"; for a partial its expected digest, or NULL */
  char *source;                /* the URL or reference it was fetched for, or NULL */
  char *path;                  /* the file in the cache */
  uint64_t size;               /* bytes (a partial: fetched so far) */
  int64_t last_used;           /* seconds since the epoch */
} vmpull_cache_entry;

typedef struct vmpull_cache_entries {
  vmpull_cache_entry *entries; /* owned; free with vmpull_cache_entries_free() */
  size_t count;
} vmpull_cache_entries;

/* Every entry of the cache in cache_dir, least recently used first. A missing
 * cache folder is an empty cache. Returns 0 or a negative vmpull_code. */
VMPULL_PUBLIC int vmpull_cache_list(const char *cache_dir, vmpull_cache_entries *out, vmpull_error *err);

/* Remove entries not used for older_than seconds (0: all of them; -1: no age
 * limit), then, while the cache is larger than max_size bytes (UINT64_MAX: no
 * limit), the least recently used ones. Partial downloads age the same way;
 * entries a running pull holds are kept. Also removes leftovers (index
 * entries whose blob is gone, stale temporaries). removed (may be NULL)
 * receives what went. Returns 0 or a negative vmpull_code. */
VMPULL_PUBLIC int vmpull_cache_prune(const char *cache_dir, int64_t older_than, uint64_t max_size,
                                     vmpull_cache_entries *removed, vmpull_error *err);

/* Re-hash every blob and check every kept disk against its record (the
 * source digest, its size and the map of its chunks that was recorded while
 * it was written); remove the bad ones, listed in removed (may be NULL).
 * Returns how many entries were checked, or a negative vmpull_code. */
VMPULL_PUBLIC int vmpull_cache_verify(const char *cache_dir, vmpull_cache_entries *removed, vmpull_error *err);

/* Free what list/prune/verify returned and zero it (NULL is fine). */
VMPULL_PUBLIC void vmpull_cache_entries_free(vmpull_cache_entries *entries);

/* vmpull_inspect() flags. */
#define VMPULL_INSPECT_ALL 1u /* every disk the index offers, not only the one pull would choose */

/* Describe what vmpull_pull() would fetch from an OCI source (oci-dir://,
 * oci-archive:// or docker://) without downloading the disk: the source is resolved exactly as
 * pull resolves it (same opts: provider, arch, credentials, TLS, default
 * image), reading the index and manifests and only the first bytes of the
 * layer (to see a tar layer's file name and the compression, which the
 * output name depends on). On success *json is a NUL-terminated JSON object
 * the caller releases with free():
 *   {"reference", "index_digest" (null without an index), "manifest_digest",
 *    "pinned_reference", "platform": {"os", "architecture", "variant"} or null,
 *    "disktype" (or null), "layer_digest", "size", "media_type", "tar_layer",
 *    "file_name", "format", "output_path"}
 * With VMPULL_INSPECT_ALL: {"reference", "index_digest", "entries": [objects
 * as above, without "reference", each with "selected": whether pull would
 * choose it]}.
 * (added in 0.3) Of a local file, an http(s) URL or fcos:// (VMPULL_INSPECT_ALL
 * is then a usage error), only the first 4096 bytes are read (a URL's with one
 * "Range: bytes=0-4095" request; an answer that ignores the range is cut off
 * after them):
 *   {"source", "url" (where the bytes are: the URL, fcos's artifact; else null),
 *    "reference" (fcos's release, or null), "file_name", "format", "size",
 *    "digest" (null when not known without reading the image: fcos's sha256,
 *    expected_digest or the checksums entry), "output_path"}
 * Returns 0 or a negative vmpull_code (*json is then NULL). */
VMPULL_PUBLIC int vmpull_inspect(const vmpull_pull_options *opts, unsigned flags, char **json, vmpull_error *err);

/* vmpull_save() flags. */
#define VMPULL_SAVE_ALL 1u /* every disk the index offers (all disktypes and architectures) */

/* Copy what vmpull_pull() would fetch from opts->source, still compressed and
 * byte for byte, into an OCI image layout, e.g. to carry it across an air gap;
 * `vmpull_pull()` of "oci-dir://PATH:REF" then works offline. dest is
 *   "oci-dir://PATH[:REF]"      a layout folder, created when missing; saves into
 *                               an existing layout add to its index.json (an entry
 *                               with the same REF is replaced)
 *   "oci-archive://FILE[:REF]"  the same layout as one tar file, written whole
 *                               (an existing FILE is replaced only with opts->replace)
 * REF (the entry's org.opencontainers.image.ref.name) defaults to the source's
 * tag or REF, else "latest". Sources: docker:// and oci-dir:// / oci-archive://
 * (the manifest pull would choose, its config and its layer, or with
 * VMPULL_SAVE_ALL the whole index and every disk it offers), and local files and
 * http(s) URLs (wrapped as a machine-OS artifact: an index with one entry,
 * platform linux/opts->arch and annotation disktype from opts->provider, whose
 * manifest has one layer titled with the file name).
 * Every blob is hashed while it is copied and must match its digest and size;
 * blobs go in first (each appears under its name only when complete), index.json
 * last, by rename: an interrupted save leaves the layout as it was. A blob already
 * in the layout with the right size is kept. On success *json is a JSON object
 * (free()): {"source", "destination", "ref_name", "digest", "media_type",
 * "mirror", "manifests": [digests], "blobs", "blobs_reused", "bytes"}.
 * Returns 0 or a negative vmpull_code (*json is then NULL). */
VMPULL_PUBLIC int vmpull_save(const vmpull_pull_options *opts, const char *dest, unsigned flags, char **json,
                              vmpull_error *err);

/* (added in 0.3) The library's one cleaning of text from outside, for what a program shows
 * itself (an argument echoed in a usage error, a file name): C0 controls, DEL, C1 controls
 * (U+0080-U+009F, as UTF-8) and every byte that is not part of valid UTF-8 become "\xNN", one
 * escape per byte; all other text, multi-byte characters included, is kept, and cleaning clean
 * text changes nothing. Messages and warnings from the library are already clean.
 * Reads len bytes of src (NULs included, escaped); writes at most size - 1 bytes and a NUL into
 * dst, never cutting an escape or a character (size 0 or dst NULL: nothing is written). Returns
 * the length the whole cleaned text needs, as snprintf does. */
VMPULL_PUBLIC size_t vmpull_text_clean(char *dst, size_t size, const char *src, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* VMPULL_H */
