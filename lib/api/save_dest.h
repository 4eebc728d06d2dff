/* SPDX-License-Identifier: Apache-2.0 */
/* Where vmpull_save() writes: oci-dir://PATH[:REF] or oci-archive://FILE[:REF], and the ref.name
 * the saved entry gets (the REF given, else the source's tag or REF, else "latest"). */
#ifndef VMPULL_SAVE_DEST_H
#define VMPULL_SAVE_DEST_H

#include "oci/oci_settings.h"
#include "resolve/resolve.h"

struct save_dest {
  int archive;
  char *path;
  char *ref; /* NULL: the default */
};

void save_dest_clear(struct save_dest *d);
/* Split at the first colon, as the sources are. */
int save_dest_parse(const char *dest, struct save_dest *out, lib_error *err);
/* A ref.name: printable, no whitespace, within the length annotations are usually kept to. */
int save_ref_name_check(const char *ref, lib_error *err);
/* The source's tag or REF, else "latest" (*out: the caller frees it). */
int save_default_ref(const struct oci_settings *o, enum source_kind kind, char **out, lib_error *err);

#endif
