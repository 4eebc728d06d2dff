/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fedora CoreOS stream metadata (https://builds.coreos.fedoraproject.org/streams/<stream>.json):
 * architectures.<arch>.artifacts.<platform>.formats.<format>.disk = {location, sha256, ...}.
 * The parser is a pure function over a buffer (a fuzz target); the resolver
 * that fetches the document and pulls the chosen disk is resolve_fcos().
 */
#ifndef VMPULL_FCOS_STREAM_H
#define VMPULL_FCOS_STREAM_H

#include "base/error.h"

#include <stddef.h>

#define FCOS_STREAM_DEFAULT_URL "https://builds.coreos.fedoraproject.org/streams/%s.json"

struct fcos_artifact {
  char *location;  /* http(s) URL of the disk */
  char *sha256;    /* "sha256:<hex>" of the file at location */
  char *release;   /* "40.20240416.3.1", or NULL */
  char *platform;  /* "qemu", "applehv", "hyperv" */
  char *format;    /* "qcow2.xz", "raw.gz", "vhdx.zip" */
  char *signature; /* http(s) URL of the detached OpenPGP signature of the file at location, or NULL */
};
void fcos_artifact_clear(struct fcos_artifact *a);

/* The platform and format a provider boots: qemu -> qemu qcow2.xz,
 * applehv/libkrun -> applehv raw.gz, hyperv -> hyperv vhdx.zip. */
int fcos_platform_for(const char *provider, const char **platform, const char **format, lib_error *err);

/* Pick the disk for arch (normalised: x86_64, aarch64) and provider from the stream document json[0..len). */
int fcos_stream_select(const char *json, size_t len, const char *arch, const char *provider, struct fcos_artifact *out,
                       lib_error *err);

/* "stable" from "fcos://stable" (letters, digits and '-' only). */
int fcos_stream_name(const char *source, const char **name, size_t *len, lib_error *err);

#endif
