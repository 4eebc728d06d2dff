/* SPDX-License-Identifier: Apache-2.0 */
#include "trust/openpgp.h"

#include "base/platform.h"
#include "base/ring.h"
#include "base/thread.h"

#include <ctype.h>
#include <fcntl.h>
#include <ftw.h>
#include <gpgme.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

/* Key files are small (Fedora's set is a few KiB); a bigger one is not a key file. */
#define KEY_FILE_MAX (16u << 20)
/* The bytes queued between a feeding pull and GPGME's thread. */
#define STREAM_RING (1u << 20)

struct openpgp_keyring {
  char *home; /* the temporary GnuPG home */
  char **fprs;
  size_t n_fprs;
};

/* ---- GPGME, once, without its side effects ---- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_ok;

/* GPGME ignores SIGPIPE for the whole process: the caller's disposition is put back (Windows has no
 * SIGPIPE). */
static void init_gpgme(void) {
#ifdef SIGPIPE
  struct sigaction saved;
  int have_saved = sigaction(SIGPIPE, NULL, &saved) == 0;
  init_ok = gpgme_check_version(NULL) != NULL;
  if (have_saved)
    sigaction(SIGPIPE, &saved, NULL);
#else
  init_ok = gpgme_check_version(NULL) != NULL;
#endif
}

/* A write to a pipe whose reader (gpg) is gone raises SIGPIPE on the writing thread: blocked while
 * GPGME runs and one that was raised consumed (plat_sigpipe_block), so that the caller's
 * disposition never fires. */
static int gpgme_fail(lib_error *err, gpgme_error_t e, const char *what) {
  return error_set(err, VMPULL_E_SIGNATURE, "%s: %s", what, gpgme_strerror(e));
}

static int ctx_new(const struct openpgp_keyring *k, gpgme_ctx_t *out, lib_error *err) {
  gpgme_ctx_t ctx = NULL;
  gpgme_error_t e = gpgme_new(&ctx);
  if (!e)
    e = gpgme_set_protocol(ctx, GPGME_PROTOCOL_OpenPGP);
  if (!e)
    e = gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL, k->home);
  if (e) {
    if (ctx)
      gpgme_release(ctx);
    return gpgme_fail(err, e, "OpenPGP: cannot set up GPGME");
  }
  gpgme_set_offline(ctx, 1);
  *out = ctx;
  return 0;
}

static void ctx_releasep(gpgme_ctx_t *ctx) {
  if (*ctx)
    gpgme_release(*ctx);
}
static void data_releasep(gpgme_data_t *d) {
  if (*d)
    gpgme_data_release(*d);
}

/* ---- the keyring ---- */

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  if (type == FTW_DP)
    rmdir(path);
  else
    unlink(path);
  return 0;
}

/* no-autostart keeps an agent from starting; if one did all the same (a socket is there), stop it. */
static void stop_daemons(const char *home) {
  _cleanup_free_ char *sock = xasprintf("%s/S.gpg-agent", home);
  struct stat st;
#ifndef _WIN32
  char run_dir[64];
  snprintf(run_dir, sizeof(run_dir), "/run/user/%u/gnupg", (unsigned)getuid());
  if (!sock || (lstat(sock, &st) != 0 && lstat(run_dir, &st) != 0))
    return;
#else
  if (!sock || plat_fstatat(AT_FDCWD, sock, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return;
#endif
  const char *gpgconf = gpgme_get_dirinfo("gpgconf-name");
  if (!gpgconf)
    return;
  static const char *const steps[][2] = {{"--kill", "all"}, {"--remove-socketdir", NULL}};
  for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
    const char *const argv[] = {gpgconf, "--homedir", home, steps[i][0], steps[i][1], NULL};
    (void)plat_run_quiet(argv);
  }
}

void openpgp_keyring_free(struct openpgp_keyring *k) {
  if (!k)
    return;
  if (k->home) {
    stop_daemons(k->home);
    nftw(k->home, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    free(k->home);
  }
  for (size_t i = 0; i < k->n_fprs; i++)
    free(k->fprs[i]);
  free(k->fprs);
  free(k);
}

int openpgp_keyring_new(struct openpgp_keyring **out, lib_error *err) {
  *out = NULL;
  pthread_once(&init_once, init_gpgme);
  if (!init_ok)
    return error_set(err, VMPULL_E_SIGNATURE, "OpenPGP: GPGME could not be initialised");
  gpgme_error_t e = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP);
  if (e)
    return gpgme_fail(err, e, "OpenPGP: GnuPG (gpg) is not usable");

  _cleanup_(openpgp_keyring_freep) struct openpgp_keyring *k = calloc(1, sizeof(*k));
  if (!k)
    return error_oom(err);
  _cleanup_free_ char *home = xasprintf("%s/vmpull-gpg-XXXXXX", plat_temp_dir());
  if (!home)
    return error_oom(err);
  if (!mkdtemp(home))
    return error_set_errno(err, VMPULL_E_IO, errno, "OpenPGP: create a temporary GnuPG home %s", home);
  k->home = TAKE_PTR(home);
  _cleanup_free_ char *conf = xasprintf("%s/gpg.conf", k->home);
  if (!conf)
    return error_oom(err);
  _cleanup_close_ int fd = plat_openat(AT_FDCWD, conf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  static const char settings[] = "no-autostart\n";
  int r = fd < 0 ? -errno : write_all(fd, settings, sizeof(settings) - 1);
  if (r < 0)
    return error_set_errno(err, VMPULL_E_IO, -r, "OpenPGP: write %s", conf);
  *out = TAKE_PTR(k);
  return 0;
}

size_t openpgp_keyring_count(const struct openpgp_keyring *k) {
  return k ? k->n_fprs : 0;
}

static int keyring_has(const struct openpgp_keyring *k, const char *fpr) {
  for (size_t i = 0; i < k->n_fprs; i++)
    if (!strcmp(k->fprs[i], fpr))
      return 1;
  return 0;
}

static int keyring_note(struct openpgp_keyring *k, const char *fpr) {
  if (keyring_has(k, fpr))
    return 0;
  char **grown = realloc(k->fprs, (k->n_fprs + 1) * sizeof(*grown));
  if (!grown)
    return -1;
  k->fprs = grown;
  if (!(k->fprs[k->n_fprs] = strdup(fpr)))
    return -1;
  k->n_fprs++;
  return 0;
}

int openpgp_keyring_add_data(struct openpgp_keyring *k, const void *data, size_t len, const char *what,
                             lib_error *err) {
  _cleanup_(ctx_releasep) gpgme_ctx_t ctx = NULL;
  int r = ctx_new(k, &ctx, err);
  if (r < 0)
    return error_wrap(err, "%s", what);
  _cleanup_(data_releasep) gpgme_data_t in = NULL;
  gpgme_error_t e = gpgme_data_new_from_mem(&in, data, len, 0);
  if (e)
    return gpgme_fail(err, e, what);
  struct plat_sigpipe_guard guard;
  plat_sigpipe_block(&guard);
  e = gpgme_op_import(ctx, in);
  plat_sigpipe_unblock(&guard);
  if (e)
    return error_set(err, VMPULL_E_SIGNATURE, "%s: cannot import OpenPGP keys: %s", what, gpgme_strerror(e));
  gpgme_import_result_t res = gpgme_op_import_result(ctx);
  size_t added = 0;
  for (gpgme_import_status_t st = res ? res->imports : NULL; st; st = st->next) {
    if (st->result != GPG_ERR_NO_ERROR || !st->fpr)
      continue;
    if (keyring_note(k, st->fpr) < 0)
      return error_oom(err);
    added++;
  }
  if (!added)
    return error_set(err, VMPULL_E_SIGNATURE, "%s: no OpenPGP public key in it", what);
  return 0;
}

int openpgp_keyring_add_file(struct openpgp_keyring *k, const char *path, lib_error *err) {
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  int r = read_file_or_fail(path, KEY_FILE_MAX, "keyring", &buf, &len, err);
  if (r < 0)
    return r;
  return openpgp_keyring_add_data(k, buf, len, path, err);
}

/* ---- verdicts ---- */

static void fpr_upper(char out[OPENPGP_FPR_MAX], const char *in) {
  size_t i = 0;
  for (; in && in[i] && i < OPENPGP_FPR_MAX - 1; i++)
    out[i] = (char)toupper((unsigned char)in[i]);
  out[i] = '\0';
}

/* Why one signature is not good, in words. */
static void describe(const gpgme_signature_t sig, const char *key, char *out, size_t size) {
  switch (gpgme_err_code(sig->status)) {
  case GPG_ERR_NO_ERROR:
    if (sig->wrong_key_usage)
      snprintf(out, size, "key %s may not make signatures", key);
    else
      snprintf(out, size, "signed by key %s, which is not in the keyring", key);
    break;
  case GPG_ERR_BAD_SIGNATURE: snprintf(out, size, "bad signature by key %s (the data does not match it)", key); break;
  case GPG_ERR_NO_PUBKEY: snprintf(out, size, "signed by key %s, which is not in the keyring", key); break;
  case GPG_ERR_KEY_EXPIRED: snprintf(out, size, "signed by key %s, which has expired", key); break;
  case GPG_ERR_SIG_EXPIRED: snprintf(out, size, "the signature by key %s has expired", key); break;
  case GPG_ERR_CERT_REVOKED: snprintf(out, size, "signed by key %s, which is revoked", key); break;
  default: snprintf(out, size, "signature by key %s not valid: %s", key, gpgme_strerror(sig->status)); break;
  }
}

/* The verdict on the verification ctx has just run. all_good: every signature must be good. */
static int judge(gpgme_ctx_t ctx, const struct openpgp_keyring *k, gpgme_error_t op_err, int all_good,
                 char fpr[OPENPGP_FPR_MAX], lib_error *err) {
  fpr[0] = '\0';
  gpgme_verify_result_t res = gpgme_op_verify_result(ctx);
  if (!res || !res->signatures) {
    if (op_err && gpgme_err_code(op_err) != GPG_ERR_NO_DATA)
      return error_set(err, VMPULL_E_SIGNATURE, "no valid OpenPGP signature: %s", gpgme_strerror(op_err));
    return error_set(err, VMPULL_E_SIGNATURE, "no OpenPGP signature found");
  }
  /* Looking a key up is an operation on ctx, which would free the result: hold it. */
  gpgme_result_ref(res);
  char good_fpr[OPENPGP_FPR_MAX] = "", reason[512] = "";
  size_t good = 0, bad = 0;
  for (gpgme_signature_t sig = res->signatures; sig; sig = sig->next) {
    char key[OPENPGP_FPR_MAX], primary[OPENPGP_FPR_MAX] = "";
    fpr_upper(key, sig->fpr ? sig->fpr : "(unknown)");
    if (sig->fpr) {
      /* sig->fpr may be a subkey's fingerprint or a key id: the keyring holds primary keys */
      gpgme_key_t found = NULL;
      struct plat_sigpipe_guard guard;
      plat_sigpipe_block(&guard);
      gpgme_error_t e = gpgme_get_key(ctx, sig->fpr, &found, 0);
      plat_sigpipe_unblock(&guard);
      if (!e && found && found->subkeys && found->subkeys->fpr)
        fpr_upper(primary, found->subkeys->fpr);
      if (found)
        gpgme_key_unref(found);
    }
    int known = primary[0] && keyring_has(k, primary);
    if (gpgme_err_code(sig->status) == GPG_ERR_NO_ERROR && !sig->wrong_key_usage && known) {
      if (!good++)
        memcpy(good_fpr, primary, sizeof(good_fpr));
      continue;
    }
    if (!bad++)
      describe(sig, known ? primary : key, reason, sizeof(reason));
  }
  gpgme_result_unref(res);
  /* GPGME may report good signatures and still fail the operation (gpg refuses a second signed
   * part, "multiple plaintexts seen"): the text it returned is then not to be trusted either. */
  if (good && op_err)
    return error_set(err, VMPULL_E_SIGNATURE, "OpenPGP verification failed: %s", gpgme_strerror(op_err));
  if (good && (!bad || !all_good)) {
    memcpy(fpr, good_fpr, OPENPGP_FPR_MAX);
    return 0;
  }
  if (good)
    return error_set(err, VMPULL_E_SIGNATURE, "%zu of its %zu signatures are not good: %s", bad, good + bad, reason);
  return error_set(err, VMPULL_E_SIGNATURE, "%s", reason);
}

/* One verification from memory: a detached signature sig over data, or (data NULL) a message that
 * carries its text, whose signed part comes back in *plain. */
static int verify_mem(struct openpgp_keyring *k, const void *sig, size_t sig_len, const void *data, size_t len,
                      char **plain, size_t *plain_len, char fpr[OPENPGP_FPR_MAX], lib_error *err) {
  fpr[0] = '\0';
  _cleanup_(ctx_releasep) gpgme_ctx_t ctx = NULL;
  int r = ctx_new(k, &ctx, err);
  if (r < 0)
    return r;
  _cleanup_(data_releasep) gpgme_data_t sig_data = NULL;
  _cleanup_(data_releasep) gpgme_data_t signed_data = NULL;
  _cleanup_(data_releasep) gpgme_data_t out = NULL;
  gpgme_error_t e = gpgme_data_new_from_mem(&sig_data, sig, sig_len, 0);
  if (!e)
    e = data ? gpgme_data_new_from_mem(&signed_data, data, len, 0) : gpgme_data_new(&out);
  if (e)
    return gpgme_fail(err, e, "OpenPGP");
  struct plat_sigpipe_guard guard;
  plat_sigpipe_block(&guard);
  e = gpgme_op_verify(ctx, sig_data, signed_data, out);
  plat_sigpipe_unblock(&guard);
  r = judge(ctx, k, e, !data, fpr, err);
  if (r < 0 || data)
    return r;
  size_t n = 0;
  char *mem = gpgme_data_release_and_get_mem(out, &n);
  out = NULL;
  char *copy = malloc(n + 1);
  if (copy) {
    if (n)
      memcpy(copy, mem, n);
    copy[n] = '\0';
  }
  gpgme_free(mem);
  if (!copy) {
    fpr[0] = '\0';
    return error_oom(err);
  }
  *plain = copy;
  *plain_len = n;
  return 0;
}

int openpgp_verify_detached(struct openpgp_keyring *k, const void *sig, size_t sig_len, const void *data, size_t len,
                            char fpr[OPENPGP_FPR_MAX], lib_error *err) {
  return verify_mem(k, sig, sig_len, data, len, NULL, NULL, fpr, err);
}

static int verify_with_text(struct openpgp_keyring *k, const void *msg, size_t len, char **plain, size_t *plain_len,
                            char fpr[OPENPGP_FPR_MAX], lib_error *err) {
  *plain = NULL;
  *plain_len = 0;
  return verify_mem(k, msg, len, NULL, 0, plain, plain_len, fpr, err);
}

int openpgp_verify_opaque(struct openpgp_keyring *k, const void *msg, size_t len, char **plain, size_t *plain_len,
                          char fpr[OPENPGP_FPR_MAX], lib_error *err) {
  return verify_with_text(k, msg, len, plain, plain_len, fpr, err);
}

int openpgp_verify_clearsigned(struct openpgp_keyring *k, const void *msg, size_t len, char **plain, size_t *plain_len,
                               char fpr[OPENPGP_FPR_MAX], lib_error *err) {
  return verify_with_text(k, msg, len, plain, plain_len, fpr, err);
}

/* ---- streaming ---- */

struct openpgp_stream {
  struct openpgp_keyring *k;
  gpgme_ctx_t ctx;
  gpgme_data_t sig, signed_data;
  struct gpgme_data_cbs cbs;
  struct ring ring;
  int ring_ready;
  unsigned char *buf;
  pthread_t thread;
  int running; /* the thread was started and not joined yet */
  gpgme_error_t op_err;
};

/* GPGME's read callback, on the verification thread: what the pull fed, 0 at the end. */
static ssize_t stream_read(void *handle, void *buffer, size_t size) {
  struct openpgp_stream *s = handle;
  size_t at;
  size_t n = ring_peek(&s->ring, size, &at);
  if (n) {
    memcpy(buffer, s->buf + at, n);
    ring_release(&s->ring, n);
  }
  return (ssize_t)n;
}

static void *stream_thread(void *arg) {
  struct openpgp_stream *s = arg;
  /* Signals are blocked on this thread (worker_thread_start): a SIGPIPE stays pending and dies with it. */
  s->op_err = gpgme_op_verify(s->ctx, s->sig, s->signed_data, NULL);
  /* Whatever is still fed is not read any more. */
  ring_abandon(&s->ring);
  return NULL;
}

static void stream_join(struct openpgp_stream *s) {
  if (!s->running)
    return;
  ring_close(&s->ring);
  pthread_join(s->thread, NULL);
  s->running = 0;
}

void openpgp_stream_free(struct openpgp_stream *s) {
  if (!s)
    return;
  stream_join(s);
  if (s->signed_data)
    gpgme_data_release(s->signed_data);
  if (s->sig)
    gpgme_data_release(s->sig);
  if (s->ctx)
    gpgme_release(s->ctx);
  if (s->ring_ready)
    ring_destroy(&s->ring);
  free(s->buf);
  free(s);
}

int openpgp_stream_start(struct openpgp_keyring *k, const void *sig, size_t sig_len, struct openpgp_stream **out,
                         lib_error *err) {
  *out = NULL;
  _cleanup_(openpgp_stream_freep) struct openpgp_stream *s = calloc(1, sizeof(*s));
  if (!s)
    return error_oom(err);
  s->k = k;
  if (!(s->buf = malloc(STREAM_RING)))
    return error_oom(err);
  int r = ring_init(&s->ring, STREAM_RING);
  if (r)
    return error_set_errno(err, VMPULL_E_IO, r, "OpenPGP: set up the verification");
  s->ring_ready = 1;
  r = ctx_new(k, &s->ctx, err);
  if (r < 0)
    return r;
  s->cbs.read = stream_read;
  gpgme_error_t e = gpgme_data_new_from_mem(&s->sig, sig, sig_len, 1);
  if (!e)
    e = gpgme_data_new_from_cbs(&s->signed_data, &s->cbs, s);
  if (e)
    return gpgme_fail(err, e, "OpenPGP");
  r = worker_thread_start(&s->thread, stream_thread, s);
  if (r)
    return error_set_errno(err, VMPULL_E_IO, r, "OpenPGP: start the verification thread");
  s->running = 1;
  *out = TAKE_PTR(s);
  return 0;
}

int openpgp_stream_feed(struct openpgp_stream *s, const void *data, size_t len, lib_error *err) {
  (void)err;
  const unsigned char *p = data;
  while (len) {
    size_t at;
    size_t n = ring_reserve(&s->ring, len, &at);
    if (!n)
      return 0; /* GPGME is done reading (it failed early): the verdict comes at the finish */
    memcpy(s->buf + at, p, n);
    ring_commit(&s->ring, n);
    p += n;
    len -= n;
  }
  return 0;
}

int openpgp_stream_finish(struct openpgp_stream *s, char fpr[OPENPGP_FPR_MAX], lib_error *err) {
  fpr[0] = '\0';
  if (!s->running && !s->ctx)
    return error_set(err, VMPULL_E_SIGNATURE, "OpenPGP: the verification was not started");
  stream_join(s);
  return judge(s->ctx, s->k, s->op_err, 0, fpr, err);
}
