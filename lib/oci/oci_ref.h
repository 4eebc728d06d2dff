/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI source references: oci-dir://PATH[:REF] and docker://[REGISTRY/]REPO[:TAG|@DIGEST]
 * (Docker Hub rules as in containers/image's docker/reference), and the default
 * machine image that `docker://` alone stands for.
 */
#ifndef VMPULL_OCI_REF_H
#define VMPULL_OCI_REF_H

#include "base/error.h"

/* The machine-os X.Y that `docker://` pulls unless --os-version says otherwise. */
#define OCI_DEFAULT_OS_VERSION "5.5"
#define OCI_DEFAULT_IMAGE_REPO "quay.io/podman/machine-os"

struct oci_dir_ref {
  char *path; /* layout folder */
  char *ref;  /* org.opencontainers.image.ref.name to pick, or NULL for the whole index */
};

/* The PATH[:REF] of a layout source: what follows "oci-dir://" (any case) or skopeo's "oci:" when
 * archive is 0, "oci-archive://" or skopeo's "oci-archive:" when it is 1; NULL for anything else. */
const char *oci_layout_spec(const char *source, int archive);

/* Layout paths are Windows paths in the Windows build: a drive's colon ("C:\" or "C:/", also in
 * "\\?\C:\") is part of PATH there. Elsewhere "oci-dir://C:/x" stays the folder "C" with REF "/x". */
#ifdef _WIN32
#define OCI_WINDOWS_PATHS 1
#else
#define OCI_WINDOWS_PATHS 0
#endif

/* The colon that ends PATH in a layout's PATH[:REF] (what oci_layout_spec returns): the first one,
 * except, with windows_paths, a drive letter's; NULL when there is none (all of spec is PATH). */
const char *oci_layout_ref_colon(const char *spec, int windows_paths);

/* source: "oci-dir://PATH" or "oci-dir://PATH:REF" (or skopeo's "oci:PATH[:REF]"), split at the first
 * colon (as skopeo's oci: does; on Windows the first after a drive letter: oci_layout_ref_colon). */
int oci_dir_ref_parse(const char *source, struct oci_dir_ref *out, lib_error *err);
void oci_dir_ref_clear(struct oci_dir_ref *r);

struct docker_ref {
  char *registry;   /* as named: "docker.io", "quay.io", "localhost:5000", "[::1]:5000" */
  char *api_host;   /* where the API lives: registry-1.docker.io for docker.io */
  char *repository; /* "library/fedora", "podman/machine-os" */
  char *tag;        /* NULL when pulled by digest */
  char *digest;     /* NULL when pulled by tag */
};

/* ref without the docker:// prefix. A missing tag means "latest". A "user:password@" in front, as
 * in a URL, is a usage error whose message shows the password as ***. */
int docker_ref_parse(const char *ref, struct docker_ref *out, lib_error *err);
struct oci_default_image;
/* The reference a docker:// source stands for: what follows docker://, else dflt->image, else
 * quay.io/podman/machine-os:<dflt->os_version or the default X.Y>. */
int docker_ref_for_source(const char *source, const struct oci_default_image *dflt, struct docker_ref *out,
                          lib_error *err);
/* A copy of ref (without docker://) for messages: a would-be "user:password@" in front shows its
 * password as *** ("alice:***@host/repo"). NULL on OOM. */
char *docker_ref_redact(const char *ref);
/* A source string as messages show it: redact_url(), except that a docker:// reference's '@' may
 * introduce a digest, so its own rules say which '@' ends a password. NULL on OOM. */
char *redact_source(const char *source);
/* "docker://registry/repo:tag" or "docker://registry/repo@digest" (NULL on OOM). */
char *docker_ref_string(const struct docker_ref *r);
/* A deep copy of from into to (to is overwritten). */
int docker_ref_copy(const struct docker_ref *from, struct docker_ref *to, lib_error *err);
void docker_ref_clear(struct docker_ref *r);

#endif
