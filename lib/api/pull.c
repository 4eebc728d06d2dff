/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One pull, top to bottom (after systemd's pull-job.c):
 *   resolve (a plan) -> open (cache or network; a download records itself into the cache)
 *   -> [kept disk: copy into the sink] or tee (sha256, size, progress)
 *   -> [tar unwrap] -> peek + detect -> decode -> sparse atomic sink -> one ending (verify, commit, result)
 * Nothing here knows a codec or a protocol; each arrow is one small file.
 */
#include "api/options.h"
#include "api/outcome.h"
#include "api/pull_kept_disk.h"
#include "api/pull_local.h"
#include "api/pull_output.h"
#include "api/pull_plan.h"
#include "api/pull_signature.h"
#include "base/digest.h"
#include "base/error.h"
#include "base/progress.h"
#include "base/redact.h"
#include "base/util.h"
#include "fetch/cache_session.h"
#include "fetch/fetch.h"
#include "oci/oci_ref.h"
#include "pipeline/decode.h"
#include "pipeline/detect.h"
#include "pipeline/sink.h"
#include "pipeline/sink_device.h"
#include "pipeline/tee.h"
#include "pipeline/unwrap_tar.h"
#include "resolve/resolve.h"

#include <sys/stat.h>

/* The most bytes a source may announce (Content-Length, an OCI descriptor's size, a file's size)
 * before its body is read. --max-size limits the disk; the bytes that make it are no more than the
 * disk in every format vmpull reads, give or take their framing: a tar layer's headers and
 * padding (kilobytes), stored or incompressible blocks (xz, gzip, zstd: well under 0.1%; bzip2 at
 * worst about 0.5%). A source beyond the limit plus 1% and 1 MiB cannot make a disk within it
 * (only padding that decodes to nothing could), so it fails before a byte is fetched instead of
 * at the limit; the sink still enforces the limit itself on what is decoded. */
static uint64_t source_size_limit(uint64_t max_size) {
  uint64_t slack = max_size / 100 + (1u << 20);
  return max_size > UINT64_MAX - slack ? UINT64_MAX : max_size + slack;
}

VMPULL_PUBLIC const char *vmpull_version(void) {
  return VMPULL_VERSION;
}

VMPULL_PUBLIC void vmpull_pull_options_init(vmpull_pull_options *opts, size_t struct_size) {
  memset(opts, 0, struct_size);
  opts->struct_size = struct_size;
  opts->tls_verify = 1;
  opts->retries = -1;
}

VMPULL_PUBLIC void vmpull_result_free(vmpull_result *r) {
  if (!r)
    return;
  free(r->path);
  free(r->source);
  free(r->format);
  free(r->digest);
  free(r->image_name);
  free(r->content_disposition);
  free(r->reference);
  memset(r, 0, sizeof(*r));
}

/* "sha256:HEX" (or sha512) and lowercase hex of the right length, before anything relies on it. */
static int check_digest_syntax(const char *d, lib_error *err) {
  if (!digest_hex(d))
    return error_set(err, VMPULL_E_USAGE, "digest '%s' is not sha256:<64 lowercase hex>", d);
  return 0;
}

static int verify_digest(const char *want, const char *got, const char *what, lib_error *err) {
  if (!want)
    return 0;
  if (strcmp(want, got) != 0)
    return error_set(err, VMPULL_E_DIGEST, "%s%sdigest mismatch: expected %s, got %s", what ? what : "",
                     what ? ": " : "", want, got);
  return 0;
}

/* One pull's state, shared by its producers (kept disk, decoded source) and its one ending. */
struct pull_job {
  const struct pull_config *o;
  struct pull_cache *pc;
  struct resolved *rs;
  const struct pull_decision *decision; /* the way (pull_plan.c), and the checksums list's entry */
  struct progress_state *progress;
  struct vmpull_outcome *out;
  struct pull_signature *sig; /* a detached signature over the bytes as fetched, or none to check */
  int device_touched;         /* a block device output was written to: it holds a partial image until the end */
};

/* What a producer put into the sink. */
struct pull_made {
  const char *digest;     /* sha256 of the source's bytes, or NULL: not hashed (a local copy with nothing to check) */
  const char *format;     /* format_name() of what was decoded */
  const char *image_name; /* or NULL */
  uint64_t fetched;       /* bytes of the source */
  int decoded;            /* 1: decoded from the source here (its cache entry is filed, its disk may be kept) */
};

/* What the caller hears of how the cache serves the bytes, once the way is taken (vmpull_progress). */
static void progress_facts(const struct pull_job *j) {
  j->progress->ev.cache = (int)j->out->facts.cache;
  j->progress->ev.resumed_from = j->out->facts.resumed_from;
}

/* The one ending of every pull: verify, file the cache entry, commit the output, keep its disk,
 * report, fill the result. */
static int pull_end(struct pull_job *j, struct sink *sink, char **out_path, const struct pull_made *m, lib_error *err) {
  /* (a producer that hashes nothing is chosen only when no digest is to be checked) */
  if (!m->digest && (j->rs->expected_digest || j->o->expected_digest || j->decision->listed_digest))
    return error_set(err, VMPULL_E_IO, "%s: no digest was computed to check", j->rs->display);
  int r = verify_digest(j->rs->expected_digest, m->digest, j->rs->display, err);
  if (r < 0)
    return r;
  r = verify_digest(j->o->expected_digest, m->digest, NULL, err);
  if (r < 0)
    return r;
  r = verify_digest(j->decision->listed_digest, m->digest, NULL, err);
  if (r < 0) {
    _cleanup_free_ char *list = redact_source(j->o->resolve.checksums);
    return error_wrap(err, "checksums %s", list ? list : "list");
  }
  /* (a kept disk is the way with a signature to check only once the check read the bytes) */
  r = pull_signature_verdict(j->sig, &j->out->facts, err);
  if (r < 0)
    return r;
  if (m->decoded) {
    r = pull_cache_commit(j->pc, m->digest, err);
    if (r < 0)
      return r;
  }

  uint64_t allocated = 0;
  r = sink_commit(sink, &allocated, err);
  if (r < 0)
    return r;
  if (sink->dev && sink->dev->reread_err)
    hooks_warn(&j->o->hooks,
               "device %s: the disk is written, but the kernel did not read its partition table again (%s)", sink->path,
               strerror(sink->dev->reread_err));
  /* (a sink that cannot be read back, pull_to_fd's pipe, built no map: no disk to keep) */
  if (m->decoded && sink->o.chunk_map)
    pull_cache_keep_disk(j->pc, m->digest, sink, m->format, m->image_name, m->fetched);
  j->progress->ev.written = sink->offset;
  j->progress->ev.stage = VMPULL_STAGE_DONE;
  progress_facts(j);
  (void)progress_report(j->progress, 1, NULL);

  struct vmpull_outcome *res = j->out;
  res->path = TAKE_PTR(*out_path);
  res->format = strdup(m->format);
  res->digest = m->digest ? strdup(m->digest) : NULL;
  res->image_name = m->image_name ? strdup(m->image_name) : NULL;
  res->content_disposition = TAKE_PTR(j->rs->content_disposition);
  res->reference = TAKE_PTR(j->rs->reference);
  res->fetched = m->fetched;
  res->size = sink->offset;
  res->allocated = allocated;
  if (!res->format || (m->digest && !res->digest) || (m->image_name && !res->image_name))
    return error_oom(err);
  return 0;
}

/* The decision chose a decoded disk of these very bytes, a copy away. 1 the pull ended from it,
 * 0 decode the source instead, < 0 error. */
static int pull_from_kept_disk(struct pull_job *j, lib_error *err) {
  _cleanup_(kept_disk_clear) struct kept_disk kd = KEPT_DISK_INIT;
  int r = kept_disk_find(j->pc, j->o, j->rs, j->decision, &kd, err);
  if (r <= 0)
    return r;
  struct sink_options so = {.replace = j->o->replace,
                            .mode = j->o->mode,
                            .max_size = j->o->max_size,
                            .progress = j->progress,
                            .disk_size = kd.record.size};
  _cleanup_(sink_close) struct sink sink = SINK_INIT;
  _cleanup_free_ char *out_path = NULL;
  r = pull_output_open(j->o, kd.image_name, kd.format, &so, &j->device_touched, &sink, &out_path, err);
  if (r < 0)
    return r;
  /* The copy is this pull's transfer: its written bytes are reported as it goes (the source's
   * fetched bytes once it ended, since the disk could still prove bad and the source be decoded). */
  j->progress->ev.name = kd.image_name;
  j->progress->ev.stage = VMPULL_STAGE_TRANSFER;
  r = progress_report(j->progress, 1, err);
  if (r < 0)
    return r;
  r = kept_disk_copy(j->pc, &kd, &sink, j->progress, err);
  if (r <= 0)
    return r;
  /* A cached blob the fetch opened (a 304 confirmed it) is not read, unless a signature is over it:
   * then it is read through the check, and its digest is the one the disk was kept for. */
  if (j->decision->check_source) {
    r = pull_signature_check_blob(j->sig, &j->rs->src, j->rs->expected_size, kd.digest, j->progress, &j->out->facts,
                                  err);
    if (r < 0)
      return r;
  }
  source_free(TAKE_PTR(j->rs->src));
  uint64_t fetched = kd.record.fetched != UINT64_MAX ? kd.record.fetched : 0;
  j->progress->ev.fetched = j->progress->ev.resumed = fetched;
  struct pull_made made = {.digest = kd.digest,
                           .format = kd.record.format,
                           .image_name = kd.image_name ? kd.image_name : "",
                           .fetched = fetched};
  r = pull_end(j, &sink, &out_path, &made, err);
  return r < 0 ? r : 1;
}

/* A local file that is the disk already: cloned or copied into the sink, then the ending. */
static int pull_from_local_copy(struct pull_job *j, lib_error *err) {
  const struct pull_decision *d = j->decision;
  struct progress_state *progress = j->progress;
  progress->ev.name = j->rs->image_name;
  progress->ev.stage = VMPULL_STAGE_TRANSFER;
  progress->ev.fetched_total = d->local_size;
  progress_facts(j);
  int r = progress_report(progress, 1, err);
  if (r < 0)
    return r;
  struct sink_options so = {
      .replace = j->o->replace, .mode = j->o->mode, .max_size = j->o->max_size, .progress = progress};
  _cleanup_(sink_close) struct sink sink = SINK_INIT;
  _cleanup_free_ char *out_path = NULL;
  r = pull_output_open(j->o, j->rs->image_name, FORMAT_NONE, &so, &j->device_touched, &sink, &out_path, err);
  if (r < 0)
    return r;
  char digest[80];
  r = local_copy(d->local_fd, d->local_size, j->rs->display, &sink, progress, d->local_hash, digest, err);
  if (r < 0)
    return r;
  progress->ev.fetched = d->local_size;
  struct pull_made made = {.digest = d->local_hash ? digest : NULL,
                           .format = format_name(FORMAT_NONE),
                           .image_name = j->rs->image_name,
                           .fetched = d->local_size};
  return pull_end(j, &sink, &out_path, &made, err);
}

/* The source's bytes: tee -> [replay] -> [unwrap tar] -> detect -> decode -> sink, then the ending. */
static int pull_decode(struct pull_job *j, lib_error *err) {
  const struct pull_config *o = j->o;
  struct pull_cache *pc = j->pc;
  struct resolved *rs = j->rs;
  struct progress_state *progress = j->progress;
  uint64_t max_size = o->max_size;
  uint64_t announced = rs->expected_size != UINT64_MAX ? rs->expected_size : rs->src->size;
  if (announced != UINT64_MAX && announced > source_size_limit(max_size))
    return error_set(err, VMPULL_E_LIMIT,
                     "%s is %llu bytes, more than a disk within the size limit of %llu bytes (--max-size) is made from",
                     rs->display ? rs->display : "the source", (unsigned long long)announced,
                     (unsigned long long)max_size);
  progress->ev.name = rs->image_name;
  progress->ev.stage = VMPULL_STAGE_TRANSFER;
  progress->ev.fetched_total = announced;
  progress_facts(j);
  int r = progress_report(progress, 1, err);
  if (r < 0)
    return r;

  /* tee: every fetched byte is hashed and counted exactly once */
  /* (the bytes that go into the cache entry are recorded below it, by the fetched source) */
  struct tee_options to = {.expected_size = rs->expected_size, .progress = progress};
  r = pull_signature_start(j->sig, &to, err);
  if (r < 0)
    return r;
  _cleanup_source_ struct byte_source *fetched = NULL;
  r = tee_new(rs->src, &to, &fetched, err);
  if (r < 0)
    return r;
  rs->src = NULL;

  /* unwrap: a tar layer holds the compressed disk as its one file */
  struct byte_source *tee = fetched; /* owned by the chain from here on */
  /* resume: the bytes an interrupted pull left come first, hashed and decoded like new ones */
  r = pull_cache_replay(pc, TAKE_PTR(fetched), &fetched, err);
  if (r < 0)
    return r;
  struct byte_source *fetched_top = fetched;
  struct byte_source *content = TAKE_PTR(fetched);
  if (rs->tar_layer) {
    r = unwrap_tar_layer(&content, &rs->image_name, rs->display, err);
    if (r < 0)
      return r;
    progress->ev.name = rs->image_name;
  }

  /* detect */
  _cleanup_source_ struct byte_source *stream = NULL;
  enum format format;
  r = detect_source(content, rs->image_name, &o->hooks, &stream, &format, err);
  if (r < 0)
    return r;

  /* sink */
  struct decode_options dopts = {.threads = o->threads, .hooks = &o->hooks};
  struct sink_options so = {
      .replace = o->replace,
      .mode = o->mode,
      .max_size = max_size,
      .progress = progress,
      .writer_thread = decode_leaves_a_core(stream, format, &dopts),
      .chunk_map = pull_cache_keeps_disks(pc), /* the record a kept disk is checked by */
      /* a raw disk is its source's bytes: a device too small for them is refused before a write */
      .disk_size = format == FORMAT_NONE && !rs->tar_layer ? announced : UINT64_MAX,
  };
  _cleanup_(sink_close) struct sink sink = SINK_INIT;
  _cleanup_free_ char *out_path = NULL;
  r = pull_output_open(o, rs->image_name, format, &so, &j->device_touched, &sink, &out_path, err);
  if (r < 0)
    return r;

  /* decode */
  r = decoder_for(format)(stream, &sink, &dopts, err);
  if (r < 0) {
    /* A download that broke off is not a decompression failure. */
    if (err->code == VMPULL_E_CANCELLED || err->code == VMPULL_E_NETWORK || err->code == VMPULL_E_HTTP ||
        err->code == VMPULL_E_TLS || err->code == VMPULL_E_AUTH || err->code == VMPULL_E_NOT_FOUND)
      return r;
    /* The outer "pull <source>" already names the source. */
    return error_wrap(err, "decompress");
  }
  /* Whatever the decoder left unread still counts for the digest. */
  for (;;) {
    uint8_t drain[65536];
    size_t got = 0;
    r = source_read(fetched_top, drain, sizeof(drain), &got, err);
    if (r < 0)
      return r;
    if (!got)
      break;
  }

  char digest[80];
  r = tee_digest(tee, digest, err);
  if (r < 0)
    return r;
  struct pull_made made = {.digest = digest,
                           .format = format_name(format),
                           .image_name = rs->image_name,
                           .fetched = tee_bytes(tee),
                           .decoded = 1};
  return pull_end(j, &sink, &out_path, &made, err);
}

/* How many times a pull starts over for a file that changed on the server; the next change fails it. */
#define PULL_RESTARTS_MAX 2

/* pull_decode, started over when the file changed on the server during the download and the
 * server's answer is its new version (fetch_url_restart): hash, decoder and temporary output begin
 * again from that version's byte 0, never mixing two versions. */
static int pull_decode_restarting(struct pull_job *j, lib_error *err) {
  for (;;) {
    int r = pull_decode(j, err);
    if (r == 0 || !j->pc->restart.src)
      return r;
    hooks_warn(&j->o->hooks, "%s: changed on the server during the download; starting over with the new version",
               j->rs->display ? j->rs->display : "the source");
    error_clear(err);
    _cleanup_(http_response_clear) struct http_response resp = {0};
    r = fetch_url_restart(j->pc, &resp, &j->rs->src, err);
    if (r < 0)
      return r;
    free(j->rs->content_disposition);
    j->rs->content_disposition = TAKE_PTR(resp.content_disposition);
  }
}

/* Starting over needs an output that can be written again from its start: not a pipe. A detached
 * signature is over the version the pull began with, whose digest the source also promised. */
static unsigned pull_restarts_allowed(const struct pull_config *o, const struct pull_signature *sig) {
  struct stat st;
  if (sig->keyring || (o->out_fd >= 0 && (fstat(o->out_fd, &st) < 0 || !S_ISREG(st.st_mode))))
    return 0;
  return PULL_RESTARTS_MAX;
}

/* The way the decision chose, and the source after all when a kept disk cannot be used. */
static int pull_by_the_way(struct pull_job *j, struct pull_decision *d, lib_error *err) {
  if (d->way == PULL_WAY_LOCAL_COPY)
    return pull_from_local_copy(j, err);
  if (d->way == PULL_WAY_KEPT_DISK) {
    int r = pull_from_kept_disk(j, err);
    if (r != 0)
      return r < 0 ? r : 0;
    /* the disk could not be used: its source after all, and the disk written again from its start */
    j->progress->ev.written = 0;
    r = pull_plan_open_source(j->rs, d, err);
    if (r < 0)
      return r;
  }
  return pull_decode_restarting(j, err);
}

static int pull_run(const struct pull_config *o, struct vmpull_outcome *out, int *distrust, lib_error *err) {
  const struct output_naming *naming = &o->resolve.naming;
  if (o->expected_digest) {
    int r = check_digest_syntax(o->expected_digest, err);
    if (r < 0)
      return r;
    if (!starts_with(o->expected_digest, "sha256:"))
      return error_set(err, VMPULL_E_USAGE, "--digest takes a sha256: digest");
  }
  if (!naming->output && !naming->data_dir)
    return error_set(err, VMPULL_E_USAGE, "neither an output path nor a data folder was given");
  if (o->resolve.trust.checksums_signature && !o->resolve.checksums)
    return error_set(err, VMPULL_E_USAGE, "a checksums signature without a checksums list (--checksums)");
  int r = output_naming_check(naming, err);
  if (r < 0)
    return r;
  /* A disk image has no business being set-uid, set-gid or sticky. */
  if (o->mode & ~0777u)
    return error_set(err, VMPULL_E_USAGE, "file mode %#o: only permission bits (at most 0777) are allowed", o->mode);
  /* Holes left as they are only make sense on a device known to read as zeros. */
  if (o->assume_zeroed && !o->output_device)
    return error_set(err, VMPULL_E_USAGE, "--assume-zeroed is for a block device output, and %s is not one",
                     naming->output ? naming->output : "the naming rule's output");

  struct progress_state progress = {.fn = o->hooks.progress, .data = o->hooks.progress_data, .cancel = o->hooks.cancel};
  progress.ev.stage = VMPULL_STAGE_RESOLVE;
  progress.ev.fetched_total = UINT64_MAX;
  progress.ev.source = out->source;

  /* cache: what earlier pulls fetched or left half done, and the lock on what this one fills */
  _cleanup_(pull_cache_done) struct pull_cache pc = PULL_CACHE_INIT;
  r = pull_cache_init(&pc, &o->fetch, &progress, distrust, err);
  if (r < 0)
    return r;
  pc.facts = &out->facts;

  /* resolve (the caller hears of it: a registry or a slow server can take a while here) */
  r = progress_report(&progress, 1, err);
  if (r < 0)
    return r;
  _cleanup_(resolved_clear) struct resolved rs = {.expected_size = UINT64_MAX};
  r = resolve_source(&o->resolve, &pc, NULL, &rs, err);
  if (r < 0)
    return r;
  progress.ev.mirror = rs.mirror;
  progress.ev.reference = rs.reference;
  /* who signed the bytes, if the source says (fcos://): the signature and the keys, before the bytes */
  _cleanup_(pull_signature_clear) struct pull_signature sig = PULL_SIGNATURE_INIT;
  r = pull_signature_prepare(o, &pc, &rs, &sig, err);
  if (r < 0)
    return r;
  /* what the signature policy verified of an OCI image (resolve_oci judged it) */
  if (rs.verified_type && pull_facts_signed(&out->facts, rs.verified_type, rs.verified_key) < 0)
    return error_oom(err);
  /* the way: a kept disk, or the bytes from the cache, resumed, or from the network (nothing of
   * the image moved before; for a kept disk nothing is opened) */
  _cleanup_(pull_decision_clear) struct pull_decision decision = PULL_DECISION_INIT;
  r = pull_plan_decide(o, &pc, &rs, sig.keyring != NULL, &decision, err);
  if (r < 0)
    return r;
  pc.restart.left = pull_restarts_allowed(o, &sig);
  struct pull_job job = {
      .o = o, .pc = &pc, .rs = &rs, .decision = &decision, .progress = &progress, .out = out, .sig = &sig};
  r = pull_by_the_way(&job, &decision, err);
  /* Nothing is atomic on a device: once it changed, what is there is not the disk. */
  if (r < 0 && job.device_touched)
    error_append(err, "; device %s now holds a partial image (its first MiB zeroed)", naming->output);
  return r;
}

/* An outcome as a failed pull leaves it: the facts known so far, no product. */
static void outcome_drop_product(struct vmpull_outcome *o) {
  char **product[] = {&o->path, &o->format, &o->digest, &o->image_name, &o->content_disposition, &o->reference};
  for (size_t i = 0; i < ARRAY_SIZE(product); i++) {
    free(*product[i]);
    *product[i] = NULL;
  }
  o->fetched = o->size = o->allocated = UINT64_MAX;
}

/* Every public pull: cfg made from opts (and for pull_to_fd its fd); the outcome, success or not. */
static int pull_call(const vmpull_pull_options *opts, const int *to_fd, int want_digest, struct vmpull_outcome *out,
                     lib_error *err) {
  if (!opts || opts->struct_size < offsetof(vmpull_pull_options, cancel) + sizeof(opts->cancel))
    return error_set(err, VMPULL_E_USAGE, "vmpull_pull: options not initialised with vmpull_pull_options_init");
  if (to_fd && *to_fd < 0)
    return error_set(err, VMPULL_E_USAGE, "vmpull_pull_to_fd: %d is not a file descriptor", *to_fd);
  _cleanup_free_ char *shown = redact_source(opts->source ? opts->source : "");
  out->source = shown ? strdup(shown) : NULL;
  struct pull_config cfg;
  pull_config_from_options(opts, &cfg);
  cfg.want_digest = want_digest;
  char fd_name[32];
  if (to_fd) {
    /* (what messages call the output: a program's stdout is what its user knows it as) */
    if (*to_fd == STDOUT_FILENO)
      snprintf(fd_name, sizeof(fd_name), "stdout");
    else
      snprintf(fd_name, sizeof(fd_name), "fd %d", *to_fd);
    cfg.resolve.naming = (struct output_naming){.output = fd_name};
    cfg.replace = 0;
    cfg.out_fd = *to_fd;
  }
  /* (only a path the caller named: the naming rule never writes onto a device) */
  cfg.output_device = !to_fd && pull_output_is_device(opts->output);
  int distrust = 0;
  int r = pull_run(&cfg, out, &distrust, err);
  /* A pipe cannot take back what the first attempt wrote into it: no second attempt there. */
  struct stat st;
  if (r < 0 && distrust && to_fd && (fstat(*to_fd, &st) < 0 || !S_ISREG(st.st_mode)))
    distrust = 0;
  if (r < 0 && distrust) {
    /* Bytes from the cache were bad (and are gone now): once more, from the network. */
    hooks_warn(&cfg.hooks, "%s; fetching it again", err->message);
    outcome_drop_product(out);
    pull_facts_restart(&out->facts);
    error_clear(err);
    r = pull_run(&cfg, out, &distrust, err);
  }
  if (r < 0) {
    outcome_drop_product(out);
    return error_wrap(err, "pull %s", shown ? shown : "source");
  }
  if (!out->source || outcome_clean(out) < 0)
    return error_oom(err);
  /* What failed on the way and was recovered from (https before plain http, a mirror that was
   * down, a retried request) is not the outcome: the header promises VMPULL_OK and no message. */
  error_clear(err);
  return 0;
}

/* The outcome of one call, its error exported to err as well. */
static int pull_outcome(const vmpull_pull_options *opts, const int *fd, int want_digest, vmpull_outcome **outcome,
                        vmpull_error *err) {
  if (outcome)
    *outcome = NULL;
  struct vmpull_outcome *o = outcome_new();
  if (!o) {
    lib_error e = {0};
    int r = error_oom(&e);
    error_export(&e, err);
    return r;
  }
  int r = pull_call(opts, fd, want_digest, o, &o->error);
  if (r < 0 && outcome_clean(o) < 0) {
    /* Out of memory cleaning what is only there to be read: drop it rather than hand it out raw. */
    outcome_drop_product(o);
    pull_facts_clear(&o->facts);
    free(o->source);
    o->source = NULL;
  }
  error_export(&o->error, err);
  if (outcome)
    *outcome = o;
  else
    vmpull_outcome_free(o);
  return r;
}

VMPULL_PUBLIC int vmpull_pull2(const vmpull_pull_options *opts, vmpull_outcome **outcome, vmpull_error *err) {
  return pull_outcome(opts, NULL, 0, outcome, err);
}

VMPULL_PUBLIC int vmpull_pull_to_fd(const vmpull_pull_options *opts, int fd, vmpull_outcome **outcome,
                                    vmpull_error *err) {
  return pull_outcome(opts, &fd, 0, outcome, err);
}

/* The 0.1 call: the same pull, its product copied into the caller's vmpull_result. */
VMPULL_PUBLIC int vmpull_pull(const vmpull_pull_options *opts, vmpull_result *result, vmpull_error *err) {
  if (!result) {
    lib_error e = {0};
    int r = error_set(&e, VMPULL_E_USAGE, "vmpull_pull: options not initialised with vmpull_pull_options_init");
    error_export(&e, err);
    return r;
  }
  memset(result, 0, sizeof(*result));
  vmpull_outcome *o = NULL;
  /* (its result promised a digest of the source: a local copy hashes for it) */
  int r = pull_outcome(opts, NULL, 1, &o, err);
  if (!o)
    return r;
  if (r == 0)
    outcome_to_result(o, result);
  vmpull_outcome_free(o);
  return r;
}
