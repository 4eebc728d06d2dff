#!/usr/bin/env bash
# Makes examples/demo-layout/, the OCI image layout `make demo` pulls from: the demo disk
# (examples/demo-disk.raw.xz) as a podman machine-OS artifact, i.e. an index whose entries carry a
# `disktype` annotation and a platform, each pointing at a manifest with one layer titled
# demo-disk.raw.xz. The same raw disk serves every disktype and architecture, so the demo picks an
# entry on any host with any --provider. index.json names the index "latest".
#   examples/make-demo-layout.sh [DISK [LAYOUT]]
# Rerun it whenever demo-disk.raw.xz changes (tests/cli/test_oci.py checks they agree).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
disk=${1:-$here/demo-disk.raw.xz}
out=${2:-$here/demo-layout}

rm -rf "$out"
mkdir -p "$out/blobs/sha256"
printf '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"

# put FILE: store a blob, print "sha256:HEX SIZE"
put() {
  local hex size
  hex=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  cp "$1" "$out/blobs/sha256/$hex"
  echo "sha256:$hex $size"
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

read -r disk_digest disk_size < <(put "$disk")
printf '{}' >"$tmp/config"
read -r config_digest config_size < <(put "$tmp/config")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",%s,%s,%s}' \
  '"artifactType":"application/vnd.vmpull.demo.disk"' \
  "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"$config_digest\",\"size\":$config_size}" \
  "\"layers\":[{\"mediaType\":\"application/x-xz\",\"digest\":\"$disk_digest\",\"size\":$disk_size,\"annotations\":{\"org.opencontainers.image.title\":\"$(basename "$disk")\"}}]" \
  >"$tmp/manifest"
read -r manifest_digest manifest_size < <(put "$tmp/manifest")

entries=""
for arch in x86_64 aarch64 ppc64le s390x riscv64; do
  for disktype in qemu applehv hyperv wsl; do
    entries+="${entries:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$manifest_digest\",\"size\":$manifest_size,\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"},\"annotations\":{\"disktype\":\"$disktype\"}}"
  done
done
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$entries" \
  >"$tmp/index"
read -r index_digest index_size < <(put "$tmp/index")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}\n' \
  "{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"$index_digest\",\"size\":$index_size,\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}}" \
  >"$out/index.json"
echo "demo layout: $out (disk $disk_digest)" >&2
