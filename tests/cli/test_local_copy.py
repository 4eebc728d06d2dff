"""A local file that is already the disk (its first bytes name no compression: raw, qcow2) is
copied, not read and decoded (issue 17): a reflink (FICLONE) where the filesystem shares blocks,
else its data extents copied with copy_file_range (holes stay holes). Nothing is hashed unless a
digest is to be checked, so --json's digest is null; with --digest the copy hashes what it copies
(holes as zeros) and a wrong digest fails with nothing left behind. The XFS tests loop-mount an XFS
with reflink=1 (test_reflink.py's fixture; skipped without root or a loop device)."""
import hashlib
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import VMPULL, check_sanitizer_report, leftovers, run_vmpull
from test_reflink import shared_extents, xfs  # noqa: F401 (the fixture)

PROBE = os.environ.get("VMPULL_LIB_PROBE", str(Path(VMPULL).parent / "tests" / "lib" / "lib_probe"))
MIB = 1 << 20


def sparse_disk(path, seed=17):
    """A 96 MiB raw disk with three data runs and holes between them (a hole at its end too)."""
    rng = random.Random(seed)
    runs = [(0, rng.randbytes(MIB)), (40 * MIB, rng.randbytes(3 * MIB)), (81 * MIB + 4096, rng.randbytes(8192))]
    with open(path, "wb") as f:
        f.truncate(96 * MIB)
        for off, data in runs:
            f.seek(off)
            f.write(data)
    return path


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def blocks(path):
    return os.stat(path).st_blocks


def test_sparse_raw_is_copied_with_its_holes_and_no_digest(tmp_path):
    src = sparse_disk(tmp_path / "disk.raw")
    out = tmp_path / "out" / "disk.raw"
    out.parent.mkdir()
    got = run_vmpull("pull", "-q", "--json", "-o", out, src)
    assert got.rc == 0, got
    assert out.read_bytes() == src.read_bytes()
    assert blocks(out) <= blocks(src)  # the holes stayed holes
    assert got.json["format"] == "none"
    assert got.json["digest"] is None  # nothing asked to check it: not hashed
    assert got.json["size"] == got.json["fetched"] == 96 * MIB
    assert leftovers(out.parent) == ["disk.raw"]


def test_written_zeros_become_holes(tmp_path):
    """Zero blocks the source has allocated are not copied as data (as the decoders' sink and
    cp --sparse=always write them)."""
    src = sparse_disk(tmp_path / "disk.raw")
    with open(src, "r+b") as f:
        f.seek(60 * MIB)
        f.write(bytes(4 * MIB))
        os.fsync(f.fileno())
    out = tmp_path / "out.raw"
    got = run_vmpull("pull", "-q", "--json", "-o", out, src)
    assert got.rc == 0, got
    assert out.read_bytes() == src.read_bytes()
    assert blocks(out) * 512 <= blocks(src) * 512 - 4 * MIB


def test_digest_is_checked_while_copying(tmp_path):
    src = sparse_disk(tmp_path / "disk.raw")
    want = sha256_of(src)
    out = tmp_path / "good.raw"
    got = run_vmpull("pull", "-q", "--json", "--digest", want, "-o", out, src)
    assert got.rc == 0, got
    assert got.json["digest"] == want  # the holes were hashed as the zeros they read as
    assert out.read_bytes() == src.read_bytes()
    assert blocks(out) <= blocks(src)

    folder = tmp_path / "bad"
    folder.mkdir()
    wrong = "sha256:" + hashlib.sha256(b"another disk").hexdigest()
    got = run_vmpull("pull", "-q", "--json", "--digest", wrong, "-o", folder / "disk.raw", src)
    assert got.rc == 1, got
    assert got.json["error"]["code"] == "digest_mismatch"
    assert want in got.json["error"]["message"]
    assert leftovers(folder) == []


def test_qcow2_is_copied_as_it_is(tmp_path):
    qemu_img = shutil.which("qemu-img")
    if not qemu_img:
        pytest.skip("qemu-img missing")
    raw = sparse_disk(tmp_path / "disk.raw")
    src = tmp_path / "disk.qcow2"
    subprocess.run([qemu_img, "convert", "-f", "raw", "-O", "qcow2", str(raw), str(src)], check=True)
    out = tmp_path / "out.qcow2"
    got = run_vmpull("pull", "-q", "--json", "-o", out, src)
    assert got.rc == 0, got
    assert got.json["format"] == "none"
    assert got.json["digest"] is None
    assert out.read_bytes() == src.read_bytes()


def test_size_limit_holds_for_a_copy(tmp_path):
    src = sparse_disk(tmp_path / "disk.raw")
    folder = tmp_path / "out"
    folder.mkdir()
    got = run_vmpull("pull", "-q", "--json", "--max-size", str(96 * MIB - 1), "-o", folder / "disk.raw", src)
    assert got.rc == 1, got
    assert got.json["error"]["code"] == "limit"
    assert leftovers(folder) == []


def test_keep_uncompressed_still_keeps_a_local_disk(tmp_path):
    """keep_uncompressed keeps the decoded disk of a local file as of any source (the map it is
    checked by is recorded as the sink writes): that pull still reads and hashes it."""
    src = sparse_disk(tmp_path / "disk.raw")
    cache = tmp_path / "cache"
    got = run_vmpull("pull", "-q", "--json", "--cache-dir", cache, "--keep-uncompressed", "-o", tmp_path / "o.raw",
                     src)
    assert got.rc == 0, got
    assert got.json["digest"] == sha256_of(src)
    assert (cache / "disks" / "sha256" / got.json["digest"].split(":")[1]).exists()


def test_the_result_of_the_first_call_still_has_a_digest(tmp_path):
    """vmpull_pull's vmpull_result promised a digest since 0.1: its local copy hashes (lib_probe
    makes that call; its log hook shows the copy was the way)."""
    if not os.access(PROBE, os.X_OK):
        pytest.fail(f"tests/lib/lib_probe not built at {PROBE}")
    src = sparse_disk(tmp_path / "disk.raw")
    out = tmp_path / "out.raw"
    proc = subprocess.run([PROBE, "-l", str(src), str(out)], capture_output=True, text=True, timeout=120)
    check_sanitizer_report(proc.stderr, ())
    assert proc.returncode == 0, proc
    assert "log info disk.raw: format none, copied (no decoding)" in proc.stdout.splitlines()
    assert out.read_bytes() == src.read_bytes()
    assert blocks(out) <= blocks(src)


def test_on_xfs_the_copy_is_a_reflink(xfs):  # noqa: F811
    src = sparse_disk(xfs / "disk.raw")
    out = xfs / "machine.raw"
    got = run_vmpull("pull", "-q", "--json", "-o", out, src)
    assert got.rc == 0, got
    assert got.json["digest"] is None
    assert out.read_bytes() == src.read_bytes()
    assert shared_extents(out) > 0  # a clone shares the source's extents; a copy's are its own
    assert blocks(out) <= blocks(src)
    with open(out, "r+b") as f:  # copy-on-write: the source stays as it was
        f.write(b"changed")
    assert src.read_bytes()[:7] != b"changed"


def test_on_xfs_a_digest_is_checked_on_the_clone(xfs):  # noqa: F811
    src = sparse_disk(xfs / "disk.raw")
    want = sha256_of(src)
    out = xfs / "machine.raw"
    got = run_vmpull("pull", "-q", "--json", "--digest", want, "-o", out, src)
    assert got.rc == 0, got
    assert got.json["digest"] == want
    assert shared_extents(out) > 0
    assert out.read_bytes() == src.read_bytes()
    folder = xfs / "bad"
    folder.mkdir()
    wrong = "sha256:" + hashlib.sha256(b"another disk").hexdigest()
    got = run_vmpull("pull", "-q", "--json", "--digest", wrong, "-o", folder / "disk.raw", src)
    assert got.rc == 1 and got.json["error"]["code"] == "digest_mismatch", got
    assert leftovers(folder) == []


@pytest.mark.parametrize("how", ["-F", "-W", "-P"])
def test_pull_to_fd_of_a_local_disk(tmp_path, how):
    """vmpull_pull_to_fd: a regular file (read-write, or write-only) takes the copy; a pipe gets
    every byte in order, decoded as before (and so hashed)."""
    from test_outcome import probe
    src = sparse_disk(tmp_path / "disk.raw")
    out = tmp_path / "out.raw"
    got = probe(how, src, out)
    assert got["rc"] == 0, got
    assert out.read_bytes() == src.read_bytes()
    if how == "-P":
        assert got["digest"] == sha256_of(src)
    else:
        assert got["digest"] is None
        assert blocks(out) <= blocks(src)
