/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A program built against the 0.2 header (vmpull-0.2.h, include/vmpull.h as of 20b6885, before the
 * outcome) and run against the library as built now: the 0.1/0.2 calls and structs keep working
 * (issue 14's compatibility promise). It pulls a local file it writes itself, with vmpull_pull,
 * its vmpull_result and the old options struct's size, then a missing file, and checks what the
 * 0.2 header promised: the result's fields, the error's code and message, the result zeroed on
 * failure. meson test runs it (test 'compat-0.2').
 */
#include "vmpull-0.2.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DISK_SIZE (3u << 20)

static int failures;

#define CHECK(cond)                                                                                                    \
  do {                                                                                                                 \
    if (!(cond)) {                                                                                                     \
      fprintf(stderr, "old_client: %s:%d: %s\n", __FILE__, __LINE__, #cond);                                           \
      failures++;                                                                                                      \
    }                                                                                                                  \
  } while (0)

static int all_zero(const void *p, size_t len) {
  const unsigned char *b = p;
  for (size_t i = 0; i < len; i++)
    if (b[i])
      return 0;
  return 1;
}

int main(void) {
  char dir[] = "/tmp/vmpull-compat-XXXXXX";
  if (!mkdtemp(dir))
    return 2;
  char src[256], out[256], missing[256];
  snprintf(src, sizeof(src), "%s/disk.raw", dir);
  snprintf(out, sizeof(out), "%s/out.raw", dir);
  snprintf(missing, sizeof(missing), "%s/missing.raw", dir);

  /* data, a zero run (a hole in the output), data */
  unsigned char *disk = calloc(1, DISK_SIZE);
  if (!disk)
    return 2;
  for (size_t i = 0; i < (1u << 20); i++)
    disk[i] = disk[DISK_SIZE - 1 - i] = (unsigned char)(i * 7 + 1);
  FILE *f = fopen(src, "wb");
  if (!f || fwrite(disk, 1, DISK_SIZE, f) != DISK_SIZE || fclose(f) != 0)
    return 2;

  CHECK(vmpull_version() != NULL);

  vmpull_pull_options opts;
  vmpull_pull_options_init(&opts, sizeof(opts)); /* the 0.2 struct's size */
  opts.source = src;
  opts.output = out;
  vmpull_result res;
  vmpull_error err;
  int r = vmpull_pull(&opts, &res, &err);
  CHECK(r == 0);
  CHECK(err.code == VMPULL_OK && err.message[0] == '\0');
  if (r == 0) {
    CHECK(res.path && strcmp(res.path, out) == 0);
    CHECK(res.source && strcmp(res.source, src) == 0);
    CHECK(res.format && strcmp(res.format, "none") == 0);
    CHECK(res.digest && strncmp(res.digest, "sha256:", 7) == 0 && strlen(res.digest) == 71);
    CHECK(res.image_name && strcmp(res.image_name, "disk.raw") == 0);
    CHECK(res.content_disposition == NULL && res.reference == NULL);
    CHECK(res.fetched == DISK_SIZE && res.size == DISK_SIZE);
    CHECK(res.allocated > 0 && res.allocated < DISK_SIZE);
    unsigned char *got = malloc(DISK_SIZE + 1);
    int fd = open(out, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0 && got && read(fd, got, DISK_SIZE + 1) == DISK_SIZE && memcmp(got, disk, DISK_SIZE) == 0);
    CHECK(all_zero(got + (1u << 20), DISK_SIZE - (2u << 20)));
    if (fd >= 0)
      close(fd);
    free(got);
  }
  vmpull_result_free(&res);
  CHECK(res.path == NULL && res.digest == NULL);

  /* A failure: code and message filled, the result zeroed, the output not created. */
  opts.source = missing;
  opts.output = missing;
  memset(&res, 0xAB, sizeof(res));
  r = vmpull_pull(&opts, &res, &err);
  CHECK(r == -VMPULL_E_NOT_FOUND && err.code == VMPULL_E_NOT_FOUND);
  CHECK(strstr(err.message, "missing.raw") != NULL);
  CHECK(strcmp(vmpull_code_name(err.code), "not_found") == 0);
  CHECK(all_zero(&res, sizeof(res)));
  /* NULL err is allowed for vmpull_pull (0.1 header). */
  CHECK(vmpull_pull(&opts, &res, NULL) == -VMPULL_E_NOT_FOUND);

  unlink(out);
  unlink(src);
  rmdir(dir);
  free(disk);
  if (failures)
    return 1;
  puts("old_client: the 0.2 calls work against this library");
  return 0;
}
