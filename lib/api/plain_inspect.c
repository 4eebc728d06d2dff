/* SPDX-License-Identifier: Apache-2.0 */
/* vmpull_inspect() of a file, an http(s) URL or fcos:// (plain_inspect.h): the plan the resolver
 * returns, and its first bytes through the pipeline's format detection. */
#include "api/plain_inspect.h"

#include "base/error.h"
#include "base/json_util.h"
#include "base/redact.h"
#include "base/util.h"
#include "pipeline/detect.h"
#include "resolve/checksums.h"
#include "resolve/plan_peek.h"
#include "resolve/resolve.h"

/* As many first bytes as a URL is asked for: enough for every magic number and a zip's first header. */
#define INSPECT_PEEK 4096

static json_object *size_or_null(uint64_t size) {
  return size == UINT64_MAX ? NULL : json_object_new_int64((int64_t)size);
}

int inspect_plain(const struct pull_config *o, unsigned flags, char **json, lib_error *err) {
  if (flags & VMPULL_INSPECT_ALL)
    return error_set(err, VMPULL_E_USAGE, "--all needs an OCI source (docker://, oci-dir://, oci-archive://)");
  /* The peek (and fcos's stream metadata) asks the server; inspect has no cached answer to give. */
  enum source_kind kind;
  int r = source_classify(o->resolve.source, &kind, err);
  if (r < 0)
    return r;
  if (o->fetch.offline && (kind == SOURCE_HTTP || kind == SOURCE_FCOS))
    return error_set(err, VMPULL_E_USAGE, "--offline: inspect of an http(s) or fcos:// source asks its server");
  _cleanup_(resolved_clear) struct resolved rs = {.expected_size = UINT64_MAX};
  r = resolve_source(&o->resolve, NULL, NULL, &rs, err);
  if (r < 0)
    return r;
  /* The digest pull would check the bytes against, if one is known before they are read. */
  _cleanup_free_ char *listed = NULL;
  if (!rs.expected_digest && !o->expected_digest && o->resolve.checksums && rs.image_name) {
    r = checksums_lookup(&o->resolve, NULL, rs.image_name, &listed, err);
    if (r < 0)
      return r;
  }
  uint8_t head[INSPECT_PEEK];
  size_t got = 0;
  uint64_t size = UINT64_MAX;
  r = resolved_peek(&rs, head, sizeof(head), &got, &size, err);
  if (r < 0)
    return r;
  if (rs.expected_size != UINT64_MAX)
    size = rs.expected_size;
  enum format format;
  r = detect_format(head, got, rs.image_name, &format, err);
  if (r < 0)
    return error_wrap(err, "%s", rs.display);
  _cleanup_free_ char *out_path = NULL;
  r = pull_output_path(&o->resolve.naming, rs.image_name, format_suffix(format), &out_path, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *url = rs.plan.kind == BYTE_PLAN_URL ? redact_url(rs.plan.location) : NULL;
  if (rs.plan.kind == BYTE_PLAN_URL && !url)
    return error_oom(err);

  _cleanup_json_ json_object *root = json_object_new_object();
  if (!root)
    return error_oom(err);
  const char *digest = rs.expected_digest ? rs.expected_digest : o->expected_digest ? o->expected_digest : listed;
  json_object_object_add(root, "source", json_result_string(rs.display));
  json_object_object_add(root, "url", json_result_string(url));
  json_object_object_add(root, "reference", json_result_string(rs.reference));
  json_object_object_add(root, "file_name", json_result_string(rs.image_name));
  json_object_object_add(root, "format", json_result_string(format_name(format)));
  json_object_object_add(root, "size", size_or_null(size));
  json_object_object_add(root, "digest", json_result_string(digest));
  json_object_object_add(root, "output_path", json_result_string(out_path));
  *json = json_text_dup(root);
  return *json ? 0 : error_oom(err);
}
