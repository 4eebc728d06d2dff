"""--keep-uncompressed on a filesystem that clones: the second machine's disk is a reflink of the
kept one (FICLONE), sharing its extents, not a copy. Runs on an XFS (reflink=1) image the test
makes with mkfs.xfs and loop-mounts; that needs root and a loop device, else the test is skipped
with the reason."""
import gzip
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import run_vmpull


def shared_extents(path):
    """How many of the file's extents the filesystem reports as shared (filefrag -v)."""
    out = subprocess.run(["filefrag", "-v", str(path)], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if "shared" in line.split(":")[-1])


@pytest.fixture
def xfs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("reflink test: needs root to loop-mount an XFS image")
    mkfs = shutil.which("mkfs.xfs") or "/usr/sbin/mkfs.xfs"
    if not os.path.exists(mkfs):
        pytest.skip("reflink test: mkfs.xfs missing (Debian package xfsprogs)")
    image, mnt = tmp_path / "xfs.img", tmp_path / "mnt"
    with open(image, "wb") as f:
        f.truncate(512 << 20)
    subprocess.run([mkfs, "-q", "-m", "reflink=1", str(image)], check=True)
    mnt.mkdir()
    r = subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"reflink test: cannot loop-mount an XFS image here ({r.stderr.strip()})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_second_machine_is_a_reflink_of_the_kept_disk(xfs, nginx):
    rng = random.Random(11)
    raw = rng.randbytes(4 << 20) + bytes(8 << 20) + rng.randbytes(1 << 20)
    (nginx.root / "reflink.raw.gz").write_bytes(gzip.compress(raw, compresslevel=1))
    src = nginx.url("reflink.raw.gz")  # a URL: its cached digest names the kept disk without a read
    cache, machines = xfs / "cache", xfs / "machines"
    first = run_vmpull("pull", "-q", "--json", "--cache-dir", cache, "--keep-uncompressed", "--data-dir", machines,
                       "-n", "first", src)
    assert first.rc == 0, first
    kept = cache / "disks" / "sha256" / first.json["digest"].split(":")[1]
    assert kept.read_bytes() == raw
    # Keeping it cost no second copy either: the kept disk is a clone of the first machine's.
    assert shared_extents(kept) > 0
    second = run_vmpull("pull", "-q", "--json", "--cache-dir", cache, "--data-dir", machines, "-n", "second", src)
    assert second.rc == 0, second
    out = Path(second.json["path"])
    assert out.read_bytes() == raw
    # A clone: its extents are shared (a copy's would not be).
    assert shared_extents(out) > 0
    # Copy-on-write: changing the machine's disk leaves the kept one as it was.
    with open(out, "r+b") as f:
        f.write(b"changed")
    assert kept.read_bytes() == raw


@pytest.mark.parametrize("damage", ["flipped-bytes", "data-in-a-zero-chunk", "all-zero"])
def test_damaged_kept_disk_is_caught_in_the_clone(xfs, nginx, damage):
    """On a filesystem that clones, the reuse is the clone plus one read of its data chunks: a
    kept disk that changed since it was kept is caught there too, and the source decoded again."""
    rng = random.Random(12)
    raw = rng.randbytes(4 << 20) + bytes(8 << 20) + rng.randbytes(1 << 20)
    (nginx.root / f"damaged-{damage}.raw.gz").write_bytes(gzip.compress(raw, compresslevel=1))
    src = nginx.url(f"damaged-{damage}.raw.gz")
    cache, machines = xfs / "cache", xfs / "machines"
    first = run_vmpull("pull", "-q", "--json", "--cache-dir", cache, "--keep-uncompressed", "--data-dir", machines,
                       "-n", "first", src)
    assert first.rc == 0, first
    kept = cache / "disks" / "sha256" / first.json["digest"].split(":")[1]
    with open(kept, "r+b") as f:
        if damage == "flipped-bytes":
            f.seek(2 << 20)
            f.write(b"tampered")
        elif damage == "data-in-a-zero-chunk":
            f.seek(7 << 20)
            f.write(b"\1")
        else:
            f.truncate(0)
            f.truncate(len(raw))
    second = run_vmpull("pull", "-q", "--json", "--cache-dir", cache, "--data-dir", machines, "-n", "second", src)
    assert second.rc == 0, second
    assert Path(second.json["path"]).read_bytes() == raw
    assert f"kept disk {cache}/disks/sha256/{kept.name}" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1, second.stderr
    assert not kept.exists()
