#!/usr/bin/env bash
# Regenerates the small generated seeds in fuzz/seeds/ (crash regressions there are kept).
# Inputs are tiny on purpose: libFuzzer mutates small inputs far faster, and the shared
# corpora (../shared/corpora) add the real-world ones at run time.
set -euo pipefail
cd "$(dirname "$0")/seeds"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A payload like a disk: data, a run of zeros (a hole), data again.
{ printf 'boot sector'; head -c 9000 /dev/zero; printf 'partition table\n'; } >"$work/disk.img"
printf 'second\n' >"$work/two.img"

xz -c --check=crc32 "$work/disk.img" >decode_xz/crc32.xz
xz -c --check=sha256 "$work/disk.img" >decode_xz/sha256.xz
xz -c --check=none "$work/disk.img" >decode_xz/none.xz
xz -c --block-size=4096 "$work/disk.img" >decode_xz/blocks.xz
{ xz -c "$work/disk.img"; xz -c "$work/two.img"; } >decode_xz/concatenated.xz
{ xz -c "$work/two.img"; head -c 4 /dev/zero; } >decode_xz/padded.xz
xz -c --format=lzma "$work/disk.img" >decode_lzma/disk.lzma
lzip -c "$work/disk.img" >decode_lzip/disk.lz
{ lzip -c "$work/disk.img"; lzip -c "$work/two.img"; } >decode_lzip/members.lz
gzip -c -n "$work/disk.img" >decode_gzip/plain.gz
(cd "$work" && gzip -c disk.img) >decode_gzip/name.gz
{ gzip -c -n "$work/disk.img"; gzip -c -n "$work/two.img"; } >decode_gzip/members.gz
{ gzip -c -n "$work/two.img"; head -c 16 /dev/zero; } >decode_gzip/padded.gz
python3 - "$work/disk.img" decode_gzip/extra-comment.gz <<'PY'
import gzip, struct, sys, zlib
data = open(sys.argv[1], "rb").read()
body = zlib.compressobj(6, zlib.DEFLATED, -15)
deflated = body.compress(data) + body.flush()
extra = b"AB" + struct.pack("<H", 4) + b"xyzw"
hdr = b"\x1f\x8b\x08" + bytes([0x04 | 0x08 | 0x10 | 0x02]) + b"\0\0\0\0\0\xff"
hdr += struct.pack("<H", len(extra)) + extra + b"disk.img\0" + b"a comment\0"
hdr += struct.pack("<H", zlib.crc32(hdr) & 0xFFFF)
open(sys.argv[2], "wb").write(hdr + deflated + struct.pack("<II", zlib.crc32(data), len(data)))
PY
zstd -q -c "$work/disk.img" >decode_zstd/plain.zst
zstd -q -c --check "$work/disk.img" >decode_zstd/check.zst
zstd -q -c --no-check "$work/disk.img" >decode_zstd/nocheck.zst
{ zstd -q -c "$work/disk.img"; zstd -q -c "$work/two.img"; } >decode_zstd/frames.zst
# Streamed from a pipe: no content size in the frame header.
zstd -q -c <"$work/disk.img" >decode_zstd/stream.zst
python3 - decode_zstd/skippable.zst "$work/two.img" <<'PY'
import struct, subprocess, sys
frame = subprocess.run(["zstd", "-q", "-c", sys.argv[2]], capture_output=True, check=True).stdout
open(sys.argv[1], "wb").write(struct.pack("<II", 0x184D2A50, 5) + b"skip!" + frame)
PY
bzip2 -c "$work/disk.img" >decode_bzip2/disk.bz2
{ bzip2 -c "$work/disk.img"; bzip2 -c "$work/two.img"; } >decode_bzip2/streams.bz2
(cd "$work" && rm -f a.zip && zip -q -X a.zip disk.img) && cp "$work/a.zip" decode_zip/deflate.zip
(cd "$work" && rm -f a.zip && zip -q -X -0 a.zip disk.img) && cp "$work/a.zip" decode_zip/stored.zip
(cd "$work" && rm -f a.zip && zip -q -X - - <disk.img >a.zip) && cp "$work/a.zip" decode_zip/streamed.zip
(cd "$work" && rm -f a.zip && zip -q -X a.zip disk.img two.img) && cp "$work/a.zip" decode_zip/two-files.zip
(cd "$work" && rm -rf a.zip d && mkdir d && zip -q -X a.zip d) && cp "$work/a.zip" decode_zip/directory.zip

# decode: detection first, so one of each.
for f in decode_xz/crc32.xz decode_lzma/disk.lzma decode_lzip/disk.lz decode_gzip/plain.gz decode_zstd/plain.zst \
  decode_bzip2/disk.bz2 decode_zip/deflate.zip; do
  cp "$f" decode/
done
cp "$work/two.img" decode/raw.img

# source string, NUL, image file name
s() { printf '%s\0%s' "$2" "$3" >"source_classify/$1"; }
s docker 'docker://quay.io/podman/machine-os:5.3' 'disk.raw.zst'
s docker-digest 'docker://localhost:5000/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' 'x.qcow2.xz'
s oci-dir 'oci-dir:///tmp/layout:tag' 'fedora-coreos-40.qcow2.xz'
s https 'https://user:secret@example.com/a/b/disk.qcow2.xz?x=y#frag' 'disk.qcow2.xz'
s windows 'C:\img\disk.vhdx' 'disk.vhdx'
s unknown-scheme 'ftp://example.com/x' '..'
s file-url 'file:///var/tmp/disk.raw' 'a/b'
s fcos 'fcos://stable' 'fedora-coreos.qcow2.xz'
s control 'HTTP://x' "$(printf 'a\tb')"

# what follows docker://
mkdir -p oci_ref oci_manifest oci_challenge oci_auth_json checksums unwrap_tar fcos_stream
hex=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
printf '%s' 'quay.io/podman/machine-os:5.5' >oci_ref/quay
printf '%s' 'fedora' >oci_ref/hub-short
printf '%s' 'docker.io/library/busybox:latest' >oci_ref/hub-long
printf '%s' "localhost:5000/a/b@sha256:$hex" >oci_ref/digest
printf '%s' "[::1]:5000/x/y:tag@sha256:$hex" >oci_ref/ipv6-tag-digest
printf '%s' '/tmp/layout:5.5' >oci_ref/dir-with-ref

# index (machine-os style, disktype annotations) NUL manifest; and a nested platform index
cat >oci_manifest/machine-os <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$hex","size":400,
 "platform":{"os":"linux","architecture":"amd64"},"annotations":{"disktype":"qcow2"}},
{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$hex","size":400,
 "platform":{"os":"linux","architecture":"arm64"},"annotations":{"disktype":"applehv"}}]}
JSON
printf '\0' >>oci_manifest/machine-os
cat >>oci_manifest/machine-os <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:$hex","size":2},
"layers":[{"mediaType":"application/zstd","digest":"sha256:$hex","size":12345,
"annotations":{"org.opencontainers.image.title":"podman-machine.x86_64.qemu.qcow2.zst"}}]}
JSON
cat >oci_manifest/tar-layer <<JSON
{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:$hex",
"size":300,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}
JSON
printf '\0' >>oci_manifest/tar-layer
cat >>oci_manifest/tar-layer <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[
{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:$hex","size":300,
 "platform":{"os":"linux","architecture":"amd64","variant":"v2"}}]}
JSON
printf '\0' >>oci_manifest/tar-layer
cat >>oci_manifest/tar-layer <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:$hex","size":2},
"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"sha256:$hex","size":99}]}
JSON

printf '%s' 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/fedora:pull"' >oci_challenge/bearer
printf '%s' 'Basic realm="Registry Realm"' >oci_challenge/basic
printf '%s' 'Negotiate, Basic realm=x, Bearer realm="https://a/t", error="invalid_token", error_description="a \"quoted\" word"' >oci_challenge/several
printf '%s' 'bearer  REALM = "http://127.0.0.1:1/token" ,scope="a:b:pull,push"' >oci_challenge/spacing

# secrets carry the marker s3cr3t (fuzz_oci_auth_json.c): user:s3cr3t in base64 is dXNlcjpzM2NyM3Q=
printf '%s' '{"auths":{"quay.io":{"auth":"dXNlcjpzM2NyM3Q="},"quay.io/podman":{"auth":"dXNlcjpzM2NyM3Q="}}}' >oci_auth_json/auths
printf '%s' '{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpzM2NyM3Q="}},"credsStore":"pass"}' >oci_auth_json/docker-legacy
printf '%s' '{"credHelpers":{"localhost:5000":"secretservice"},"auths":{"localhost:5000":{"auth":"bm9jb2xvbg=="}}}' >oci_auth_json/helpers
printf '%s' '{"ServerURL":"quay.io","Username":"user","Secret":"s3cr3t"}' >oci_auth_json/helper-answer
printf '%s' '{"token":"s3cr3t","access_token":"s3cr3t","expires_in":300}' >oci_auth_json/token

printf 'disk.qcow2.xz\0%s  disk.qcow2.xz\n%s *other.raw\n' "$hex" "$hex" >checksums/gnu
printf 'fedora.raw.xz\0-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n# fedora.raw.xz: 123 bytes\nSHA256 (fedora.raw.xz) = %s\n-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n' "$hex" >checksums/bsd-clearsigned
printf 'disk.img\0%s  images/disk.img\r\n%s  disk.img\r\n' "$hex" "$hex" >checksums/paths-crlf

(cd "$work" && mkdir -p t/sub && cp two.img t/disk.qcow2.xz && ln -sf disk.qcow2.xz t/link && cp two.img t/sub/other)
tar -C "$work/t" --owner=0 --group=0 --mtime=@0 -cf unwrap_tar/one.tar disk.qcow2.xz
tar -C "$work/t" --owner=0 --group=0 --mtime=@0 --no-recursion -cf - ./sub/ disk.qcow2.xz | gzip -n >unwrap_tar/dir-and-file.tar.gz
tar -C "$work/t" --owner=0 --group=0 --mtime=@0 -cf - disk.qcow2.xz | zstd -q >unwrap_tar/one.tar.zst
tar -C "$work/t" --owner=0 --group=0 --mtime=@0 -cf unwrap_tar/symlink.tar disk.qcow2.xz link
tar -C "$work/t" --owner=0 --group=0 --mtime=@0 -cf unwrap_tar/two-files.tar disk.qcow2.xz sub/other

cat >fcos_stream/stable.json <<JSON
{"stream":"stable","architectures":{"x86_64":{"artifacts":{"qemu":{"release":"40.20240416.3.1","formats":{"qcow2.xz":
{"disk":{"location":"https://builds.example/fcos-qemu.x86_64.qcow2.xz","sha256":"$hex"}}}},
"hyperv":{"release":"40.1","formats":{"vhdx.zip":{"disk":{"location":"https://b/h.vhdx.zip","sha256":"$hex"}}}}}},
"aarch64":{"artifacts":{"applehv":{"release":"40.1","formats":{"raw.gz":{"disk":{"location":"http://b/a.raw.gz","sha256":"$hex"}}}}}}}}
JSON
