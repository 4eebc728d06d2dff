/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Progress display (after curl's tool_cb_prg.c): on a terminal, one line
 * redrawn in place at most 10 times a second, never wider than the terminal
 * (asked again at every redraw, so a resize takes effect), ending with a done
 * line; elsewhere, a plain line at most every 5 seconds and one at the end,
 * with no carriage returns or escape sequences.
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#define TTY_INTERVAL_NS 100000000ull   /* 10 redraws a second */
#define PLAIN_INTERVAL_NS 5000000000ull /* a log line every 5 s */

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

static int terminal_width(void) {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return 80;
}

void tool_progress_init(struct tool_progress *p, enum progress_mode mode, int quiet) {
  memset(p, 0, sizeof(*p));
  p->tty = isatty(STDERR_FILENO);
  p->enabled = !quiet && mode != PROGRESS_NEVER;
  if (mode == PROGRESS_ALWAYS)
    p->tty = 1;
  p->start_ns = p->rate_ref_ns = mono_ns();
}

static void update_rate(struct tool_progress *p, uint64_t now, uint64_t bytes) {
  uint64_t dt = now - p->rate_ref_ns;
  if (dt < 500000000ull)
    return;
  double inst = (double)(bytes - p->rate_ref_bytes) * 1e9 / (double)dt;
  p->rate = p->rate > 0 ? 0.6 * p->rate + 0.4 * inst : inst;
  p->rate_ref_ns = now;
  p->rate_ref_bytes = bytes;
}

/* The line, built to fit width: name, bar, sizes, rate, ETA; the bar and then the name give way first. */
static void build_line(const struct tool_progress *p, const vmpull_progress *ev, int width, char *out, size_t outlen,
                       int done) {
  char got[32], total[32], rate[32], eta[32], written[32];
  tool_format_bytes(ev->fetched, got, sizeof(got));
  tool_format_bytes(ev->written, written, sizeof(written));
  tool_format_bytes((uint64_t)p->rate, rate, sizeof(rate));
  int known = ev->fetched_total != UINT64_MAX && ev->fetched_total > 0;
  char stats[256];
  if (done) {
    double secs = (double)(mono_ns() - p->start_ns) / 1e9;
    format_duration(secs, eta, sizeof(eta));
    snprintf(stats, sizeof(stats), "%s done, %s disk in %s", got, written, eta);
  } else if (known) {
    tool_format_bytes(ev->fetched_total, total, sizeof(total));
    double left = p->rate > 0 ? (double)(ev->fetched_total - MIN_U64(ev->fetched, ev->fetched_total)) / p->rate : -1;
    format_duration(left, eta, sizeof(eta));
    snprintf(stats, sizeof(stats), "%3u%% %s/%s %s/s ETA %s -> %s", (unsigned)(ev->fetched * 100 / ev->fetched_total),
             got, total, rate, eta, written);
  } else {
    snprintf(stats, sizeof(stats), "%s %s/s -> %s", got, rate, written);
  }
  const char *name = ev->name ? ev->name : "image";
  int avail = width - 1; /* never touch the last column: some terminals wrap there */
  int stats_len = (int)strlen(stats);
  int name_len = (int)strlen(name);
  if (stats_len >= avail) {
    snprintf(out, outlen, "%.*s", avail > 0 ? avail : 0, stats);
    return;
  }
  int room = avail - stats_len - 1;
  int bar = 0;
  if (known && !done && room - name_len - 1 >= 12)
    bar = MIN_INT(room - name_len - 1, 40);
  int show_name = MIN_INT(name_len, room - (bar ? bar + 1 : 0));
  char barbuf[64] = "";
  if (bar) {
    int inner = bar - 2;
    int fill = (int)((double)inner * (double)ev->fetched / (double)ev->fetched_total);
    if (fill > inner)
      fill = inner;
    barbuf[0] = '[';
    for (int i = 0; i < inner; i++)
      barbuf[1 + i] = i < fill ? '#' : '-';
    barbuf[bar - 1] = ']';
    barbuf[bar] = '\0';
  }
  if (show_name < name_len && show_name > 3)
    snprintf(out, outlen, "%.*s... %s%s%s", show_name - 3, name, barbuf, bar ? " " : "", stats);
  else if (show_name <= 3)
    snprintf(out, outlen, "%s%s%s", barbuf, bar ? " " : "", stats);
  else
    snprintf(out, outlen, "%s %s%s%s", name, barbuf, bar ? " " : "", stats);
}

int tool_progress_cb(const vmpull_progress *ev, void *userdata) {
  struct tool_progress *p = userdata;
  if (!p->enabled || ev->stage == VMPULL_STAGE_RESOLVE)
    return 0;
  uint64_t now = mono_ns();
  int done = ev->stage == VMPULL_STAGE_DONE;
  update_rate(p, now, ev->fetched);
  if (!done && p->last_ns && now - p->last_ns < (p->tty ? TTY_INTERVAL_NS : PLAIN_INTERVAL_NS))
    return 0;
  p->last_ns = now;
  char line[512];
  if (p->tty) {
    build_line(p, ev, terminal_width(), line, sizeof(line), done);
    /* \r then clear to end of line: a shorter line leaves no debris. */
    fprintf(stderr, "\r%s\033[K%s", line, done ? "\n" : "");
    p->drawn = !done;
  } else {
    build_line(p, ev, 200, line, sizeof(line), done);
    fprintf(stderr, "%s\n", line);
  }
  fflush(stderr);
  return 0;
}

void tool_progress_finish(struct tool_progress *p) {
  if (p->drawn) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
    p->drawn = 0;
  }
}
