/* SPDX-License-Identifier: Apache-2.0 */
/* vmpull cache list|prune|verify */
#include "tool.h"
#include "tool_completion.h"
#include "tool_opts.h"
#include "tool_platform.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MAX_AGE (14 * 86400) /* podman's expiry for cached machine images */

enum {
  OPT_CACHE_DIR = 256,
  OPT_JSON,
  OPT_OLDER_THAN,
  OPT_ALL,
  OPT_MAX_SIZE,
  OPT_HELP,
};

const struct option cache_longopts[] = {
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
    {"json", no_argument, NULL, OPT_JSON},
    {"older-than", required_argument, NULL, OPT_OLDER_THAN},
    {"all", no_argument, NULL, OPT_ALL},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

int tool_cache_option_applies(const char *sub, const char *name) {
  static const char *const prune_only[] = {"older-than", "all", "max-size"};
  if (!strcmp(sub, "prune"))
    return 1;
  for (size_t i = 0; i < sizeof(prune_only) / sizeof(prune_only[0]); i++)
    if (!strcmp(name, prune_only[i]))
      return 0;
  return 1;
}

static const char *kind_name(int kind) {
  switch (kind) {
  case VMPULL_CACHE_BLOB: return "blob";
  case VMPULL_CACHE_DISK: return "disk";
  case VMPULL_CACHE_PARTIAL: return "partial";
  default: return "unknown";
  }
}

static json_object *entries_json(const vmpull_cache_entries *list) {
  json_object *arr = json_object_new_array();
  for (size_t i = 0; i < list->count; i++) {
    const vmpull_cache_entry *e = &list->entries[i];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "kind", json_object_new_string(kind_name(e->kind)));
    json_object_object_add(o, "digest", e->digest ? json_object_new_string(e->digest) : NULL);
    json_object_object_add(o, "source", e->source ? json_object_new_string(e->source) : NULL);
    json_object_object_add(o, "path", json_object_new_string(e->path));
    json_object_object_add(o, "size", json_object_new_int64((int64_t)e->size));
    json_object_object_add(o, "last_used", json_object_new_int64(e->last_used));
    json_object_array_add(arr, o);
  }
  return arr;
}

static void print_json(const char *key, const vmpull_cache_entries *list, int checked) {
  json_object *root = json_object_new_object();
  json_object_object_add(root, key, entries_json(list));
  if (checked >= 0)
    json_object_object_add(root, "checked", json_object_new_int(checked));
  tool_print_json(root);
}

static void print_table(const vmpull_cache_entries *list) {
  if (!list->count)
    return;
  printf("%-8s %-19s %10s  %-16s  %s\n", "KIND", "DIGEST", "SIZE", "LAST USED", "SOURCE");
  for (size_t i = 0; i < list->count; i++) {
    const vmpull_cache_entry *e = &list->entries[i];
    char size[32], when[32] = "-";
    tool_format_bytes(e->size, size, sizeof(size));
    time_t t = (time_t)e->last_used;
    struct tm tm;
    if (localtime_r(&t, &tm))
      strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
    char digest[20];
    snprintf(digest, sizeof(digest), "%s", e->digest ? e->digest : "-");
    printf("%-8s %-19s %10s  %-16s  %s\n", kind_name(e->kind), digest, size, when, e->source ? e->source : "-");
  }
}

static void print_removed(const char *verb, const vmpull_cache_entries *list) {
  uint64_t total = 0;
  for (size_t i = 0; i < list->count; i++) {
    const vmpull_cache_entry *e = &list->entries[i];
    printf("%s %s %s\n", verb, kind_name(e->kind), e->digest ? e->digest : e->path);
    total += e->size;
  }
  char freed[32];
  tool_format_bytes(total, freed, sizeof(freed));
  fprintf(stderr, "vmpull: %s %zu %s, %s\n", verb, list->count, list->count == 1 ? "entry" : "entries", freed);
}

int tool_cache(int argc, char **argv) {
  if (argc < 2 || (argv[1][0] == '-' && !tool_is_help(argv[1]))) {
    tool_error("cache: missing command: list, prune or verify (see 'vmpull cache --help')");
    return EXIT_USAGE;
  }
  if (tool_is_help(argv[1])) {
    tool_help("cache");
    return 0;
  }
  const char *sub = argv[1];
  if (strcmp(sub, "list") && strcmp(sub, "prune") && strcmp(sub, "verify")) {
    tool_error("cache: unknown command '%s' (list, prune or verify)", sub);
    return EXIT_USAGE;
  }
  char cmd[16]; /* "cache prune": what usage errors name */
  snprintf(cmd, sizeof(cmd), "cache %s", sub);
  const char *cache_dir = NULL;
  int json = 0, all = 0, have_age = 0;
  int64_t older_than = DEFAULT_MAX_AGE;
  uint64_t max_size = UINT64_MAX;
  optind = 0;
  opterr = 0;
  int c;
  argc--;
  argv++;
  int which = -1;
  while ((c = getopt_long(argc, argv, ":", cache_longopts, &which)) != -1) {
    if (c != ':' && c != '?' && which >= 0 && !tool_cache_option_applies(sub, cache_longopts[which].name)) {
      tool_error("cache %s: --%s: --older-than, --all and --max-size belong to 'cache prune'", sub,
                 cache_longopts[which].name);
      return EXIT_USAGE;
    }
    which = -1;
    switch (c) {
    case OPT_CACHE_DIR: cache_dir = optarg; break;
    case OPT_JSON: json = 1; break;
    case OPT_ALL: all = 1; break;
    case OPT_OLDER_THAN:
      older_than = parse_duration(optarg);
      if (older_than < 0)
        return tool_bad_value(cmd, "--older-than", "a duration like 14d, 12h or 30m", optarg);
      have_age = 1;
      break;
    case OPT_MAX_SIZE:
      if (parse_size(optarg, &max_size) < 0)
        return tool_bad_value(cmd, "--max-size", "a size like 512M, 10G", optarg);
      break;
    case OPT_HELP: tool_help("cache"); return 0;
    case ':': return tool_missing_value(cmd, "cache", argv[optind - 1], "a value");
    default: return tool_unknown_option("cache", argv[optind - 1], cache_longopts);
    }
  }
  if (optind < argc) {
    tool_error("cache %s: unexpected argument '%s'", sub, argv[optind]);
    return EXIT_USAGE;
  }
  int is_prune = !strcmp(sub, "prune");
  if (is_prune && all && have_age) {
    tool_error("cache prune: --all and --older-than do not go together");
    return EXIT_USAGE;
  }
  char *owned = NULL;
  if (!cache_dir) {
    owned = tool_default_cache_dir();
    if (!owned) {
      tool_error("cache: out of memory");
      return EXIT_PULL_FAILED;
    }
    cache_dir = owned;
  }

  vmpull_error err;
  vmpull_cache_entries list = {0};
  int r;
  if (!strcmp(sub, "list")) {
    r = vmpull_cache_list(cache_dir, &list, &err);
    if (r >= 0) {
      if (json)
        print_json("entries", &list, -1);
      else
        print_table(&list);
    }
  } else if (is_prune) {
    /* --max-size alone limits the size only; without options, the age limit applies. */
    if (all)
      older_than = 0;
    else if (max_size != UINT64_MAX && !have_age)
      older_than = -1;
    r = vmpull_cache_prune(cache_dir, older_than, max_size, &list, &err);
    if (r >= 0) {
      if (json)
        print_json("removed", &list, -1);
      else
        print_removed("removed", &list);
    }
  } else {
    r = vmpull_cache_verify(cache_dir, &list, &err);
    if (r >= 0) {
      if (json) {
        print_json("removed", &list, r);
      } else {
        for (size_t i = 0; i < list.count; i++)
          printf("bad %s %s (removed)\n", kind_name(list.entries[i].kind), list.entries[i].digest);
        fprintf(stderr, "vmpull: checked %d %s, %zu bad\n", r, r == 1 ? "entry" : "entries", list.count);
      }
      /* Damage found is worth a non-zero status even though it is repaired. */
      if (list.count)
        r = -VMPULL_E_CORRUPT;
      else
        r = 0;
      if (r < 0) {
        vmpull_cache_entries_free(&list);
        free(owned);
        return EXIT_PULL_FAILED;
      }
    }
  }
  vmpull_cache_entries_free(&list);
  free(owned);
  if (r < 0) {
    if (json)
      tool_json_error(&err);
    tool_error("cache %s: %s", sub, err.message);
    return tool_exit_for_error(&err);
  }
  return 0;
}
