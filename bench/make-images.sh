#!/usr/bin/env bash
# Generates the benchmark images once and caches them under bench/work/ (git-ignored).
#   bench/make-images.sh [WORKDIR]
# Each image is built under a temporary name and renamed into place, so an interrupted run
# leaves nothing that a later run would mistake for a finished image; a second run only
# makes what is missing. Delete bench/work/ (or one file in it) to rebuild.
#
# What it makes (about 15 minutes on 2 cores, mostly `xz -T1`):
#   disk.raw            2 GiB raw ext4 disk, about 700 MB of real files copied from /usr
#                       (binaries, libraries, headers, docs: the compressibility of an OS image)
#   disk.qcow2          its qcow2 conversion (qemu-img convert)
#   disk.raw.xz         xz -6, one block (what `xz -T1` makes: no parallel decoding possible)
#   disk.raw.mb.xz      xz -6, 64 MiB blocks (what `xz -T2` makes: decodable in parallel)
#   disk.raw.zst        zstd -14
#   disk.raw.gz         gzip -6 (made with pigz; the output is ordinary gzip)
#   disk.qcow2.xz       the qcow2, xz 64 MiB blocks (the shape of podman's machine images)
#   sparse1g.raw(.zst,.gz,.mb.xz)  1 GiB ext4 disk with about 64 MB of files (RSS rows)
#   sparse8g.raw(.zst,.gz,.mb.xz)  the same files on an 8 GiB disk (RSS rows)
#   *.nonzero           the number of 4 KiB blocks of each raw image that hold a non-zero byte
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-$here/work}"
mkdir -p "$work"
cd "$work"

PAYLOAD_MB=${PAYLOAD_MB:-700}
SMALL_PAYLOAD_MB=${SMALL_PAYLOAD_MB:-64}

log() { printf 'make-images: %s\n' "$*" >&2; }

# Run "$@" (an argument @TMP@ stands for $tmp, the output) then rename $tmp to $out.
# Skips when $out exists.
make_one() {
  local out="$1"
  shift
  if [ -e "$out" ]; then
    return 0
  fi
  log "making $out"
  local start=$SECONDS
  tmp="$out.tmp"
  rm -f "$tmp"
  local args=()
  for a in "$@"; do [ "$a" = @TMP@ ] && args+=("$tmp") || args+=("$a"); done
  "${args[@]}"
  mv -f "$tmp" "$out"
  log "  $out: $(du -h --apparent-size "$out" | cut -f1) apparent, $(du -h "$out" | cut -f1) on disk, $((SECONDS - start)) s"
}

# A deterministic pseudo-random mix of regular files from /usr (sorted by a hash of the path,
# so binaries, libraries, headers and docs interleave), up to $1 MB. Unreadable files skipped.
file_list() {
  /usr/bin/python3 - "$1" <<'EOF'
import hashlib, os, sys
limit = int(sys.argv[1]) * 1000 * 1000
roots = ["/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu", "/usr/libexec", "/usr/share/doc",
         "/usr/share/man", "/usr/include", "/usr/share/locale"]
files = []
for root in roots:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.isfile(path) and not os.path.islink(path) and os.access(path, os.R_OK):
                files.append((hashlib.md5(path.encode()).digest(), os.path.getsize(path), path))
files.sort()
total = 0
for _, size, path in files:
    if total + size > limit:
        continue
    total += size
    print(path)
print(f"make-images: {total / 1e6:.0f} MB of files", file=sys.stderr)
EOF
}

stage() { # stage DIR MB
  local dir="$1" mb="$2"
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  file_list "$mb" >"$dir.list"
  # --no-recursion: the list holds files only; tar recreates their folders.
  tar -cf - --no-recursion -T "$dir.list" 2>/dev/null | tar -xf - -C "$dir.tmp"
  rm -f "$dir.list"
  mv "$dir.tmp" "$dir"
}

mkfs_image() { # mkfs_image SIZE DIR (writes $tmp)
  truncate -s "$1" "$tmp"
  # Fixed UUID and hash seed: the same machine makes the same image every time.
  mkfs.ext4 -q -F -L vmpull-bench -U 6b1c5c8e-9f2a-4f61-9a0e-3c1d2b0e7a11 \
    -E hash_seed=2b7e1516-28ae-d2a6-abf7-158809cf4f3c,lazy_itable_init=1,nodiscard -d "$2" "$tmp"
}

nonzero_blocks() { # nonzero_blocks RAW (writes $tmp): 4 KiB blocks holding any non-zero byte
  /usr/bin/python3 - "$1" >"$tmp" <<'EOF'
import os, sys
path = sys.argv[1]
zero = bytes(4096)
count = 0
with open(path, "rb", buffering=0) as f:
    size = os.fstat(f.fileno()).st_size
    off = 0
    while off < size:
        # Skip holes quickly: only data extents can hold non-zero bytes.
        try:
            data = os.lseek(f.fileno(), off, os.SEEK_DATA)
        except OSError:
            break
        hole = os.lseek(f.fileno(), data, os.SEEK_HOLE)
        data -= data % 4096
        f.seek(data)
        pos = data
        while pos < hole:
            chunk = f.read(min(1 << 24, hole - pos + (-(hole - pos)) % 4096))
            if not chunk:
                break
            for i in range(0, len(chunk), 4096):
                if chunk[i:i + 4096].rstrip(b"\0"):
                    count += 1
            pos += len(chunk)
        off = pos
print(count)
EOF
}

if [ ! -e disk.raw ] || [ ! -e sparse1g.raw ] || [ ! -e sparse8g.raw ]; then
  [ -d root ] || stage root "$PAYLOAD_MB"
  [ -d root-small ] || stage root-small "$SMALL_PAYLOAD_MB"
fi
make_one disk.raw mkfs_image 2G root
make_one sparse1g.raw mkfs_image 1G root-small
make_one sparse8g.raw mkfs_image 8G root-small
rm -rf root root-small

make_one disk.qcow2 qemu-img convert -O qcow2 disk.raw @TMP@

for raw in disk sparse1g sparse8g; do
  make_one "$raw.raw.nonzero" nonzero_blocks "$raw.raw"
done

make_one disk.raw.gz sh -c 'pigz -6 -p 2 -c disk.raw >"$0"' @TMP@
make_one disk.raw.zst zstd -q -14 -T2 disk.raw -o @TMP@
make_one disk.raw.mb.xz sh -c 'xz -6 -T2 --block-size=64MiB -c disk.raw >"$0"' @TMP@
make_one disk.qcow2.xz sh -c 'xz -6 -T2 --block-size=64MiB -c disk.qcow2 >"$0"' @TMP@
for raw in sparse1g sparse8g; do
  make_one "$raw.raw.gz" sh -c 'pigz -6 -p 2 -c "$1" >"$0"' @TMP@ "$raw.raw"
  make_one "$raw.raw.zst" zstd -q -14 -T2 "$raw.raw" -o @TMP@
  make_one "$raw.raw.mb.xz" sh -c 'xz -6 -T2 --block-size=64MiB -c "$1" >"$0"' @TMP@ "$raw.raw"
done
# Last: the slowest one (single-threaded by nature).
make_one disk.raw.xz sh -c 'xz -6 -T1 -c disk.raw >"$0"' @TMP@
log "all images in $work"
