"""`vmpull pull --bmap FILE` (issue 18): the disk's block map in the XML format 2.0 that bmap-tools
3.6 reads, built while the disk is written. bmaptool itself is the judge: `bmaptool copy` accepts
the file (its BmapFileChecksum), writes a zeroed loop device identical to the disk, and fails on a
disk with one byte changed in a mapped range (each range's sha256). The map is published like the
output and only when the pull succeeds."""
import hashlib
import json
import lzma
import re
import shutil
import subprocess

import pytest

from conftest import leftovers, run_vmpull
from test_block_device import MIB, loop_device, make_disk, read_device  # noqa: F401 (the fixture)

BLOCK = 4096


@pytest.fixture(scope="module")
def bmaptool():
    path = shutil.which("bmaptool")
    if not path:
        pytest.fail("bmaptool is not installed (bmap-tools, scripts/install-deps test)")
    return path


@pytest.fixture
def image(tmp_path):
    raw = make_disk()
    src = tmp_path / "in" / "disk.raw.xz"
    src.parent.mkdir()
    src.write_bytes(lzma.compress(raw, preset=0))
    return raw, src


def pull(*args):
    return run_vmpull("pull", "--progress", "never", "--no-cache", *args)


def mapped_ranges(raw):
    """(first, last) block of each run of blocks holding a non-zero byte, as the bmap must list."""
    ranges, start = [], None
    blocks = (len(raw) + BLOCK - 1) // BLOCK
    for i in range(blocks + 1):
        data = i < blocks and any(raw[i * BLOCK:(i + 1) * BLOCK])
        if data and start is None:
            start = i
        elif not data and start is not None:
            ranges.append((start, i - 1))
            start = None
    return ranges


def test_the_bmap_says_what_the_disk_holds(image, tmp_path):
    """Read independently of bmaptool: sizes, every mapped range with the sha256 of its bytes, and
    the file's own checksum computed over the file with zeros in its place."""
    raw, src = image
    bmap = tmp_path / "disk.bmap"
    res = pull("-o", tmp_path / "disk.raw", "--bmap", bmap, src)
    assert res.rc == 0, res
    text = bmap.read_text()
    field = lambda name: re.search(rf"<{name}> *(\S+) *</{name}>", text).group(1)  # noqa: E731
    assert field("ImageSize") == str(len(raw))
    assert field("BlockSize") == "4096"
    assert field("BlocksCount") == str((len(raw) + BLOCK - 1) // BLOCK)
    assert field("ChecksumType") == "sha256"
    want = mapped_ranges(raw)
    assert field("MappedBlocksCount") == str(sum(last - first + 1 for first, last in want))
    got = [(int(m.group(2)), int(m.group(3) or m.group(2)), m.group(1))
           for m in re.finditer(r'<Range chksum="([0-9a-f]{64})"> (\d+)(?:-(\d+))? </Range>', text)]
    assert [(f, l) for f, l, _ in got] == want
    for first, last, digest in got:
        assert digest == hashlib.sha256(raw[first * BLOCK:(last + 1) * BLOCK]).hexdigest()
    checksum = field("BmapFileChecksum")
    assert hashlib.sha256(text.replace(checksum, "0" * 64).encode()).hexdigest() == checksum


def test_bmaptool_copy_writes_the_disk_onto_a_zeroed_device(image, tmp_path, loop_device, bmaptool):
    raw, src = image
    disk, bmap = tmp_path / "disk.raw", tmp_path / "disk.bmap"
    assert pull("-o", disk, "--bmap", bmap, src).rc == 0
    dev = loop_device(8 * MIB)
    proc = subprocess.run([bmaptool, "copy", "--bmap", str(bmap), str(disk), dev], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert read_device(dev, len(raw)) == raw
    assert read_device(dev, offset=len(raw)) == bytes(8 * MIB - len(raw))


def test_bmaptool_checks_each_range(image, tmp_path, bmaptool):
    """One byte changed in a mapped range of a copy of the disk: bmaptool refuses it."""
    raw, src = image
    disk, bmap = tmp_path / "disk.raw", tmp_path / "disk.bmap"
    assert pull("-o", disk, "--bmap", bmap, src).rc == 0
    first, last = mapped_ranges(raw)[1]
    bad = bytearray(raw)
    bad[first * BLOCK + 100] ^= 0x01
    damaged = tmp_path / "damaged.raw"
    damaged.write_bytes(bytes(bad))
    proc = subprocess.run([bmaptool, "copy", "--bmap", str(bmap), str(damaged), str(tmp_path / "copy.raw")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, proc.stderr
    assert "checksum mismatch" in proc.stderr, proc.stderr


@pytest.mark.parametrize("output", ["device", "stdout", "kept-disk"])
def test_the_bmap_is_the_disks_whatever_the_output(image, tmp_path, loop_device, nginx, output):
    """A device, stdout (a pipe), or a disk copied from the cache's kept disk: the same bmap as a
    pull into a file."""
    raw, src = image
    assert pull("-o", tmp_path / "ref.raw", "--bmap", tmp_path / "ref.bmap", src).rc == 0
    bmap = tmp_path / "out.bmap"
    if output == "device":
        res = pull("-o", loop_device(), "--bmap", bmap, src)
    elif output == "stdout":
        proc = subprocess.run(["sh", "-c", f'"$0" "$@" | cat > {tmp_path / "piped.raw"}', *res_args(
            "-q", "--no-cache", "-o", "-", "--bmap", bmap, src)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "piped.raw").read_bytes() == raw
    else:
        (nginx.root / "bmap").mkdir(exist_ok=True)
        shutil.copy(src, nginx.root / "bmap" / "disk.raw.xz")
        url = nginx.url("bmap/disk.raw.xz")
        args = ["--cache-dir", tmp_path / "cache", "--keep-uncompressed", "--json"]
        assert run_vmpull("pull", "-q", *args, "-o", tmp_path / "first.raw", url).rc == 0
        res = run_vmpull("pull", "-q", *args, "-o", tmp_path / "second.raw", "--bmap", bmap, url)
        assert res.rc == 0 and json.loads(res.stdout)["cache"] == "kept-disk", res
        assert (tmp_path / "second.raw").read_bytes() == raw
    if output == "device":
        assert res.rc == 0, res
    assert bmap.read_text() == (tmp_path / "ref.bmap").read_text()


def res_args(*args):
    from conftest import VMPULL
    return [VMPULL, "pull", *map(str, args)]


def test_no_bmap_when_the_pull_fails(image, tmp_path):
    raw, src = image
    out = tmp_path / "out"
    out.mkdir()
    res = pull("-o", out / "disk.raw", "--bmap", out / "disk.bmap", "--digest", "sha256:" + "0" * 64, src)
    assert res.rc == 1, res
    assert leftovers(out) == []


def test_an_existing_bmap_needs_replace(image, tmp_path):
    """Refused before the disk is written, like an existing output; replaced with --replace."""
    raw, src = image
    out = tmp_path / "out"
    out.mkdir()
    (out / "disk.bmap").write_text("an old map")
    res = pull("--json", "-o", out / "disk.raw", "--bmap", out / "disk.bmap", src)
    assert res.rc == 1, res
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "exists" and "bmap" in err["message"] and "disk.bmap" in err["message"], err
    assert leftovers(out) == ["disk.bmap"] and (out / "disk.bmap").read_text() == "an old map"
    res = pull("--replace", "-o", out / "disk.raw", "--bmap", out / "disk.bmap", src)
    assert res.rc == 0, res
    assert (out / "disk.bmap").read_text().startswith("<?xml")
    assert leftovers(out) == ["disk.bmap", "disk.raw"]


def test_a_local_raw_file_is_mapped_too(tmp_path):
    """A raw local file is otherwise cloned or copied by extents: with --bmap it goes through the
    sink, which builds the map."""
    raw = make_disk(5 * MIB, seed=5)
    src = tmp_path / "local.raw"
    src.write_bytes(raw)
    bmap = tmp_path / "local.bmap"
    assert pull("-o", tmp_path / "copy.raw", "--bmap", bmap, src).rc == 0
    assert (tmp_path / "copy.raw").read_bytes() == raw
    text = bmap.read_text()
    assert f"<MappedBlocksCount> {sum(l - f + 1 for f, l in mapped_ranges(raw))} </MappedBlocksCount>" in text
