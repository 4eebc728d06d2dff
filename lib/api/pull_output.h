/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a pull's disk goes: the caller's fd (vmpull_pull_to_fd), a block device the output path
 * names (written in place, lib/pipeline/sink_device.h), or a file by the output path or the naming
 * rule (made in place by the sink: a temporary, then its name); the bmap beside any of them. Every
 * producer of a pull (a decoded source, a kept disk, a local copy) opens its sink here.
 */
#ifndef VMPULL_API_PULL_OUTPUT_H
#define VMPULL_API_PULL_OUTPUT_H

#include "api/options.h"
#include "pipeline/detect.h"
#include "pipeline/sink.h"

/* The output path the caller named is a block device (stat: links followed). The naming rule's
 * output never is asked: it is never written onto a device. */
int pull_output_is_device(const char *output);

/* The sink for image_name decoded from format, with so's settings and what o says of the output
 * (its fd, a device, the bmap). *out_path: the path (NULL with an fd); *device_touched is set
 * once a device's contents changed. */
int pull_output_open(const struct pull_config *o, const char *image_name, enum format format,
                     const struct sink_options *so, int *device_touched, struct sink *sink, char **out_path,
                     lib_error *err);

#endif
