/* SPDX-License-Identifier: Apache-2.0 */
/* Sources whose resolvers are not written yet answer with a clear error. */
#include "error.h"
#include "resolve.h"
#include "unwrap_tar.h"

int resolve_http(const vmpull_pull_options *o, struct resolved *r, vmpull_error *err) {
  (void)o;
  (void)r;
  return error_set(err, VMPULL_E_UNSUPPORTED, "http(s) sources are not supported yet");
}

int resolve_oci_dir(const vmpull_pull_options *o, struct resolved *r, vmpull_error *err) {
  (void)o;
  (void)r;
  return error_set(err, VMPULL_E_UNSUPPORTED, "oci-dir:// sources are not supported yet");
}

int resolve_docker(const vmpull_pull_options *o, struct resolved *r, vmpull_error *err) {
  (void)o;
  (void)r;
  return error_set(err, VMPULL_E_UNSUPPORTED, "docker:// sources are not supported yet");
}

int unwrap_tar_new(struct byte_source *inner, struct byte_source **out, char **entry_name, vmpull_error *err) {
  (void)out;
  (void)entry_name;
  source_free(inner);
  return error_set(err, VMPULL_E_UNSUPPORTED, "tar layers are not supported yet");
}
