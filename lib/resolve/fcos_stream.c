/* SPDX-License-Identifier: Apache-2.0 */
#include "resolve/fcos_stream.h"

#include "base/error.h"
#include "base/json_util.h"
#include "base/util.h"

#include <ctype.h>
#include <json-c/json.h>

#define STREAM_MAX_DEPTH 16 /* the real document nests 7 deep */

void fcos_artifact_clear(struct fcos_artifact *a) {
  free(a->location);
  free(a->sha256);
  free(a->release);
  free(a->platform);
  free(a->format);
  free(a->signature);
  memset(a, 0, sizeof(*a));
}

int fcos_platform_for(const char *provider, const char **platform, const char **format, lib_error *err) {
  static const struct {
    const char *provider, *platform, *format;
  } map[] = {
      {"qemu", "qemu", "qcow2.xz"},
      {"applehv", "applehv", "raw.gz"},
      {"libkrun", "applehv", "raw.gz"},
      {"hyperv", "hyperv", "vhdx.zip"},
  };
  if (!provider || !*provider)
    provider = "qemu";
  for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
    if (strcmp(provider, map[i].provider) == 0) {
      *platform = map[i].platform;
      *format = map[i].format;
      return 0;
    }
  }
  return error_set(err, VMPULL_E_NO_MATCH,
                   "Fedora CoreOS streams have no disk for provider '%s' (qemu, applehv, "
                   "libkrun, hyperv)",
                   provider);
}

int fcos_stream_name(const char *source, const char **name, size_t *len, lib_error *err) {
  if (strncasecmp(source, "fcos://", 7) != 0)
    return error_set(err, VMPULL_E_USAGE, "not an fcos:// source");
  const char *s = source + 7;
  size_t n = strlen(s);
  if (n && s[n - 1] == '/')
    n--;
  if (n == 0 || n > 64)
    return error_set(err, VMPULL_E_USAGE, "fcos:// needs a stream name (stable, testing, next)");
  for (size_t i = 0; i < n; i++)
    if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
      return error_set(err, VMPULL_E_USAGE, "'%.*s' is not a stream name (stable, testing, next)", (int)n, s);
  *name = s;
  *len = n;
  return 0;
}

static json_object *member(json_object *o, const char *key) {
  return json_member(o, key);
}

static const char *string_member(json_object *o, const char *key) {
  return json_member_string(o, key);
}

/* The object's keys, for an error that says what is there: "x86_64, aarch64". */
static void list_keys(json_object *o, char *buf, size_t cap) {
  buf[0] = '\0';
  if (!o || !json_object_is_type(o, json_type_object)) {
    snprintf(buf, cap, "nothing");
    return;
  }
  size_t used = 0;
  json_object_object_foreach(o, key, val) {
    (void)val;
    int n = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", key);
    if (n < 0 || (size_t)n >= cap - used) {
      snprintf(buf + (cap > 5 ? cap - 5 : 0), 5, "...");
      return;
    }
    used += (size_t)n;
  }
  if (!used)
    snprintf(buf, cap, "nothing");
}

static int usable_url(const char *u) {
  if (!u || (strncasecmp(u, "https://", 8) != 0 && strncasecmp(u, "http://", 7) != 0))
    return 0;
  for (const char *p = u; *p; p++)
    if ((unsigned char)*p <= 0x20 || *p == 0x7f)
      return 0;
  return 1;
}

int fcos_stream_select(const char *json, size_t len, const char *arch, const char *provider, struct fcos_artifact *out,
                       lib_error *err) {
  memset(out, 0, sizeof(*out));
  const char *platform = NULL, *format = NULL; /* -O2 cannot see fcos_platform_for sets both on success */
  int r = fcos_platform_for(provider, &platform, &format, err);
  if (r < 0)
    return r;
  if (!arch || !*arch)
    return error_set(err, VMPULL_E_USAGE, "no architecture to choose a disk for");

  /* Anything after the document (or a document cut short) is not a stream file. */
  json_object *root = NULL;
  const char *why;
  struct json_parse_limits lim = {.max_depth = STREAM_MAX_DEPTH};
  enum json_parse_status st = json_parse_strict(json, len, &lim, &root, &why);
  if (st == JSON_PARSE_NO_MEMORY)
    return error_oom(err);
  if (st != JSON_PARSE_OK)
    return error_set(err, VMPULL_E_MANIFEST, "stream metadata is not valid JSON: %s", why);

  char have[512];
  int ret = 0;
  json_object *arches = member(root, "architectures");
  json_object *a = member(arches, arch);
  json_object *artifacts = member(a, "artifacts");
  json_object *p = member(artifacts, platform);
  json_object *formats = member(p, "formats");
  json_object *f = member(formats, format);
  json_object *disk = member(f, "disk");
  if (!arches || !json_object_is_type(arches, json_type_object)) {
    ret = error_set(err, VMPULL_E_MANIFEST, "stream metadata has no \"architectures\" object");
  } else if (!a) {
    list_keys(arches, have, sizeof(have));
    ret = error_set(err, VMPULL_E_NO_MATCH, "the stream has no %s disks (it has %s)", arch, have);
  } else if (!p) {
    list_keys(artifacts, have, sizeof(have));
    ret = error_set(err, VMPULL_E_NO_MATCH, "the stream has no %s artifact for %s (it has %s)", platform, arch, have);
  } else if (!f) {
    list_keys(formats, have, sizeof(have));
    ret = error_set(err, VMPULL_E_NO_MATCH, "the stream has no %s %s disk for %s (formats: %s)", platform, format, arch,
                    have);
  } else if (!disk || !json_object_is_type(disk, json_type_object)) {
    ret = error_set(err, VMPULL_E_MANIFEST, "stream entry %s %s %s has no \"disk\"", arch, platform, format);
  } else {
    const char *location = string_member(disk, "location");
    const char *sha = string_member(disk, "sha256");
    const char *signature = string_member(disk, "signature");
    if (!usable_url(location)) {
      ret = error_set(err, VMPULL_E_MANIFEST, "stream entry %s %s %s: \"location\" is not an http(s) URL", arch,
                      platform, format);
    } else if (!sha || strlen(sha) != 64 || strspn(sha, "0123456789abcdefABCDEF") != 64) {
      ret = error_set(err, VMPULL_E_MANIFEST, "stream entry %s %s %s: \"sha256\" is not 64 hex digits", arch, platform,
                      format);
    } else if (signature && !usable_url(signature)) {
      ret = error_set(err, VMPULL_E_MANIFEST, "stream entry %s %s %s: \"signature\" is not an http(s) URL", arch,
                      platform, format);
    } else {
      out->location = strdup(location);
      out->signature = signature ? strdup(signature) : NULL;
      out->sha256 = xasprintf("sha256:%s", sha);
      out->platform = strdup(platform);
      out->format = strdup(format);
      const char *release = string_member(p, "release");
      if (release && *release)
        out->release = strdup(release);
      if (!out->location || !out->sha256 || !out->platform || !out->format || (release && *release && !out->release) ||
          (signature && !out->signature))
        ret = error_oom(err);
      else
        for (char *c = out->sha256; *c; c++)
          *c = (char)tolower((unsigned char)*c);
    }
  }
  json_object_put(root);
  if (ret < 0)
    fcos_artifact_clear(out);
  return ret;
}
