#!/usr/bin/env bash
# Makes examples/demo-disk.raw.xz, the small real disk that `make demo` pulls: a 64 MiB raw
# image holding an ext4 filesystem with a few files (mkfs.ext4 -d), mostly zeros, so that it
# compresses to a few tens of KiB and decompresses into a sparse file.
#   examples/make-demo-image.sh [OUTPUT]     (default: examples/demo-disk.raw.xz)
# The result is reproducible: fixed UUID, hash seed, timestamps and file owners.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/demo-disk.raw.xz}
export PATH="$PATH:/usr/sbin:/sbin"
for tool in mkfs.ext4 debugfs xz; do
  command -v "$tool" >/dev/null || { echo "make-demo-image: $tool is missing (scripts/install-deps)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/etc" "$root/home/demo"
cat >"$root/README" <<'TXT'
This disk was pulled by vmpull: fetched, verified and decompressed in one
streaming pass into a sparse file. It holds an ext4 filesystem; look inside
with `debugfs -R 'ls -l /' DISK` or mount it with `mount -o loop,ro DISK /mnt`.
TXT
echo "vmpull-demo" >"$root/etc/hostname"
cat >"$root/etc/os-release" <<'TXT'
NAME="vmpull demo"
ID=vmpull-demo
VERSION_ID=1
PRETTY_NAME="vmpull demo disk 1"
TXT
echo "Hello from inside the demo disk." >"$root/home/demo/hello.txt"
# Some real data, so the image is not only metadata: about 200 KiB of text.
seq 1 20000 | sed 's/^/line /' >"$root/home/demo/numbers.txt"
epoch=1700000000
find "$root" -exec touch -h -d "@$epoch" {} +

disk=$work/demo-disk.raw
E2FSPROGS_FAKE_TIME=$epoch mkfs.ext4 -q -F -t ext4 -L vmpull-demo \
  -U 5f1c0a3e-7d2b-4c55-9a61-0b8e2f3d4c10 \
  -E root_owner=0:0,hash_seed=2b7e1516-28ae-d2a6-abf7-158809cf4f3c,lazy_itable_init=0,lazy_journal_init=0 \
  -d "$root" "$disk" 64M >/dev/null
# mkfs copies each file's ctime, which touch cannot set: pin it too.
(cd "$root" && find . -mindepth 1 | sed 's|^\.||') | while read -r path; do
  echo "sif \"$path\" ctime @$epoch"
done >"$work/debugfs.cmds"
debugfs -w -f "$work/debugfs.cmds" "$disk" >/dev/null 2>&1
xz -6 -T1 --check=crc64 -c "$disk" >"$out.tmp"
mv "$out.tmp" "$out"
echo "make-demo-image: $(stat -c %s "$out") bytes in $out ($(stat -c %s "$disk") bytes decompressed)" >&2
