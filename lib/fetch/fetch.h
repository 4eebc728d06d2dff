/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What resolvers and stores call instead of opening the network directly: fetch_url(),
 * fetch_blob() and fetch_document() answer from the cache (revalidating a URL with a conditional
 * request), resume a partial download, or start a new one whose source records its bytes into
 * the entry as they stream past (pull_cache_record). Without a cache (--no-cache, or no cache folder) they go straight
 * to the network, with retries.
 */
#ifndef VMPULL_FETCH_H
#define VMPULL_FETCH_H

#include "fetch/cache_session.h"
#include "net/http.h"
#include "pipeline/source.h"

/* The main artifact at req->url (pc may be NULL). resp: the response's
 * headers, or for a cache hit the cached ones (content_disposition...). With --offline and
 * without the bytes, *out stays NULL and *kept_disk_only names the digest (owned) whose kept disk
 * alone can make the output (the pull checks it: api/pull_kept_disk.c). */
int fetch_url(struct pull_cache *pc, const struct http_config *c, const struct http_request *req,
              struct http_response *resp, struct byte_source **out, char **kept_disk_only, lib_error *err);

/* The file of the URL fetch_url opened changed on the server while it was read: its body failed
 * with "changed on the server during the download" after handing the new version's response to
 * pc->restart (while pc->restart.left allowed). The pull starts over with that response's body:
 * *out reads it from byte 0, resp its headers; the entry this pull fills starts over with it (the
 * old version's bytes in partial/ go, the validators are the new ones), and the outcome reports a
 * download (not resumed) whose bytes transferred go on adding up. */
int fetch_url_restart(struct pull_cache *pc, struct http_response *resp, struct byte_source **out, lib_error *err);

/* A content-addressed blob (registry layer), opened with open_at (blob_open_fn, fetch/resolved.h),
 * its ranges sent where target says when it is worth several connections (NULL: never);
 * *kept_disk_only as for fetch_url. */
int fetch_blob(struct pull_cache *pc, const char *digest, const char *what, blob_open_fn open_at, blob_target_fn target,
               void *ctx, struct byte_source **out, char **kept_disk_only, lib_error *err);

/* What the cache knows of a plan's bytes before any of them move, looked at without a lock, a
 * request or an open (the pull decides on it, api/pull_plan.c; fetch_url and fetch_blob then take
 * the way under the entry's lock). want: the digest the bytes are promised to have, or NULL. */
struct fetch_outlook {
  char *digest;  /* the bytes' digest without asking a server: want, or under --offline the one the
                    URL's cached record names; NULL: unknown until a server answers (owned) */
  int reachable; /* the bytes can be opened: always online; under --offline only from a cached blob */
};
int fetch_look(struct pull_cache *pc, const struct byte_plan *plan, const char *want, struct fetch_outlook *look,
               lib_error *err);
void fetch_outlook_clear(struct fetch_outlook *look);

/* A small document (stream metadata, a manifest by tag): http_get through the
 * cache, revalidated; with --offline the cached copy. Same contract as http_get. */
int fetch_document(struct pull_cache *pc, const struct http_config *c, const struct http_request *req,
                   struct http_response *resp, lib_error *err);

#endif
