/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Progress display (after curl's tool_cb_prg.c).
 *
 * On a terminal: one line redrawn in place at most 10 times a second and
 * never wider than the terminal minus one column (some terminals wrap when the
 * last column is written), the width asked again at every redraw so a resize
 * takes effect at once; it ends with a done line. The cursor is never hidden,
 * so no signal, crash or Ctrl-Z can leave the user's terminal without one.
 * No colour is used (NO_COLOR is thereby honoured).
 *
 * Elsewhere (a file, a pipe, TERM=dumb): a plain line at most every 5 seconds
 * and a done line, with no carriage return or escape sequence, for logs.
 */
#include "tool.h"
#include "tool_opts_skopeo.h"
#include "tool_platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TTY_INTERVAL_NS 100000000ull    /* 10 redraws a second */
#define PLAIN_INTERVAL_NS 5000000000ull /* a log line every 5 s */
#define RATE_WINDOW_NS 500000000ull     /* the rate is measured over half-second steps */
#define BAR_MIN 7                       /* "[#####]" */
#define NAME_MIN 12                     /* name columns kept before the bar takes the rest */
#define BAR_MAX 40

static inline int MAX_INT(int a, int b) {
  return a > b ? a : b;
}

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void tool_format_bytes(uint64_t n, char *buf, size_t len) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = (double)n;
  size_t u = 0;
  while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
    v /= 1024.0;
    u++;
  }
  if (u == 0)
    snprintf(buf, len, "%llu B", (unsigned long long)n);
  else
    snprintf(buf, len, "%.1f %s", v, units[u]);
}

static void format_duration(double secs, char *buf, size_t len) {
  if (secs < 0 || secs > 99 * 3600.0) {
    snprintf(buf, len, "--:--");
    return;
  }
  unsigned s = (unsigned)(secs + 0.5);
  if (s >= 3600)
    snprintf(buf, len, "%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
  else
    snprintf(buf, len, "%u:%02u", s / 60, s % 60);
}

static int terminal_width(FILE *out) {
  return tool_terminal_width(fileno(out));
}

void tool_progress_init(struct tool_progress *p, enum progress_mode mode, int quiet) {
  memset(p, 0, sizeof(*p));
  p->json = mode == PROGRESS_JSON;
  p->enabled = !quiet && mode != PROGRESS_NEVER && !p->json;
  p->tty = mode == PROGRESS_ALWAYS || tool_capable_terminal(STDERR_FILENO);
  p->always = mode == PROGRESS_ALWAYS;
  p->quiet = quiet;
  p->out = stderr;
  p->start_ns = p->rate_ref_ns = mono_ns();
}

int tool_progress_open(struct tool_progress *p, const char *cmd, int fd) {
  if (fd >= 0) {
    int copy = tool_fd_dup(fd);
    FILE *f = copy >= 0 ? fdopen(copy, "w") : NULL;
    if (!f) {
      if (copy >= 0)
        close(copy);
      tool_error("%s: --progress-fd %d: %s", cmd, fd, strerror(errno));
      return -1;
    }
    p->out = f;
    p->tty = p->always || tool_capable_terminal(fd);
  }
  if (p->json && !(p->events = tool_events_open(p->out))) {
    tool_error("%s: out of memory", cmd);
    return -1;
  }
  return 0;
}

void tool_progress_close(struct tool_progress *p) {
  tool_progress_finish(p);
  tool_events_close(p->events);
  p->events = NULL;
  if (p->out && p->out != stderr)
    fclose(p->out);
  p->out = stderr;
}

static void update_rate(struct tool_progress *p, uint64_t now, uint64_t bytes) {
  uint64_t dt = now - p->rate_ref_ns;
  if (bytes < p->rate_ref_bytes) /* (a new attempt counts from its start) */
    p->rate_ref_bytes = bytes;
  if (dt < RATE_WINDOW_NS)
    return;
  double inst = (double)(bytes - p->rate_ref_bytes) * 1e9 / (double)dt;
  p->rate = p->rate > 0 ? 0.6 * p->rate + 0.4 * inst : inst;
  p->rate_ref_ns = now;
  p->rate_ref_bytes = bytes;
}

/* Cut s to at most max bytes without splitting a UTF-8 character (bytes >= columns for UTF-8). */
static int utf8_cut(const char *s, int max) {
  int n = (int)strlen(s);
  if (n <= max)
    return n;
  while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
    max--;
  return max;
}

struct figures {
  char got[32], total[32], rate[32], eta[32], written[32];
  char got_of_total[64]; /* "0.4/1.2 MiB": fetched in the total's unit */
  unsigned percent;
  int known; /* the total is known */
};

static void compute_figures(const struct tool_progress *p, const vmpull_progress *ev, struct figures *f) {
  tool_format_bytes(ev->fetched, f->got, sizeof(f->got));
  tool_format_bytes(ev->written, f->written, sizeof(f->written));
  tool_format_bytes((uint64_t)p->rate, f->rate, sizeof(f->rate));
  f->known = ev->fetched_total != UINT64_MAX && ev->fetched_total > 0;
  if (f->known) {
    uint64_t done = MIN_U64(ev->fetched, ev->fetched_total);
    tool_format_bytes(ev->fetched_total, f->total, sizeof(f->total));
    f->percent = (unsigned)(done * 100 / ev->fetched_total);
    const char *unit = strchr(f->total, ' ');
    double scale = 1;
    for (uint64_t t = ev->fetched_total; t >= 1024 && unit && strcmp(unit, " B") != 0; t /= 1024)
      scale *= 1024;
    if (scale > 1)
      snprintf(f->got_of_total, sizeof(f->got_of_total), "%.1f/%s", (double)done / scale, f->total);
    else
      snprintf(f->got_of_total, sizeof(f->got_of_total), "%s/%s", f->got, f->total);
    format_duration(p->rate > 0 ? (double)(ev->fetched_total - done) / p->rate : -1, f->eta, sizeof(f->eta));
  }
}

/* "disk.raw.xz: 12.0 MiB fetched in 0:04 (3.0 MiB/s), 64.0 MiB written" */
static void done_text(const struct tool_progress *p, const vmpull_progress *ev, char *out, size_t outlen, int detail) {
  char got[32], written[32], avg[32], took[32];
  double secs = (double)(mono_ns() - p->start_ns) / 1e9;
  tool_format_bytes(ev->fetched, got, sizeof(got));
  tool_format_bytes(ev->written, written, sizeof(written));
  /* the rate of what came over the network: bytes from the cache or a partial download are not */
  tool_format_bytes(secs > 0.001 ? (uint64_t)((double)tool_network_bytes(ev) / secs) : 0, avg, sizeof(avg));
  format_duration(secs, took, sizeof(took));
  if (detail)
    snprintf(out, outlen, "%s fetched in %s (%s/s), %s written", got, took, avg, written);
  else
    snprintf(out, outlen, "done in %s", took);
}

/* The stats part, as detailed as fits in room columns, from first_level (0: most detailed) on.
 * Returns the level used. */
static int stats_text(const struct figures *f, int room, int first_level, char *out, size_t outlen) {
  for (int level = first_level;; level++) {
    if (f->known) {
      switch (level) {
      case 0:
        snprintf(out, outlen, "%3u%% %s %s/s ETA %s -> %s", f->percent, f->got_of_total, f->rate, f->eta, f->written);
        break;
      case 1: snprintf(out, outlen, "%3u%% %s %s/s ETA %s", f->percent, f->got_of_total, f->rate, f->eta); break;
      case 2: snprintf(out, outlen, "%3u%% %s/s ETA %s", f->percent, f->rate, f->eta); break;
      default: snprintf(out, outlen, "%3u%%", f->percent); return level;
      }
    } else {
      switch (level) {
      case 0: snprintf(out, outlen, "%s %s/s -> %s", f->got, f->rate, f->written); break;
      case 1: snprintf(out, outlen, "%s %s/s", f->got, f->rate); break;
      default: snprintf(out, outlen, "%s", f->got); return level;
      }
    }
    if ((int)strlen(out) <= room)
      return level;
  }
}

/* NAME [####----] STATS, at most width - 1 columns: the bar, then the name give way first. */
static void build_tty_line(struct tool_progress *p, const vmpull_progress *ev, int width, int done, char *out,
                           size_t outlen) {
  int avail = width - 1;
  if (avail < 1) {
    out[0] = '\0';
    return;
  }
  const char *name = ev->name ? ev->name : "image";
  char stats[256];
  struct figures f;
  compute_figures(p, ev, &f);
  if (done) {
    done_text(p, ev, stats, sizeof(stats), 1);
    if ((int)strlen(stats) > avail - 2)
      done_text(p, ev, stats, sizeof(stats), 0);
  } else {
    /* The figures leave room for a short name, unless the terminal is very narrow. */
    int stats_room = avail - MIN_INT((int)strlen(name), NAME_MIN) - 1;
    if (stats_room < 8)
      stats_room = avail;
    if (p->layout_width != width) {
      /* Start from figures as wide as they usually get, so that the bar keeps its size. */
      struct figures wide = f;
      if (f.known) /* "1.2/1.2 MiB": in the total's unit, as wide as the total */
        snprintf(wide.got_of_total, sizeof(wide.got_of_total), "%.*s/%s", (int)strcspn(f.total, " "), f.total, f.total);
      snprintf(wide.got, sizeof(wide.got), "1023.9 KiB");
      snprintf(wide.rate, sizeof(wide.rate), "999.9 KiB");
      snprintf(wide.eta, sizeof(wide.eta), "--:--");
      snprintf(wide.written, sizeof(wide.written), "1023.9 MiB");
      char estimate[256];
      p->stats_level = stats_text(&wide, stats_room, 0, estimate, sizeof(estimate));
      p->layout_width = width;
      p->stats_width = (int)strlen(estimate);
    }
    stats_text(&f, stats_room, p->stats_level, stats, sizeof(stats));
    p->stats_width = MAX_INT(p->stats_width, (int)strlen(stats));
  }
  int stats_len = utf8_cut(stats, avail);
  /* Room for "name [bar] ": the bar sized for the widest figures, not today's. */
  int room = avail - (done ? stats_len : MAX_INT(stats_len, MIN_INT(p->stats_width, avail))) - 1;
  int name_len = (int)strlen(name);
  int bar = 0;
  if (f.known && !done) {
    int beside_full_name = room - 1 - name_len;
    if (beside_full_name >= BAR_MIN) /* the whole name and a bar */
      bar = MIN_INT(beside_full_name, BAR_MAX);
    else if (room - 1 - BAR_MIN >= MIN_INT(name_len, NAME_MIN)) /* share: a cut name, half a bar */
      bar = MIN_INT(MAX_INT(BAR_MIN, (room - 1) / 2), BAR_MAX);
  }
  char barbuf[BAR_MAX + 2] = "";
  if (bar) {
    int inner = bar - 2;
    int fill = (int)((double)inner * (double)MIN_U64(ev->fetched, ev->fetched_total) / (double)ev->fetched_total);
    barbuf[0] = '[';
    for (int i = 0; i < inner; i++)
      barbuf[1 + i] = i < fill ? '#' : '-';
    barbuf[bar - 1] = ']';
    barbuf[bar] = '\0';
    room -= bar + 1;
  }
  const char *sep = done ? ": " : " ";
  int sep_len = (int)strlen(sep);
  if (room - sep_len + 1 < 4) { /* no room for a name worth showing */
    snprintf(out, outlen, "%s%s%.*s", barbuf, bar ? " " : "", stats_len, stats);
  } else if (name_len <= room - sep_len + 1) {
    snprintf(out, outlen, "%s%s%s%s%.*s", name, sep, barbuf, bar ? " " : "", stats_len, stats);
  } else { /* "fedora-coreos-...": the start of a name says most */
    int keep = utf8_cut(name, room - sep_len + 1 - 3);
    snprintf(out, outlen, "%.*s...%s%s%s%.*s", keep, name, sep, barbuf, bar ? " " : "", stats_len, stats);
  }
}

/* For logs: everything, no width limit. */
static void build_plain_line(const struct tool_progress *p, const vmpull_progress *ev, int done, char *out,
                             size_t outlen) {
  const char *name = ev->name ? ev->name : "image";
  char stats[256];
  if (done) {
    done_text(p, ev, stats, sizeof(stats), 1);
  } else {
    struct figures f;
    compute_figures(p, ev, &f);
    if (f.known)
      snprintf(stats, sizeof(stats), "%u%% %s of %s, %s/s, ETA %s, %s written", f.percent, f.got, f.total, f.rate,
               f.eta, f.written);
    else
      snprintf(stats, sizeof(stats), "%s, %s/s, %s written", f.got, f.rate, f.written);
  }
  snprintf(out, outlen, "%s: %s", name, stats);
}

/*
 * Put the cursor back at the start of the partial line and clear from there.
 * When the terminal got narrower than that line, a reflowing terminal (tmux,
 * VTE, kitty, iTerm2, Windows Terminal) has wrapped it onto several rows and
 * left the cursor on the last: go up to the first. (A terminal that cuts lines
 * instead, like xterm, loses the rows above the line; rare, and only on a resize.)
 */
static size_t rewind_line(const struct tool_progress *p, int width, char *out, size_t outlen) {
  int rows_up = p->drawn && p->last_len > width ? (p->last_len - 1) / width : 0;
  if (rows_up > 0)
    return (size_t)snprintf(out, outlen, "\033[%dA\r\033[J", rows_up);
  return (size_t)snprintf(out, outlen, "\r\033[K");
}

/* "resuming at 8.0 MiB of 24.0 MiB", once, below any bar. */
static void say_resume(struct tool_progress *p, const vmpull_progress *ev) {
  char at[32], of[32] = "an unknown size";
  tool_format_bytes(ev->resumed_from, at, sizeof(at));
  if (ev->fetched_total != UINT64_MAX)
    tool_format_bytes(ev->fetched_total, of, sizeof(of));
  tool_progress_finish(p);
  fprintf(stderr, "vmpull: resuming at %s of %s\n", at, of);
  p->resume_said = 1;
}

/* One redraw (or, for logs, one line) of ev. */
static void draw(struct tool_progress *p, const vmpull_progress *ev, int done) {
  char line[512], buf[640];
  if (p->tty) {
    int width = terminal_width(p->out);
    build_tty_line(p, ev, width, done, line, sizeof(line));
    size_t n = rewind_line(p, width, buf, sizeof(buf));
    snprintf(buf + n, sizeof(buf) - n, "%s%s", line, done ? "\n" : "");
    p->drawn = !done;
    p->last_len = done ? 0 : (int)strlen(line);
  } else {
    build_plain_line(p, ev, done, line, sizeof(line));
    snprintf(buf, sizeof(buf), "%s\n", line);
  }
  /* One write per redraw: no half-drawn line is ever visible. */
  fputs(buf, p->out);
  fflush(p->out);
}

/* save --all: a line of its own for each disk, "[2/4] NAME ...". When the disk changes (or all are
 * done) the last one's line is drawn once more with the figures it ended at and left in place. */
static void item_line(struct tool_progress *p, const vmpull_progress *ev, int done, vmpull_progress *shown) {
  if ((ev->item != p->item || done) && p->item_label[0]) {
    vmpull_progress last = *ev;
    last.stage = VMPULL_STAGE_TRANSFER;
    last.name = p->item_label;
    draw(p, &last, 0);
    if (p->tty)
      fputs("\n", p->out);
    p->drawn = 0;
    p->last_len = 0;
    p->item_label[0] = '\0';
    p->last_ns = 0; /* the next disk's line at once */
  }
  p->item = ev->item;
  if (done) {
    snprintf(p->done_label, sizeof(p->done_label), "%u disks", ev->items);
    shown->name = p->done_label;
  } else {
    snprintf(p->item_label, sizeof(p->item_label), "[%u/%u] %s", ev->item, ev->items, ev->name ? ev->name : "disk");
    shown->name = p->item_label;
  }
}

int tool_progress_cb(const vmpull_progress *ev, void *userdata) {
  struct tool_progress *p = userdata;
  uint64_t now = mono_ns();
  if (ev->stage != VMPULL_STAGE_RESOLVE)
    update_rate(p, now, tool_network_bytes(ev));
  if (p->events) {
    tool_events_progress(p->events, ev, p->rate);
    return 0;
  }
  if (ev->stage != VMPULL_STAGE_RESOLVE && ev->resumed_from && !p->resume_said && !p->quiet)
    say_resume(p, ev);
  if (!p->enabled || ev->stage == VMPULL_STAGE_RESOLVE)
    return 0;
  int done = ev->stage == VMPULL_STAGE_DONE;
  vmpull_progress shown = *ev;
  if (ev->items)
    item_line(p, ev, done, &shown);
  if (!done && p->last_ns && now - p->last_ns < (p->tty ? TTY_INTERVAL_NS : PLAIN_INTERVAL_NS))
    return 0;
  p->last_ns = now;
  draw(p, &shown, done);
  return 0;
}

void tool_progress_finish(struct tool_progress *p) {
  if (p->drawn) {
    char buf[32];
    rewind_line(p, terminal_width(p->out), buf, sizeof(buf));
    fputs(buf, p->out);
    fflush(p->out);
    p->drawn = 0;
    p->last_len = 0;
  }
}

void tool_progress_warning(const char *message, void *userdata) {
  struct tool_progress *p = userdata;
  char *renamed = p ? tool_creds_renamed(p->creds_flags, message) : NULL;
  if (p)
    tool_progress_finish(p);
  tool_warn("%s", renamed ? renamed : message);
  free(renamed);
}

void tool_progress_log(int level, const char *message, void *userdata) {
  struct tool_progress *p = userdata;
  if (p->events) {
    tool_events_log(p->events, level, message);
    return;
  }
  tool_progress_finish(p);
  /* (the library's lines are clean already: no credentials, no control bytes) */
  fprintf(stderr, "vmpull: %s: %s\n", level == VMPULL_LOG_DEBUG ? "debug" : "info", message);
}
