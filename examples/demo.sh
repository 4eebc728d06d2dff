#!/usr/bin/env bash
# `make demo`: pull the small demo disk this repository ships (as an OCI layout) into the data directory
# (${XDG_DATA_HOME:-~/.local/share}/vmpull/qemu) and print where it landed, as the last line.
#   examples/demo.sh [VMPULL]      (default: build/vmpull)
# --replace makes it safe to run again; everything else is vmpull's defaults.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
vmpull=${1:-$here/../build/vmpull}
# The demo disk as a podman machine-OS artifact in an OCI layout (examples/make-demo-layout.sh).
source="oci-dir://$here/demo-layout:latest"

disk=$("$vmpull" pull --replace "$source")
echo "demo: $source -> $(du -h --apparent-size "$disk" | cut -f1) disk, $(du -h "$disk" | cut -f1) on disk (sparse)" >&2
echo "$disk"
