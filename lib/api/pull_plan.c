/* SPDX-License-Identifier: Apache-2.0 */
/* The one decision of a pull: a kept disk, or the plan's bytes opened through the cache
 * (pull_plan.h). */
#include "api/pull_plan.h"

#include "api/pull_local.h"
#include "base/error.h"
#include "base/util.h"
#include "fetch/fetch.h"
#include "fetch/pull_facts.h"
#include "resolve/checksums.h"
#include "resolve/resolve.h"

#include <sys/stat.h>

void pull_decision_clear(struct pull_decision *d) {
  free(d->listed_digest);
  free(d->known_digest);
  closep(&d->local_fd);
  *d = (struct pull_decision)PULL_DECISION_INIT;
}

/* The digest every promise of the bytes names (the descriptor or stream metadata, --digest, the
 * checksums list): 1 and *agreed (NULL: there is none), or 0 they disagree, which the pull finds
 * and reports on its normal path. */
static int promises_agree(const struct pull_config *o, const struct resolved *rs, const char *listed,
                          const char **agreed) {
  const char *promises[] = {rs->expected_digest, o->expected_digest, listed};
  *agreed = NULL;
  for (size_t i = 0; i < ARRAY_SIZE(promises); i++) {
    if (!promises[i])
      continue;
    if (*agreed && strcmp(*agreed, promises[i]) != 0)
      return 0;
    *agreed = promises[i];
  }
  return 1;
}

/* Before a byte moves: the source's digest as known without asking a server, if its disk is kept.
 * 1 the kept disk is the way, 0 not, or an error. */
static int decide_before_open(const struct pull_config *o, struct pull_cache *pc, struct resolved *rs,
                              struct pull_decision *d, lib_error *err) {
  const char *promised;
  if (!pc->cache || !promises_agree(o, rs, d->listed_digest, &promised))
    return 0;
  /* The digest fetch_url/fetch_blob would take a cached blob by (for a URL the descriptor's or
   * fcos's digest, else --digest). */
  const char *want = rs->expected_digest ? rs->expected_digest : o->expected_digest;
  _cleanup_(fetch_outlook_clear) struct fetch_outlook look = {0};
  int r = fetch_look(pc, &rs->plan, want, &look, err);
  if (r < 0)
    return r;
  const char *digest = promised ? promised : look.digest;
  if (!digest || !cache_disk_exists(pc->cache, digest))
    return 0;
  if (!(d->known_digest = strdup(digest)))
    return error_oom(err);
  d->kept_digest = d->known_digest;
  d->source_behind = look.reachable;
  return 1;
}

/* A local file that is the disk already: 1 and d says how to copy it, 0 not. */
static int local_copy_way(const struct pull_config *o, struct pull_cache *pc, const struct resolved *rs,
                          struct pull_decision *d) {
  if (pc->cache && pc->set->keep_uncompressed) /* (pull_cache_keeps_disks) */
    return 0;
  /* A device and a bmap take every byte through the sink (zeroed holes, the map's hashes). */
  if (o->output_device || o->bmap_path)
    return 0;
  /* vmpull_pull_to_fd into a pipe gets every byte in order: nothing to clone or seek there. */
  struct stat st;
  if (o->out_fd >= 0 && (fstat(o->out_fd, &st) < 0 || !S_ISREG(st.st_mode)))
    return 0;
  if (local_copy_probe(rs, &o->hooks, &d->local_fd, &d->local_size) <= 0)
    return 0;
  d->way = PULL_WAY_LOCAL_COPY;
  d->local_hash = o->want_digest || o->expected_digest || d->listed_digest || rs->expected_digest;
  return 1;
}

int pull_plan_decide(const struct pull_config *o, struct pull_cache *pc, struct resolved *rs, int must_read,
                     struct pull_decision *d, lib_error *err) {
  *d = (struct pull_decision)PULL_DECISION_INIT;
  /* The list is read before the image: its entry is one of the digests the decision goes by. */
  if (o->resolve.checksums) {
    int r = checksums_lookup(&o->resolve, pc, rs->image_name, &d->listed_digest, err);
    if (r < 0)
      return r;
  }
  /* (with a signature over the bytes, a kept disk still waits for them to be opened, below) */
  int r = decide_before_open(o, pc, rs, d, err);
  if (r < 0 || (r > 0 && !must_read)) {
    if (r > 0)
      d->way = PULL_WAY_KEPT_DISK;
    return r < 0 ? r : 0;
  }
  if (!must_read && local_copy_way(o, pc, rs, d))
    return 0;
  r = pull_plan_open_source(rs, d, err);
  if (r < 0)
    return r;
  /* The signed bytes are the cached blob, its disk kept: they are read through the check (hashed,
   * not decoded), then the disk is copied. From the network they are decoded as they arrive. */
  if (must_read && d->kept_digest && rs->src && pc->facts && pc->facts->cache == VMPULL_CACHE_HIT) {
    d->way = PULL_WAY_KEPT_DISK;
    d->check_source = 1;
    d->source_behind = 1;
    return 0;
  }
  d->kept_digest = NULL;
  /* What the fetch learned: a cached copy the server still confirms (304), or under --offline the
   * digest whose kept disk alone is left. */
  const char *learned = rs->cached_digest ? rs->cached_digest : rs->kept_disk_only;
  if (must_read && !rs->src)
    return error_set(err, VMPULL_E_SIGNATURE,
                     "%s: only its decoded disk is in the cache, and its signature is checked over the bytes as "
                     "fetched (--offline)",
                     rs->display ? rs->display : "the image");
  if (learned && !must_read) {
    d->way = PULL_WAY_KEPT_DISK;
    d->kept_digest = learned;
    d->source_behind = rs->src != NULL;
  }
  return 0;
}

int pull_plan_open_source(struct resolved *rs, struct pull_decision *d, lib_error *err) {
  if (d->opened)
    return 0;
  d->opened = 1;
  return resolved_open(rs, err);
}
