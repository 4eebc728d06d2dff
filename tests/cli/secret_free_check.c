/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LD_PRELOAD checker for tests/cli/test_secret_wipe.py: does libvmpull free memory that still
 * holds a credential? The secrets come from $VMPULL_TEST_SECRETS (one per line); every block
 * libvmpull gives back (free, realloc moving it, curl_slist_free_all, curl_free, or json-c
 * freeing a tree or a buffer libvmpull handed it) is searched for them, and each hit is one line
 * in the file $VMPULL_TEST_SECRET_REPORT: which secret, and the call chain (library+offset).
 *
 * "Given back by libvmpull": the nearest caller outside json-c is libvmpull.so (so what libcurl
 * or OpenSSL free inside a transfer, which vmpull cannot reach, is not counted). Every block is
 * zeroed when freed, so leftovers of someone else's buffer never show up in a later one.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SECRETS 8
#define SECRET_MAX 512
#define MAX_FRAMES 24

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

struct slist {
  char *data;
  struct slist *next;
};

static char secrets[MAX_SECRETS][SECRET_MAX];
static size_t secret_len[MAX_SECRETS];
static int n_secrets;
static int report_fd = -1;
static __thread int busy;

__attribute__((constructor)) static void init(void) {
  const char *env = getenv("VMPULL_TEST_SECRETS");
  const char *path = getenv("VMPULL_TEST_SECRET_REPORT");
  if (!env || !path)
    return;
  for (const char *p = env; *p && n_secrets < MAX_SECRETS;) {
    size_t n = strcspn(p, "\n");
    if (n > 0 && n < SECRET_MAX) {
      memcpy(secrets[n_secrets], p, n);
      secret_len[n_secrets++] = n;
    }
    p += n;
    if (*p)
      p++;
  }
  report_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  void *warm[2];
  busy = 1;
  backtrace(warm, 2); /* loads the unwinder now, not inside free() */
  busy = 0;
}

static int in_object(void *addr, const char *name) {
  Dl_info info;
  return dladdr(addr, &info) && info.dli_fname && strstr(info.dli_fname, name);
}

static void report(int which, size_t size, const char *how, void *const *frames, int n) {
  char line[4096];
  int len = snprintf(line, sizeof(line), "secret #%d in %zu bytes given back by %s:", which, size, how);
  for (int i = 0; i < n && len < (int)sizeof(line) - 200; i++) {
    Dl_info info;
    if (dladdr(frames[i], &info) && info.dli_fname) {
      const char *base = strrchr(info.dli_fname, '/');
      len += snprintf(line + len, sizeof(line) - (size_t)len, " %s%s%s+%#lx", base ? base + 1 : info.dli_fname,
                      info.dli_sname ? ":" : "", info.dli_sname ? info.dli_sname : "",
                      (unsigned long)((char *)frames[i] - (char *)(info.dli_saddr ? info.dli_saddr : info.dli_fbase)));
    }
  }
  line[len++] = '\n';
  if (report_fd >= 0 && write(report_fd, line, (size_t)len) < 0)
    return;
}

static int find_secret(const void *p, size_t n) {
  for (int i = 0; i < n_secrets; i++)
    if (memmem(p, n, secrets[i], secret_len[i]))
      return i;
  return -1;
}

static int in_self(void *addr) {
  Dl_info self, info;
  return dladdr((void *)init, &self) && dladdr(addr, &info) && self.dli_fbase == info.dli_fbase;
}

/* Is the block at p (n bytes) one libvmpull gives back with a secret in it? */
static void check(const void *p, size_t n, const char *how) {
  if (!p || !n_secrets || busy)
    return;
  int which = find_secret(p, n);
  if (which < 0)
    return;
  busy = 1;
  void *frames[MAX_FRAMES];
  int depth = backtrace(frames, MAX_FRAMES);
  int first = 0;
  while (first < depth && in_self(frames[first]))
    first++;
  for (int i = first; i < depth; i++) {
    if (in_object(frames[i], "libjson-c"))
      continue;
    if (in_object(frames[i], "libvmpull"))
      report(which, n, how, frames + first, depth - first);
    break;
  }
  busy = 0;
}

void free(void *p) {
  if (!p)
    return;
  size_t n = malloc_usable_size(p);
  check(p, n, "free");
  memset(p, 0, n);
  __libc_free(p);
}

void *realloc(void *p, size_t size) {
  if (!p)
    return __libc_malloc(size);
  if (size == 0) {
    free(p);
    return NULL;
  }
  size_t old = malloc_usable_size(p);
  if (old >= size)
    return p;
  void *q = __libc_malloc(size);
  if (!q)
    return NULL;
  memcpy(q, p, old);
  /* realloc leaves the old copy behind unwiped: the caller's to avoid for secrets */
  check(p, old, "realloc");
  memset(p, 0, old);
  __libc_free(p);
  return q;
}

/* libcurl frees these for its caller: when that is libvmpull, the lines are libvmpull's. */
void curl_slist_free_all(struct slist *list) {
  static void (*real)(struct slist *);
  if (!real)
    real = (void (*)(struct slist *))dlsym(RTLD_NEXT, "curl_slist_free_all");
  for (struct slist *l = list; l; l = l->next)
    if (l->data)
      check(l->data, strlen(l->data), "curl_slist_free_all");
  real(list);
}

void curl_free(void *p) {
  static void (*real)(void *);
  if (!real)
    real = (void (*)(void *))dlsym(RTLD_NEXT, "curl_free");
  if (p)
    check(p, strlen(p), "curl_free");
  real(p);
}
