#!/usr/bin/env python3
"""libvmpull exports exactly what include/vmpull.h declares VMPULL_PUBLIC, each under a
VMPULL_* version node of lib/libvmpull.sym, and its SONAME is libvmpull.so.0.

usage: check-exports.py LIBRARY HEADER MAPFILE
"""
import re
import subprocess
import sys

lib, header, mapfile = sys.argv[1:4]
failures = []

text = open(header).read()
text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)  # the macro's own definition
declared = set(re.findall(r"VMPULL_PUBLIC\b[^;{(]*?\b([a-z_][a-z0-9_]*)\s*\(", text))

mapped = set()
for node, body in re.findall(r"(VMPULL_[0-9.]+)\s*\{(.*?)\}", open(mapfile).read(), flags=re.S):
    m = re.search(r"global:(.*?)(local:|$)", body, flags=re.S)
    if m:
        mapped |= {s.strip() for s in m.group(1).replace("\n", " ").split(";") if s.strip()}

nm = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True, check=True).stdout
exported, unversioned = set(), set()
for line in nm.splitlines():
    parts = line.split()
    if len(parts) < 3 or parts[1] == "A":  # "A VMPULL_0.1": the version node itself
        continue
    name, _, version = parts[2].partition("@")
    exported.add(name)
    if not version.lstrip("@").startswith("VMPULL_"):
        unversioned.add(name)

if not declared:
    failures.append(f"no VMPULL_PUBLIC declarations found in {header}")
for name in sorted(exported - declared):
    failures.append(f"{name}: exported but not declared in the header")
for name in sorted(declared - exported):
    failures.append(f"{name}: declared VMPULL_PUBLIC but not exported")
for name in sorted(declared ^ mapped):
    failures.append(f"{name}: in only one of the header and {mapfile}")
for name in sorted(unversioned):
    failures.append(f"{name}: exported without a VMPULL_* symbol version")

dyn = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True, check=True).stdout
if "Library soname: [libvmpull.so.0]" not in dyn:
    failures.append("SONAME is not libvmpull.so.0")

for f in failures:
    print(f"check-exports: {f}", file=sys.stderr)
print(f"check-exports: {len(exported)} symbols exported, {len(declared)} declared")
sys.exit(1 if failures else 0)
