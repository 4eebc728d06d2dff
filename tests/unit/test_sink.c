/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sparse, atomic sink (lib/pipeline/sink.c), on real files in a fresh folder:
 * content identical, holes where zeros were, exact final size, and nothing
 * under the final name (nor any temporary) unless commit succeeded.
 */
/* cmocka.h needs these headers before it. */
/* clang-format off */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifndef _WIN32
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#endif

#include <cmocka.h>
/* clang-format on */

#include "base/platform.h"
#include "base/progress.h"
#include "base/util.h"
#include "pipeline/disk_map.h"
#include "pipeline/sink.h"
#include "store/disk_copy.h"
#include "test_files.h"

#include <openssl/evp.h>

#define MIB (1u << 20)

struct fixture {
  char dir[256];
  char path[320];
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof(*f));
  if (!f)
    return -1;
  snprintf(f->dir, sizeof(f->dir), "%s/vmpull-sink-XXXXXX", plat_temp_dir());
  if (!mkdtemp(f->dir))
    return -1;
  snprintf(f->path, sizeof(f->path), "%s/disk.raw", f->dir);
  umask(022);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  (void)test_rm_rf(f->dir);
  free(f);
  return 0;
}

/* Names in the folder, "." and ".." excluded, joined by spaces (sorted is not needed: tests expect 0 or 1). */
static int dir_entries(const char *dir, char *names, size_t len) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  names[0] = '\0';
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    n++;
    size_t used = strlen(names);
    snprintf(names + used, len - used, "%s%s", used ? " " : "", de->d_name);
  }
  closedir(d);
  return n;
}

static void assert_dir_holds(const char *dir, const char *want) {
  char names[1024];
  int n = dir_entries(dir, names, sizeof(names));
  if (want == NULL ? n != 0 : (n != 1 || strcmp(names, want) != 0))
    fail_msg("folder %s holds [%s], expected [%s]", dir, names, want ? want : "");
}

/* The bytes path takes on disk. */
static uint64_t allocated_of(const char *path) {
  int fd = plat_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  uint64_t n = plat_allocated_bytes(fd, &st);
  close(fd);
  return n;
}

static uint8_t *read_file(const char *path, size_t *len) {
  int fd = plat_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  uint8_t *buf = malloc((size_t)st.st_size + 1);
  assert_non_null(buf);
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    assert_true(n > 0);
    got += (size_t)n;
  }
  close(fd);
  *len = got;
  return buf;
}

static void write_file(const char *path, const char *content) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  fputs(content, fp);
  fclose(fp);
}

/* Feed buf to the sink in chunks of the given sizes, cycling through them. */
static void feed(struct sink *s, const uint8_t *buf, size_t len, const size_t *chunks, size_t nchunks) {
  size_t off = 0;
  for (size_t i = 0; off < len; i++) {
    size_t n = MIN(chunks[i % nchunks], len - off);
    lib_error err = {0};
    if (sink_write(s, buf + off, n, &err) != 0)
      fail_msg("sink_write at %zu (+%zu): %s", off, n, err.message);
    off += n;
  }
}

static void commit_ok(struct sink *s, uint64_t *allocated) {
  lib_error err = {0};
  if (sink_commit(s, allocated, &err) != 0)
    fail_msg("sink_commit: %s", err.message);
}

/*
 * A disk-like image: data, a long zero run, data ending mid-block, zeros,
 * more data, and trailing zeros that end unaligned. Returns the bytes that
 * are not part of any whole zero 4 KiB block (what should be allocated).
 */
static uint8_t *make_image(size_t *len, size_t *data_len) {
  const size_t size = 9 * MIB + 3 * SINK_BLOCK + 777;
  uint8_t *img = calloc(1, size);
  assert_non_null(img);
  uint32_t x = 12345;
  for (size_t i = 0; i < 64 * 1024; i++) /* 64 KiB of data at the start */
    img[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 24) | 1;
  for (size_t i = 3 * MIB; i < 3 * MIB + 5000; i++) /* data ending inside a block */
    img[i] = (uint8_t)(i * 7 + 1);
  img[5 * MIB + 4095] = 0xAA; /* one byte at the end of a block */
  img[6 * MIB] = 0x55;        /* one byte at the start of a block */
  *len = size;
  *data_len = 64 * 1024 + 2 * SINK_BLOCK + 2 * SINK_BLOCK; /* blocks holding any non-zero byte */
  return img;
}

static void check_image_file(const char *path, const uint8_t *img, size_t len, size_t data_len) {
  size_t got_len;
  uint8_t *got = read_file(path, &got_len);
  assert_int_equal(got_len, len);
  assert_memory_equal(got, img, len);
  free(got);

  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal((uint64_t)st.st_size, len);
  /* Holes: the file occupies about its data, not its size (a little slack for filesystem metadata). */
  uint64_t allocated = allocated_of(path);
  if (allocated > data_len + 256 * 1024)
    fail_msg("%s occupies %llu bytes for %zu bytes of data (size %zu): zeros were written", path,
             (unsigned long long)allocated, data_len, len);
  /* And where the filesystem reports holes, one starts right after the leading data. */
  int fd = plat_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  assert_true(fd >= 0);
  int64_t hole = plat_seek_hole(fd, 0);
  if (hole >= 0 && hole < (int64_t)len)
    assert_int_equal(hole, 64 * 1024);
  int64_t data = plat_seek_data(fd, 64 * 1024);
  if (data >= 0 && hole < (int64_t)len)
    assert_int_equal(data, 3 * MIB);
  close(fd);
}

/* The decoders' way in: decode into sink_buffer(), hand over with sink_submit(). */
static void feed_zero_copy(struct sink *s, const uint8_t *buf, size_t len, size_t chunk, lib_error *err, int *rc) {
  *rc = 0;
  for (size_t off = 0; off < len && *rc == 0;) {
    size_t n = MIN(MIN(chunk, (size_t)SINK_BUFFER_SIZE), len - off);
    memcpy(sink_buffer(s), buf + off, n);
    *rc = sink_submit(s, n, err);
    off += n;
  }
}

/* On one CPU the sink writes on the caller's thread, which the other tests cover. */
static void skip_without_writer_thread(void) {
  if (plat_cpu_count() < 2) {
    print_message("skipped: one CPU, the sink writes on the caller's thread\n");
    skip();
  }
}

/* A sink at f->path with its writer thread running. */
static void open_with_writer(struct fixture *f, struct sink *s) {
  struct sink_options o = {.max_size = UINT64_MAX, .writer_thread = 1};
  lib_error err = {0};
  if (sink_open(s, f->path, &o, &err) != 0)
    fail_msg("sink_open: %s", err.message);
  assert_non_null(s->w);
}

static void test_writer_thread_content(void **state) {
  struct fixture *f = *state;
  skip_without_writer_thread();
  size_t len, data_len;
  uint8_t *img = make_image(&len, &data_len);
  static const size_t chunks[] = {SINK_BUFFER_SIZE, 1000, 4096 * 3 + 5};
  for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
    struct sink s = SINK_INIT;
    open_with_writer(f, &s);
    lib_error err = {0};
    int rc;
    feed_zero_copy(&s, img, len, chunks[c], &err, &rc);
    if (rc != 0)
      fail_msg("sink_submit: %s", err.message);
    assert_int_equal(s.accepted, len);
    commit_ok(&s, NULL);
    assert_int_equal(s.offset, len); /* the writer caught up before the commit */
    sink_close(&s);
    check_image_file(f->path, img, len, data_len);
    assert_int_equal(unlink(f->path), 0);
  }
  free(img);
}

/* Whether every thread of this process but the main one has SIGINT and SIGTERM blocked (SigBlk in
 * /proc/self/task/<tid>/status); *others: how many such threads there are. */
#ifndef _WIN32
static int other_threads_block_signals(int *others) {
  DIR *d = opendir("/proc/self/task");
  assert_non_null(d);
  int all = 1;
  *others = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.' || atoi(de->d_name) == getpid())
      continue;
    char path[300], line[256];
    snprintf(path, sizeof(path), "/proc/self/task/%s/status", de->d_name);
    FILE *st = fopen(path, "re");
    if (!st)
      continue;
    while (fgets(line, sizeof(line), st))
      if (strncmp(line, "SigBlk:", 7) == 0) {
        unsigned long long mask = strtoull(line + 7, NULL, 16);
        (*others)++;
        all &= (mask & (1ull << (SIGINT - 1))) && (mask & (1ull << (SIGTERM - 1)));
      }
    fclose(st);
  }
  closedir(d);
  return all;
}
#endif

/* Signals belong to the caller's thread, whose handler sets the cancel flag: the writer thread
 * must not take a SIGINT meant for it. */
static void test_writer_thread_blocks_signals(void **state) {
  struct fixture *f = *state;
  SKIP_ON_WINDOWS("no SIGINT or SIGTERM to block (Ctrl-C runs on a thread of its own)");
#ifndef _WIN32
  skip_without_writer_thread();
  struct sink s = SINK_INIT;
  open_with_writer(f, &s);
  int others = 0;
  int blocked = other_threads_block_signals(&others);
  sink_close(&s);
  assert_true(others >= 1);
  assert_true(blocked);
#else
  (void)f;
#endif
}

/* A write() that fails on the writer thread comes back to the caller, names the file, and the
 * output never appears. */
static void test_writer_thread_write_error(void **state) {
  struct fixture *f = *state;
  skip_without_writer_thread();
  size_t len, data_len;
  uint8_t *img = make_image(&len, &data_len);
  struct sink s = SINK_INIT;
  open_with_writer(f, &s);
  lib_error err = {0};
  int ro = open(TEST_DEV_NULL, O_RDONLY | O_CLOEXEC);
  assert_true(ro >= 0);
  assert_true(dup2(ro, s.fd) != -1); /* every pwrite now fails with EBADF (Windows: dup2 answers 0) */
  close(ro);
  int rc;
  feed_zero_copy(&s, img, len, SINK_BUFFER_SIZE, &err, &rc);
  if (rc == 0)
    rc = sink_commit(&s, NULL, &err);
  assert_int_equal(rc, -VMPULL_E_IO);
  if (!strstr(err.message, "write ") || !strstr(err.message, f->path))
    fail_msg("the error does not name the output: %s", err.message);
  sink_close(&s);
  assert_dir_holds(f->dir, NULL);
  free(img);
}

static void test_block_is_zero(void **state) {
  (void)state;
  uint8_t *buf = calloc(1, SINK_BLOCK + 8);
  assert_non_null(buf);
  assert_true(block_is_zero(buf));
  assert_true(block_is_zero(buf + 3)); /* unaligned start */
  static const size_t positions[] = {0, 1, 7, 8, 63, 64, 511, 2048, 4088, 4095};
  for (size_t i = 0; i < ARRAY_SIZE(positions); i++) {
    buf[positions[i]] = 1;
    if (block_is_zero(buf))
      fail_msg("non-zero byte at %zu not seen", positions[i]);
    buf[positions[i]] = 0;
  }
  buf[SINK_BLOCK] = 1; /* just past the block: not its business */
  assert_true(block_is_zero(buf));
  free(buf);
}

static void run_sparse_content(struct fixture *f, int named, const size_t *chunks, size_t nchunks) {
  size_t len, data_len;
  uint8_t *img = make_image(&len, &data_len);
  struct sink s = SINK_INIT;
  struct sink_options o = {.max_size = UINT64_MAX, .force_named_tmp = named};
  lib_error err = {0};
  assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
  feed(&s, img, len, chunks, nchunks);
  assert_int_equal(s.offset, len);
  uint64_t allocated = 0;
  commit_ok(&s, &allocated);
  sink_close(&s);
  check_image_file(f->path, img, len, data_len);
  assert_int_equal(allocated, allocated_of(f->path));
  assert_dir_holds(f->dir, "disk.raw");
  assert_int_equal(unlink(f->path), 0);
  free(img);
}

static void test_sparse_aligned_chunks(void **state) {
  static const size_t chunks[] = {4 * MIB};
  run_sparse_content(*state, 0, chunks, 1);
}

static void test_sparse_unaligned_chunks(void **state) {
  /* Sizes that straddle block boundaries in every way, including one byte at a time. */
  static const size_t chunks[] = {1, 4095, 4097, 12345, 1, 1, 65537, 3, 1048573, 8191};
  run_sparse_content(*state, 0, chunks, ARRAY_SIZE(chunks));
}

static void test_sparse_named_tmp(void **state) {
  static const size_t chunks[] = {100000, 7};
  run_sparse_content(*state, 1, chunks, ARRAY_SIZE(chunks));
}

static void test_final_size_trailing_zeros(void **state) {
  struct fixture *f = *state;
  /* podman's sample-withzeros: "xz\n" and 7 NUL bytes; and a large all-zero tail. */
  static const struct {
    size_t data, zeros;
  } cases[] = {{3, 7}, {3, 0}, {0, 10}, {0, 8 * MIB}, {4096, 4096}, {5000, 3 * MIB + 1}, {1, SINK_BLOCK - 1}};
  for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
    for (int named = 0; named < 2; named++) {
      size_t len = cases[c].data + cases[c].zeros;
      uint8_t *img = calloc(1, len ? len : 1);
      for (size_t i = 0; i < cases[c].data; i++)
        img[i] = (uint8_t)("xz\n"[i % 3]);
      struct sink s = SINK_INIT;
      struct sink_options o = {.max_size = UINT64_MAX, .force_named_tmp = named};
      lib_error err = {0};
      assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
      static const size_t chunks[] = {3, 1 * MIB};
      feed(&s, img, len, chunks, 2);
      commit_ok(&s, NULL);
      sink_close(&s);
      size_t got_len;
      uint8_t *got = read_file(f->path, &got_len);
      if (got_len != len)
        fail_msg("case %zu: size %zu, expected %zu", c, got_len, len);
      if (len)
        assert_memory_equal(got, img, len);
      uint64_t allocated = allocated_of(f->path);
      if (allocated > cases[c].data + 64 * 1024)
        fail_msg("case %zu: %llu bytes allocated for %zu bytes of data", c, (unsigned long long)allocated,
                 cases[c].data);
      free(got);
      free(img);
      assert_int_equal(unlink(f->path), 0);
    }
  }
}

static void test_empty_output(void **state) {
  struct fixture *f = *state;
  struct sink s = SINK_INIT;
  struct sink_options o = {.max_size = UINT64_MAX};
  lib_error err = {0};
  assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
  commit_ok(&s, NULL);
  sink_close(&s);
  struct stat st;
  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_size, 0);
}

static void test_mode(void **state) {
  struct fixture *f = *state;
  for (int named = 0; named < 2; named++) {
    struct sink s = SINK_INIT;
    struct sink_options o = {.max_size = UINT64_MAX, .mode = 0600, .force_named_tmp = named};
    lib_error err = {0};
    assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
    assert_int_equal(sink_write(&s, (const uint8_t *)"x", 1, &err), 0);
    commit_ok(&s, NULL);
    sink_close(&s);
#ifndef _WIN32
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
#else
    print_message("mode not checked on Windows (ACLs, no mode bits)\n");
#endif
    assert_int_equal(unlink(f->path), 0);
  }
}

/* While writing, nothing shows under the final name; with O_TMPFILE nothing shows at all. */
static void test_invisible_until_commit(void **state) {
  struct fixture *f = *state;
  for (int named = 0; named < 2; named++) {
    struct sink s = SINK_INIT;
    struct sink_options o = {.max_size = UINT64_MAX, .force_named_tmp = named};
    lib_error err = {0};
    assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
    uint8_t data[SINK_BLOCK * 2];
    memset(data, 0x5a, sizeof(data));
    assert_int_equal(sink_write(&s, data, sizeof(data), &err), 0);
    assert_int_equal(access(f->path, F_OK), -1);
    char names[1024];
    int n = dir_entries(f->dir, names, sizeof(names));
    if (named) {
      assert_non_null(s.tmp_name);
      assert_int_equal(n, 1);
      assert_true(starts_with(names, ".disk.raw.vmpull-tmp-"));
    } else if (!s.tmp_name) {
#ifndef _WIN32
      assert_int_equal(n, 0); /* O_TMPFILE: unnamed */
#else
      /* a delete-pending file keeps its name until closed (and goes with the process) */
      assert_true(n == 0 || (n == 1 && starts_with(names, ".vmpull-tmp-")));
#endif
    }
    commit_ok(&s, NULL);
    sink_close(&s);
    assert_dir_holds(f->dir, "disk.raw");
    assert_int_equal(unlink(f->path), 0);
  }
}

/* Injected failures: the decoder stops (close without commit), the size limit, a size mismatch. */
static void test_failure_leaves_nothing(void **state) {
  struct fixture *f = *state;
  uint8_t data[3 * SINK_BLOCK + 5];
  memset(data, 0x11, sizeof(data));
  for (int named = 0; named < 2; named++) {
    /* 1: abandoned mid-stream, as when a decoder fails or a signal cancels. */
    struct sink s = SINK_INIT;
    struct sink_options o = {.max_size = UINT64_MAX, .force_named_tmp = named};
    lib_error err = {0};
    assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
    assert_int_equal(sink_write(&s, data, sizeof(data), &err), 0);
    sink_close(&s);
    assert_dir_holds(f->dir, NULL);

    /* 2: the size limit. */
    o.max_size = 2 * SINK_BLOCK;
    assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
    assert_int_equal(sink_write(&s, data, SINK_BLOCK, &err), 0);
    assert_int_equal(sink_write(&s, data, sizeof(data), &err), -VMPULL_E_LIMIT);
    assert_int_equal(err.code, VMPULL_E_LIMIT);
    assert_non_null(strstr(err.message, "size limit"));
    sink_close(&s);
    assert_dir_holds(f->dir, NULL);

    /* 3: the container declared another size; commit refuses. */
    o.max_size = UINT64_MAX;
    assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
    assert_int_equal(sink_write(&s, data, sizeof(data), &err), 0);
    sink_declare_size(&s, sizeof(data) + 1);
    assert_int_equal(sink_commit(&s, NULL, &err), -VMPULL_E_CORRUPT);
    assert_non_null(strstr(err.message, "declares"));
    sink_close(&s);
    assert_dir_holds(f->dir, NULL);

    /* 4: cancellation polled by the sink itself (a decoder may write gigabytes per read). */
    volatile sig_atomic_t cancel = 0;
    struct progress_state ps = {.cancel = &cancel};
    o.progress = &ps;
    assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
    assert_int_equal(sink_write(&s, data, sizeof(data), &err), 0);
    assert_int_equal(ps.ev.written, 0); /* reported before the chunk: the next write moves it */
    assert_int_equal(sink_write(&s, data, 1, &err), 0);
    assert_int_equal(ps.ev.written, sizeof(data));
    cancel = 1;
    assert_int_equal(sink_write(&s, data, sizeof(data), &err), -VMPULL_E_CANCELLED);
    sink_close(&s);
    assert_dir_holds(f->dir, NULL);
    o.progress = NULL;
  }
}

static void test_existing_output_kept(void **state) {
  struct fixture *f = *state;
  for (int named = 0; named < 2; named++) {
    write_file(f->path, "precious\n");
    struct sink s = SINK_INIT;
    struct sink_options o = {.max_size = UINT64_MAX, .force_named_tmp = named};
    lib_error err = {0};
    assert_int_equal(sink_open(&s, f->path, &o, &err), -VMPULL_E_EXISTS);
    assert_int_equal(err.code, VMPULL_E_EXISTS);
    assert_non_null(strstr(err.message, f->path));
    assert_non_null(strstr(err.message, "--replace"));
    sink_close(&s);
    size_t len;
    uint8_t *got = read_file(f->path, &len);
    assert_int_equal(len, 9);
    assert_memory_equal(got, "precious\n", 9);
    free(got);
    assert_dir_holds(f->dir, "disk.raw");

    /* It appears while the pull runs: commit refuses and leaves it as it was. */
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
    assert_int_equal(sink_write(&s, (const uint8_t *)"new data", 8, &err), 0);
    write_file(f->path, "precious\n");
    assert_int_equal(sink_commit(&s, NULL, &err), -VMPULL_E_EXISTS);
    sink_close(&s);
    got = read_file(f->path, &len);
    assert_int_equal(len, 9);
    assert_memory_equal(got, "precious\n", 9);
    free(got);
    assert_dir_holds(f->dir, "disk.raw");
    assert_int_equal(unlink(f->path), 0);
  }
}

static void test_replace(void **state) {
  struct fixture *f = *state;
  for (int named = 0; named < 2; named++) {
    static const char old_content[] = "old content that is longer than the new one\n";
    write_file(f->path, old_content);
    struct stat before;
    assert_int_equal(stat(f->path, &before), 0);
    struct sink s = SINK_INIT;
    struct sink_options o = {.max_size = UINT64_MAX, .replace = 1, .force_named_tmp = named};
    lib_error err = {0};
    assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
    assert_int_equal(sink_write(&s, (const uint8_t *)"new\n", 4, &err), 0);
    /* Until commit, the old file is intact. */
    size_t len;
    uint8_t *got = read_file(f->path, &len);
    assert_int_equal(len, strlen(old_content));
    free(got);
    commit_ok(&s, NULL);
    sink_close(&s);
    got = read_file(f->path, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(got, "new\n", 4);
    free(got);
    struct stat after;
    assert_int_equal(stat(f->path, &after), 0);
#ifndef _WIN32
    assert_true(after.st_ino != before.st_ino); /* a new file renamed over, not rewritten in place */
#endif
    assert_dir_holds(f->dir, "disk.raw");

    /* A failed replacing pull leaves the old file alone. */
    assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
    assert_int_equal(sink_write(&s, (const uint8_t *)"broken", 6, &err), 0);
    sink_close(&s);
    got = read_file(f->path, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(got, "new\n", 4);
    free(got);
    assert_dir_holds(f->dir, "disk.raw");
    assert_int_equal(unlink(f->path), 0);
  }
}

static void test_replace_directory_refused(void **state) {
  struct fixture *f = *state;
  assert_int_equal(mkdir(f->path, 0755), 0);
  struct sink s = SINK_INIT;
  struct sink_options o = {.max_size = UINT64_MAX, .replace = 1};
  lib_error err = {0};
  assert_int_equal(sink_open(&s, f->path, &o, &err), -VMPULL_E_EXISTS);
  assert_non_null(strstr(err.message, "directory"));
  sink_close(&s);
  assert_int_equal(rmdir(f->path), 0);
}

#ifndef _WIN32
/* Make something that is not a regular file at path: 0, or -1 when this process may not (mknod). */
static int make_special(const char *path, mode_t type) {
  if (type == S_IFSOCK) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    int r = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : -1;
    if (fd >= 0)
      close(fd);
    return r;
  }
  /* The numbers of /dev/null and /dev/loop0; a node in the test folder is never opened. */
  dev_t dev = type == S_IFCHR ? makedev(1, 3) : makedev(7, 0);
  return mknod(path, type | 0600, type == S_IFIFO ? 0 : dev);
}
#endif

/* --replace replaces a regular file (or a symlink, itself); a FIFO, a device or a socket there is
 * refused, naming what it is, at open and again at commit, and left as it was. */
static void test_replace_non_file_refused(void **state) {
  SKIP_ON_WINDOWS("no FIFOs, device nodes or sockets in a folder");
#ifndef _WIN32
  struct fixture *f = *state;
  static const struct {
    mode_t type;
    const char *says;
  } kinds[] = {
      {S_IFIFO, "is a FIFO (named pipe)"},
      {S_IFCHR, "is a character device"},
      {S_IFBLK, "is a block device"},
      {S_IFSOCK, "is a socket"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
    for (int at_commit = 0; at_commit < 2; at_commit++) {
      for (int named = 0; named < 2; named++) {
        struct sink s = SINK_INIT;
        struct sink_options o = {.max_size = UINT64_MAX, .replace = 1, .force_named_tmp = named};
        lib_error err = {0};
        if (!at_commit && make_special(f->path, kinds[i].type) < 0) {
          print_message("cannot make a %s here (not root?): skipped\n", kinds[i].says);
          continue;
        }
        if (!at_commit) {
          assert_int_equal(sink_open(&s, f->path, &o, &err), -VMPULL_E_EXISTS);
        } else {
          assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
          assert_int_equal(sink_write(&s, (const uint8_t *)"new\n", 4, &err), 0);
          if (make_special(f->path, kinds[i].type) < 0) {
            sink_close(&s);
            continue;
          }
          assert_int_equal(sink_commit(&s, NULL, &err), -VMPULL_E_EXISTS);
        }
        assert_non_null(strstr(err.message, kinds[i].says));
        assert_non_null(strstr(err.message, f->path));
        sink_close(&s);
        struct stat st;
        assert_int_equal(lstat(f->path, &st), 0);
        assert_int_equal(st.st_mode & S_IFMT, kinds[i].type);
        assert_dir_holds(f->dir, "disk.raw");
        assert_int_equal(unlink(f->path), 0);
      }
    }
  }
#else
  (void)state;
#endif
}

static void test_stale_temporaries(void **state) {
  struct fixture *f = *state;
  for (int named = 0; named < 2; named++) {
    char stale[400], live[400], other[400];
    snprintf(stale, sizeof(stale), "%s/.disk.raw.vmpull-tmp-abcdefghijkl", f->dir);
    snprintf(live, sizeof(live), "%s/.disk.raw.vmpull-tmp-livelivelive", f->dir);
    snprintf(other, sizeof(other), "%s/.other.raw.vmpull-tmp-abcdefghijkl", f->dir);
    write_file(stale, "left by a crash");
    write_file(live, "being written");
    write_file(other, "another output's");
    /* A writer that is still running holds its lock. */
    int live_fd = plat_openat(AT_FDCWD, live, O_RDWR | O_CLOEXEC, 0);
    assert_true(live_fd >= 0);
    assert_int_equal(plat_flock(live_fd, LOCK_EX | LOCK_NB), 0);

    struct sink s = SINK_INIT;
    struct sink_options o = {.max_size = UINT64_MAX, .force_named_tmp = named};
    lib_error err = {0};
    assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
    assert_int_equal(access(stale, F_OK), -1);
    assert_int_equal(access(live, F_OK), 0);
    assert_int_equal(access(other, F_OK), 0);
    sink_close(&s);
    close(live_fd);
    assert_int_equal(unlink(live), 0);
    assert_int_equal(unlink(other), 0);
    assert_dir_holds(f->dir, NULL);
  }
}

static void test_bad_paths(void **state) {
  struct fixture *f = *state;
  char path[400];
  struct sink s = SINK_INIT;
  struct sink_options o = {.max_size = UINT64_MAX};
  lib_error err = {0};
  snprintf(path, sizeof(path), "%s/missing/disk.raw", f->dir);
  assert_int_equal(sink_open(&s, path, &o, &err), -VMPULL_E_NOT_FOUND);
  assert_non_null(strstr(err.message, "missing"));
  sink_close(&s);
  snprintf(path, sizeof(path), "%s/", f->dir);
  assert_int_equal(sink_open(&s, path, &o, &err), -VMPULL_E_USAGE);
  sink_close(&s);
  assert_dir_holds(f->dir, NULL);
}

/* The map the sink builds as it writes: each 1 MiB chunk zero or its sha256, whatever the sizes
 * of the writes, with or without the writer thread; and the file it wrote checks against it. */
static void test_chunk_map(void **state) {
  struct fixture *f = *state;
  size_t len, data_len;
  uint8_t *img = make_image(&len, &data_len);
  static const size_t chunks[] = {SINK_BUFFER_SIZE, 1000, 4096 * 3 + 5};
  for (int writer = 0; writer < 2; writer++) {
    for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
      struct sink s = SINK_INIT;
      struct sink_options o = {.max_size = UINT64_MAX, .writer_thread = writer, .chunk_map = 1};
      lib_error err = {0};
      assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
      feed(&s, img, len, &chunks[c], 1);
      commit_ok(&s, NULL);
      struct disk_map m;
      assert_int_equal(sink_take_map(&s, &m), 0);
      assert_int_equal(m.size, len);
      assert_int_equal(m.count, 10);
      for (uint64_t i = 0; i < m.count; i++) {
        size_t off = (size_t)i * DISK_MAP_CHUNK, n = MIN((size_t)DISK_MAP_CHUNK, len - off);
        int zero = disk_map_is_zero(img + off, n);
        if (m.zero[i] != zero)
          fail_msg("chunk %llu: map says %s", (unsigned long long)i, m.zero[i] ? "zero" : "data");
        unsigned char want[EVP_MAX_MD_SIZE];
        unsigned want_len = 0;
        assert_int_equal(EVP_Digest(img + off, n, want, &want_len, EVP_sha256(), NULL), 1);
        if (!zero)
          assert_memory_equal(m.sha256 + i * DISK_MAP_SHA256, want, DISK_MAP_SHA256);
      }
      uint64_t bad = 0;
      assert_int_equal(disk_copy_checked(s.fd, -1, &m, NULL, NULL, &bad), 0);
      disk_map_clear(&m);
      sink_close(&s);
      assert_int_equal(unlink(f->path), 0);
    }
  }
  /* Not asked for: none. */
  struct sink s = SINK_INIT;
  struct sink_options o = {.max_size = UINT64_MAX};
  lib_error err = {0};
  assert_int_equal(sink_open(&s, f->path, &o, &err), 0);
  feed(&s, img, len, chunks, 1);
  commit_ok(&s, NULL);
  struct disk_map m;
  assert_int_equal(sink_take_map(&s, &m), -ENOENT);
  sink_close(&s);
  free(img);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_block_is_zero),
      cmocka_unit_test_setup_teardown(test_writer_thread_content, setup, teardown),
      cmocka_unit_test_setup_teardown(test_writer_thread_blocks_signals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_writer_thread_write_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sparse_aligned_chunks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sparse_unaligned_chunks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sparse_named_tmp, setup, teardown),
      cmocka_unit_test_setup_teardown(test_final_size_trailing_zeros, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_output, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_invisible_until_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failure_leaves_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_existing_output_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replace_directory_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replace_non_file_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stale_temporaries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_paths, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chunk_map, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
