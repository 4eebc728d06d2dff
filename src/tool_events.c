/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `--progress json`: what a pull is doing, for programs, one JSON object a line (docs/vmpull.1,
 * PROGRESS EVENTS, documents every event and field). Each object has "version": 1 and "event";
 * transfer events come at most 5 a second and, while bytes move, at least every 200 ms; the
 * others once each as they happen; "done" is the last line, carrying what --json prints. While the
 * stream is open, every line vmpull would write to stderr is an event on it instead (warning,
 * error, log), so that a reader never meets a line that is not JSON.
 */
#include "tool.h"

#include <json-c/json.h>
#include <string.h>
#include <time.h>

#define TRANSFER_INTERVAL_NS 200000000ull /* 5 transfer events a second at most */

struct tool_events {
  FILE *out;
  int resolved, mirror_told, cache_told, resume_told, done;
  unsigned retries_told;
  unsigned item;
  uint64_t transfer_ns; /* the last transfer event (0: none yet) */
  uint64_t bytes, written;
};

/* The stream tool_error and tool_warn write to while it is open. */
static struct tool_events *current;

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One stream a process: opened as soon as --progress json is read (a usage error after it is an
 * event already), opened again on --progress-fd's stream once that is known. */
static struct tool_events stream;

struct tool_events *tool_events_open(FILE *out) {
  stream = (struct tool_events){.out = out};
  current = &stream;
  return current;
}

void tool_events_close(struct tool_events *e) {
  if (e && current == e)
    current = NULL;
}

static json_object *event_new(const char *event) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "version", json_object_new_int(1));
  json_object_object_add(o, "event", json_object_new_string(event));
  return o;
}

static json_object *string_or_null(const char *s) {
  return s ? json_object_new_string(s) : NULL;
}

/* One line, then o is released; written at once (a reader follows it live). */
static void emit(struct tool_events *e, json_object *o) {
  fprintf(e->out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  fflush(e->out);
  json_object_put(o);
}

static void emit_transfer(struct tool_events *e, const vmpull_progress *ev, double rate) {
  json_object *o = event_new("transfer");
  json_object_object_add(o, "bytes", json_object_new_int64((int64_t)ev->fetched));
  json_object_object_add(o, "total",
                         ev->fetched_total == UINT64_MAX ? NULL : json_object_new_int64((int64_t)ev->fetched_total));
  json_object_object_add(o, "rate", json_object_new_int64((int64_t)rate));
  json_object_object_add(o, "written", json_object_new_int64((int64_t)ev->written));
  json_object_object_add(o, "name", string_or_null(ev->name));
  if (ev->items) {
    json_object_object_add(o, "item", json_object_new_int((int)ev->item));
    json_object_object_add(o, "items", json_object_new_int((int)ev->items));
  }
  emit(e, o);
  e->transfer_ns = mono_ns();
  e->bytes = ev->fetched;
  e->written = ev->written;
  e->item = ev->item;
}

void tool_events_progress(struct tool_events *e, const vmpull_progress *ev, double rate) {
  if (!e || e->done)
    return;
  int resolving = ev->stage == VMPULL_STAGE_RESOLVE;
  /* resolved: once the first byte's way is known (the reference is known then too) */
  if (!resolving && !e->resolved) {
    e->resolved = 1;
    json_object *o = event_new("resolve");
    json_object_object_add(o, "source", string_or_null(ev->source));
    json_object_object_add(o, "reference", string_or_null(ev->reference));
    emit(e, o);
  }
  if (ev->mirror && !e->mirror_told) {
    e->mirror_told = 1;
    json_object *o = event_new("mirror");
    json_object_object_add(o, "host", json_object_new_string(ev->mirror));
    emit(e, o);
  }
  if (ev->retries != e->retries_told) { /* (each retry is a callback of its own, at once) */
    e->retries_told = ev->retries;
    json_object *o = event_new("retry");
    json_object_object_add(o, "reason", string_or_null(ev->retry_reason));
    /* the number the warning gives it: of its own request, not of the whole pull */
    json_object_object_add(o, "attempt", json_object_new_int((int)ev->retry_attempt));
    json_object_object_add(o, "wait_s", json_object_new_double((double)ev->retry_wait_ms / 1000));
    emit(e, o);
  }
  if (resolving)
    return;
  vmpull_cache_use use = (vmpull_cache_use)ev->cache;
  if (!e->cache_told && (use == VMPULL_CACHE_HIT || use == VMPULL_CACHE_REVALIDATED || use == VMPULL_CACHE_KEPT_DISK ||
                         use == VMPULL_CACHE_STALE)) {
    e->cache_told = 1;
    json_object *o = event_new("cache");
    json_object_object_add(o, "kind", json_object_new_string(vmpull_cache_use_name(use)));
    emit(e, o);
  }
  if (ev->resumed_from && !e->resume_told) {
    e->resume_told = 1;
    json_object *o = event_new("resume");
    json_object_object_add(o, "offset", json_object_new_int64((int64_t)ev->resumed_from));
    json_object_object_add(o, "total",
                           ev->fetched_total == UINT64_MAX ? NULL : json_object_new_int64((int64_t)ev->fetched_total));
    emit(e, o);
  }
  int moved = ev->fetched != e->bytes || ev->written != e->written;
  int first = !e->transfer_ns;
  if (ev->stage == VMPULL_STAGE_DONE) {
    if (moved || first) /* the last figures, before verify and done */
      emit_transfer(e, ev, rate);
    return;
  }
  if (first || ev->item != e->item || (moved && mono_ns() - e->transfer_ns >= TRANSFER_INTERVAL_NS))
    emit_transfer(e, ev, rate);
}

void tool_events_log(struct tool_events *e, int level, const char *message) {
  if (!e || e->done)
    return;
  json_object *o = event_new("log");
  json_object_object_add(o, "level", json_object_new_string(level == VMPULL_LOG_DEBUG ? "debug" : "info"));
  json_object_object_add(o, "message", json_object_new_string(message));
  emit(e, o);
}

int tool_events_message(const char *event, const char *message) {
  if (!current)
    return 0;
  if (current->done) /* nothing after done: the line is dropped rather than break the stream */
    return 1;
  json_object *o = event_new(event);
  if (!strcmp(event, "error"))
    json_object_object_add(o, "code", json_object_new_string("usage"));
  json_object_object_add(o, "message", json_object_new_string(message));
  emit(current, o);
  return 1;
}

void tool_events_error(struct tool_events *e, const vmpull_error *err) {
  if (!e || e->done)
    return;
  json_object *o = event_new("error");
  json_object_object_add(o, "code", json_object_new_string(vmpull_code_name(err->code)));
  json_object_object_add(o, "message", json_object_new_string(err->message));
  emit(e, o);
}

void tool_events_done(struct tool_events *e, const char *digest, json_object *result) {
  if (!e || e->done) {
    json_object_put(result);
    return;
  }
  if (digest) {
    json_object *o = event_new("verify");
    json_object_object_add(o, "digest", json_object_new_string(digest));
    emit(e, o);
  }
  json_object *o = event_new("done");
  json_object_object_add(o, "ok", json_object_new_boolean(!json_object_object_get_ex(result, "error", NULL)));
  json_object_object_add(o, "result", result);
  emit(e, o);
  e->done = 1;
}
