"""The streaming pipeline on local files (issue 2): every codec on real files made by the real tools,
multi-block/stream/member/frame variants, the naming rule, options, JSON output, progress, signals,
and every failure leaving one clear line, the right exit status and error code, and nothing behind."""
import hashlib
import json
import lzma
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ROOT, VMPULL, check_sanitizer_report, leftovers, run_vmpull

MIB = 1 << 20
MACHINE = "podman-machine-default"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def make_disk():
    """A disk-like image: incompressible data, zero runs (holes), text, and trailing zeros
    ending off a block boundary. About 5 MiB, so multi-block xz gets several 1 MiB blocks."""
    rnd = random.Random(2)
    text = b"".join(b"line %d of a config file with some words in it\n" % i for i in range(12000))
    parts = [
        rnd.randbytes(256 * 1024),
        bytes(768 * 1024),
        text[: 512 * 1024],
        bytes(2 * MIB),
        rnd.randbytes(5000),
    ]
    disk = b"".join(parts)
    return disk + bytes(5 * MIB + 123 - len(disk))


DATA_BYTES = 256 * 1024 + 512 * 1024 + 8192  # bytes in blocks that hold any non-zero byte


def tool(*cmd, stdin=None):
    """Run a compressor; returns its stdout bytes."""
    proc = subprocess.run(cmd, input=stdin, capture_output=True, check=True)
    return proc.stdout


# name -> (format, maker(raw, folder) -> bytes). Every file is made by the real tool.
def _zip(folder, entries, name="disk.raw", stream=False):
    work = folder / ("zipwork-" + name)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    for entry, data in entries:
        p = work / entry
        if data is None:
            p.mkdir(parents=True, exist_ok=True)
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
    if stream:
        # `zip - -` reads stdin and writes stdout: sizes only in data descriptors, as a pipe makes them.
        return tool("zip", "-q", "-", "-", stdin=entries[0][1])
    out = folder / (name + ".zip-built")
    subprocess.run(["zip", "-q", "-r", str(out), *[e for e, _ in entries]], cwd=work, check=True)
    data = out.read_bytes()
    out.unlink()
    return data


def _halves(raw):
    return raw[: len(raw) // 2 + 777], raw[len(raw) // 2 + 777 :]


def _skippable_zstd_frame(payload=b"vmpull skippable frame"):
    return (0x184D2A5A).to_bytes(4, "little") + len(payload).to_bytes(4, "little") + payload


VARIANTS = {
    # file name: (format in JSON, output name after the naming rule, maker)
    "disk.raw": ("none", "disk.raw", lambda raw, d: raw),
    "disk.raw.xz": ("xz", "disk.raw", lambda raw, d: tool("xz", "-T1", "-3", "-c", stdin=raw)),
    "disk-mb.raw.xz": ("xz", "disk-mb.raw", lambda raw, d: tool("xz", "-T2", "--block-size=1MiB", "-c", stdin=raw)),
    # Two streams with stream padding between and after them (multiples of 4 zero bytes).
    "disk-ms.raw.xz": (
        "xz",
        "disk-ms.raw",
        lambda raw, d: tool("xz", "-1", "-c", stdin=_halves(raw)[0])
        + bytes(8)
        + tool("xz", "-1", "--check=sha256", "-c", stdin=_halves(raw)[1])
        + bytes(4),
    ),
    "disk.raw.gz": ("gzip", "disk.raw", lambda raw, d: tool("gzip", "-1", "-c", stdin=raw)),
    # Three members, one with a file name and comment in its header, then zero padding.
    "disk-mm.raw.gz": (
        "gzip",
        "disk-mm.raw",
        lambda raw, d: tool("gzip", "-c", stdin=raw[:1000])
        + _named_gzip_member(raw[1000 : 3 * MIB], d)
        + tool("gzip", "-9", "-c", stdin=raw[3 * MIB :])
        + bytes(1000),
    ),
    "disk.raw.zst": ("zstd", "disk.raw", lambda raw, d: tool("zstd", "-q", "-c", stdin=raw)),
    "disk-mf.raw.zst": (
        "zstd",
        "disk-mf.raw",
        lambda raw, d: tool("zstd", "-q", "-1", "-c", stdin=_halves(raw)[0])
        + _skippable_zstd_frame()
        + tool("zstd", "-q", "-19", "-c", stdin=_halves(raw)[1]),
    ),
    # From a pipe, so the frame declares the full 2 GiB window instead of one sized to the input.
    "disk-long.raw.zst": ("zstd", "disk-long.raw", lambda raw, d: tool("zstd", "-q", "--long=31", "-1", "-c", stdin=raw)),
    "disk.raw.bz2": ("bzip2", "disk.raw", lambda raw, d: tool("bzip2", "-1", "-c", stdin=raw)),
    "disk-ms.raw.bz2": (
        "bzip2",
        "disk-ms.raw",
        lambda raw, d: tool("bzip2", "-1", "-c", stdin=_halves(raw)[0]) + tool("bzip2", "-9", "-c", stdin=_halves(raw)[1]),
    ),
    "disk.raw.zip": ("zip", "disk.raw", lambda raw, d: _zip(d, [("disk.raw", raw)])),
    "disk-dir.raw.zip": ("zip", "disk-dir.raw", lambda raw, d: _zip(d, [("images/", None), ("images/disk.raw", raw)], "dir")),
    "disk-stream.raw.zip": ("zip", "disk-stream.raw", lambda raw, d: _zip(d, [("-", raw)], "stream", stream=True)),
    "disk.raw.lzma": ("lzma", "disk.raw", lambda raw, d: tool("xz", "--format=lzma", "-1", "-c", stdin=raw)),
    "disk.raw.lz": ("lzip", "disk.raw", lambda raw, d: tool("lzip", "-1", "-c", stdin=raw)),
    "disk-mm.raw.lz": (
        "lzip",
        "disk-mm.raw",
        lambda raw, d: tool("lzip", "-1", "-c", stdin=_halves(raw)[0]) + tool("lzip", "-3", "-c", stdin=_halves(raw)[1]),
    ),
    # Suffixes compare case-insensitively, for detection and for the naming rule.
    "DISK.RAW.XZ": ("xz", "DISK.RAW", lambda raw, d: tool("xz", "-1", "-c", stdin=raw)),
    "Disk.Raw.Gz": ("gzip", "Disk.Raw", lambda raw, d: tool("gzip", "-1", "-c", stdin=raw)),
}


def _named_gzip_member(data, folder):
    src = folder / "member name.raw"
    src.write_bytes(data)
    subprocess.run(["gzip", "-k", "-f", "-N", str(src)], check=True)
    out = Path(str(src) + ".gz").read_bytes()
    src.unlink()
    Path(str(src) + ".gz").unlink()
    return out


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    raw = make_disk()
    files = {}
    for name, (_fmt, _out, maker) in VARIANTS.items():
        path = folder / name
        path.write_bytes(maker(raw, folder))
        files[name] = path
    return raw, files


@pytest.fixture
def env(tmp_path):
    """A private XDG data home, so that no test can write into the real one."""
    xdg = tmp_path / "xdg"
    return {"XDG_DATA_HOME": str(xdg), "XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path / "home")}


def pull(*args, env, **kw):
    return run_vmpull("pull", *args, env=env, **kw)


def data_dir(env, provider="qemu"):
    return Path(env["XDG_DATA_HOME"]) / "vmpull" / provider


def vmpull_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("vmpull:")]


def expect_failure(args, env, code, rc=1, names=(), folder=None, cwd=None):
    """Run a pull that must fail: exit status rc, one "vmpull: " line naming each of names,
    the JSON error code, the same message in both, and nothing left in folder."""
    res = pull("--json", "-q", *args, env=env, cwd=cwd)
    assert res.rc == rc, res
    doc = json.loads(res.stdout)
    assert list(doc) == ["error"], res.stdout
    assert doc["error"]["code"] == code, res
    assert res.stdout.count("\n") == 1, res.stdout
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0] == "vmpull: " + doc["error"]["message"], res
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    if folder is not None:
        assert leftovers(folder) == [], leftovers(folder)
    return lines[0]


# --- every codec ------------------------------------------------------------------------------


def test_fixture_variants_are_what_they_claim(images):
    """The special variants really have the structure they are named for (else the tests below prove less)."""
    _raw, files = images
    def streams_blocks(path):
        listing = subprocess.run(["xz", "--robot", "--list", str(path)], capture_output=True, text=True, check=True)
        fields = next(line for line in listing.stdout.splitlines() if line.startswith("file\t")).split("\t")
        return int(fields[1]), int(fields[2])

    assert streams_blocks(files["disk-mb.raw.xz"]) == (1, 6)
    assert streams_blocks(files["disk-ms.raw.xz"]) == (2, 2)
    # The --long=31 frame cannot be decoded with zstd's default window limit.
    plain = subprocess.run(["zstd", "-q", "-dc", str(files["disk-long.raw.zst"])], capture_output=True)
    assert plain.returncode != 0
    assert b"--long" in plain.stderr or b"memory" in plain.stderr.lower()
    assert files["disk-mm.raw.gz"].read_bytes().endswith(bytes(1000))
    assert files["disk-stream.raw.zip"].read_bytes()[6] & 0x08  # general purpose flag: data descriptor


@pytest.mark.parametrize("name", list(VARIANTS))
def test_codec(images, env, name):
    raw, files = images
    fmt, out_name, _ = VARIANTS[name]
    src = files[name]
    res = pull("--json", "--data-dir", data_dir(env), "--threads", "2", src, env=env)
    assert res.rc == 0, res
    doc = res.json
    expected_path = data_dir(env) / f"{MACHINE}_{out_name}"
    assert doc["path"] == str(expected_path)
    assert doc["format"] == fmt
    assert doc["source"] == str(src)
    # (an uncompressed local file is copied, not hashed, when no digest is to be checked: issue 17)
    assert doc["digest"] == (None if fmt == "none" else "sha256:" + sha256(src.read_bytes()))
    assert doc["size"] == len(raw)
    out = Path(doc["path"])
    got = out.read_bytes()
    assert len(got) == len(raw)
    assert got == raw
    st = out.stat()
    assert doc["allocated"] == st.st_blocks * 512
    # Sparse: the zero runs are holes (a little slack for filesystem metadata).
    assert doc["allocated"] <= DATA_BYTES + 256 * 1024, doc
    assert leftovers(data_dir(env)) == [out.name]


def test_multi_block_xz_same_with_any_thread_count(images, tmp_path, env):
    raw, files = images
    for threads in ("1", "2", "4"):
        out = tmp_path / f"out-{threads}.raw"
        res = pull("-q", "--threads", threads, "-o", out, files["disk-mb.raw.xz"], env=env)
        assert res.rc == 0, res
        assert out.read_bytes() == raw


def test_plain_zeros_stay_in_the_size(tmp_path, env):
    """An image that ends in zeros keeps them (as holes) in its size: podman's sample-withzeros case."""
    for data in (b"xz\n" + bytes(7), bytes(3 * MIB + 5), b"x" + bytes(4095)):
        src = tmp_path / "zeros.raw.xz"
        src.write_bytes(lzma.compress(data))
        out = tmp_path / "zeros.raw"
        res = pull("-q", "--replace", "-o", out, src, env=env)
        assert res.rc == 0, res
        assert out.stat().st_size == len(data)
        assert out.read_bytes() == data


@pytest.mark.parametrize("ext,cmd", [(".xz", ["xz", "-0"]), (".gz", ["gzip", "-1"]), (".zst", ["zstd", "-q", "-1"]),
                                     (".bz2", ["bzip2", "-1"]), (".lz", ["lzip", "-0"])])
def test_size_a_multiple_of_the_decode_buffer(tmp_path, env, ext, cmd):
    """Images whose size is an exact multiple of the decoders' 4 MiB output buffer (most disks):
    the last decode call fills the buffer exactly, with nothing left but the end of the stream."""
    rnd = random.Random(5)
    for data in (rnd.randbytes(64 * 1024) + bytes(4 * MIB - 64 * 1024), bytes(8 * MIB - 5) + b"tail!"):
        src = tmp_path / ("exact.raw" + ext)
        src.write_bytes(tool(*cmd, "-c", stdin=data))
        out = tmp_path / "exact.raw"
        res = pull("-q", "--replace", "-o", out, src, env=env)
        assert res.rc == 0, res
        assert out.read_bytes() == data


# --- zip rules --------------------------------------------------------------------------------


def test_zip_with_two_files(tmp_path, env):
    src = tmp_path / "two.zip"
    src.write_bytes(_zip(tmp_path, [("a.raw", b"A" * 5000), ("b.raw", b"B" * 5000)], "two"))
    out_dir = data_dir(env)
    msg = expect_failure(["--data-dir", out_dir, src], env, "corrupt", names=[src], folder=out_dir)
    assert "zip archive must contain exactly one file (found 2)" in msg


def test_zip_with_only_a_directory(tmp_path, env):
    src = tmp_path / "dir-only.zip"
    src.write_bytes(_zip(tmp_path, [("images/", None)], "dironly"))
    out_dir = data_dir(env)
    msg = expect_failure(["--data-dir", out_dir, src], env, "corrupt", names=[src], folder=out_dir)
    assert "zip archive must contain exactly one file (found 0)" in msg


# --- corrupt, truncated, empty and other bad input --------------------------------------------

CHECKED = ["disk.raw.xz", "disk-mb.raw.xz", "disk.raw.gz", "disk-mm.raw.gz", "disk.raw.zst", "disk.raw.bz2",
           "disk.raw.zip", "disk.raw.lz"]


@pytest.mark.parametrize("name", CHECKED)
def test_corrupt(images, tmp_path, env, name):
    _raw, files = images
    data = bytearray(files[name].read_bytes())
    # Flip bits in the middle of the compressed data (inside the incompressible first quarter of the disk).
    at = min(len(data) // 8 + 100, len(data) - 64)
    for i in range(at, at + 16):
        data[i] ^= 0x55
    src = tmp_path / name
    src.write_bytes(bytes(data))
    out_dir = data_dir(env)
    msg = expect_failure(["--data-dir", out_dir, src], env, "corrupt", names=[src], folder=out_dir)
    assert ": decompress: " in msg


# Bytes of valid padding at the end of a variant: cutting into them is not a truncation.
TRAILING_PADDING = {"disk-mm.raw.gz": 1000, "disk-ms.raw.xz": 4}


@pytest.mark.parametrize("name", [n for n in VARIANTS if n != "disk.raw"])
def test_truncated(images, tmp_path, env, name):
    _raw, files = images
    data = files[name].read_bytes()
    end = len(data) - TRAILING_PADDING.get(name, 0)
    src = tmp_path / name
    for cut in (10, end // 2, end - 1):
        src.write_bytes(data[:cut])
        out_dir = data_dir(env)
        expect_failure(["--data-dir", out_dir, src], env, "corrupt", names=[src], folder=out_dir)


@pytest.mark.parametrize("name", ["disk.raw", "disk.raw.xz", "disk.raw.zip", "disk.raw.lzma", "disk.qcow2"])
def test_empty_input(tmp_path, env, name):
    src = tmp_path / name
    src.write_bytes(b"")
    out_dir = data_dir(env)
    msg = expect_failure(["--data-dir", out_dir, src], env, "corrupt", names=[name], folder=out_dir)
    assert "empty" in msg


@pytest.mark.parametrize("suffix,fmt", [(".xz", "xz"), (".gz", "gzip"), (".zst", "zstd"), (".bz2", "bzip2"), (".lz", "lzip")])
def test_mislabelled_suffix(images, tmp_path, env, suffix, fmt):
    """An uncompressed image under a compression suffix is a corrupt or mislabelled download."""
    raw, _ = images
    src = tmp_path / ("disk.raw" + suffix.upper())
    src.write_bytes(raw[: 64 * 1024])
    out_dir = data_dir(env)
    msg = expect_failure(["--data-dir", out_dir, src], env, "corrupt", names=[src.name], folder=out_dir)
    assert f"name says {fmt}" in msg


def test_trailing_garbage(images, tmp_path, env):
    _raw, files = images
    for name, tail in (("disk.raw.xz", b"garbage!"), ("disk.raw.gz", bytes(100) + b"\x01"), ("disk.raw.zst", b"junk")):
        src = tmp_path / name
        src.write_bytes(files[name].read_bytes() + tail)
        out_dir = data_dir(env)
        expect_failure(["--data-dir", out_dir, src], env, "corrupt", names=[src], folder=out_dir)


def test_directory_as_input(tmp_path, env):
    src = tmp_path / "images.raw"
    src.mkdir()
    out_dir = data_dir(env)
    msg = expect_failure(["--data-dir", out_dir, src], env, "usage", rc=2, names=[src])
    assert "directory" in msg
    assert not out_dir.exists() or leftovers(out_dir) == []


def test_missing_file(tmp_path, env):
    src = tmp_path / "nowhere" / "disk.raw.xz"
    out_dir = data_dir(env)
    msg = expect_failure(["--data-dir", out_dir, src], env, "not_found", names=[src])
    assert "No such file" in msg
    assert not out_dir.exists()


def test_unknown_scheme(env):
    msg = expect_failure(["ftp://example.com/disk.raw.xz"], env, "usage", rc=2, names=["ftp://"])
    assert "unsupported source scheme" in msg


def unprivileged_prefix():
    """As root, permissions do not stop writes: run as nobody (setpriv, util-linux)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("running as root without setpriv: cannot make a folder unwritable")
    prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    if subprocess.run([*prefix, VMPULL, "--version"], capture_output=True).returncode != 0:
        pytest.skip(f"user nobody cannot run {VMPULL} (a folder on its path is private)")
    return prefix


def test_unwritable_data_dir(images, env):
    _raw, files = images
    # A world-traversable folder, so that an unprivileged run can reach the input.
    base = Path(tempfile.mkdtemp(prefix="vmpull-ro-"))
    readonly = base / "ro"
    try:
        os.chmod(base, 0o755)
        src = base / "disk.raw.xz"
        shutil.copy(files["disk.raw.xz"], src)
        os.chmod(src, 0o644)
        readonly.mkdir()
        os.chmod(readonly, 0o555)
        # A cache the unprivileged run may write to, so that only the data dir is refused.
        (base / "cache").mkdir()
        os.chmod(base / "cache", 0o777)
        env = {**env, "XDG_CACHE_HOME": str(base / "cache")}
        # The data dir exists but is read-only; or it must be created inside a read-only folder.
        for target, shown in ((readonly, readonly), (readonly / "sub" / "dir", readonly / "sub")):
            cmd = [*unprivileged_prefix(), VMPULL, "pull", "--json", "-q", "--data-dir", str(target), str(src)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, timeout=60)
            assert proc.returncode == 1, (proc.stdout, proc.stderr)
            assert json.loads(proc.stdout)["error"]["code"] == "io"
            lines = proc.stderr.splitlines()
            assert len(lines) == 1 and str(shown) in lines[0] and "Permission denied" in lines[0], proc.stderr
            assert leftovers(readonly) == []
    finally:
        if readonly.exists():
            os.chmod(readonly, 0o755)
        shutil.rmtree(base)


def test_data_dir_is_a_file(images, tmp_path, env):
    _raw, files = images
    not_dir = tmp_path / "file"
    not_dir.write_text("x")
    msg = expect_failure(["--data-dir", not_dir, files["disk.raw.gz"]], env, "io", names=[not_dir])
    assert not_dir.read_text() == "x"
    assert msg


def test_output_exists(images, tmp_path, env):
    _raw, files = images
    out = tmp_path / "out" / "disk.raw"
    out.parent.mkdir()
    out.write_bytes(b"keep me")
    before = out.stat()
    msg = expect_failure(["-o", out, files["disk.raw.xz"]], env, "exists", names=[out])
    assert "--replace" in msg
    assert out.read_bytes() == b"keep me"
    assert out.stat().st_mtime_ns == before.st_mtime_ns and out.stat().st_ino == before.st_ino
    assert leftovers(out.parent) == ["disk.raw"]
    # Same through the naming rule.
    existing = data_dir(env) / f"{MACHINE}_disk.raw"
    existing.parent.mkdir(parents=True)
    existing.write_bytes(b"keep me too")
    expect_failure(["--data-dir", data_dir(env), files["disk.raw.xz"]], env, "exists", names=[existing])
    assert existing.read_bytes() == b"keep me too"
    assert leftovers(data_dir(env)) == [existing.name]


def test_max_size(images, tmp_path, env):
    _raw, files = images
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    msg = expect_failure(["--max-size", "1M", "-o", out_dir / "d.raw", files["disk.raw.zst"]], env, "limit",
                         folder=out_dir)
    assert "size limit" in msg


# --- options ----------------------------------------------------------------------------------


def test_replace(images, tmp_path, env):
    raw, files = images
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "disk.raw"
    out.write_bytes(b"old")
    res = pull("-q", "--replace", "-o", out, files["disk.raw.gz"], env=env)
    assert res.rc == 0, res
    assert res.stdout == f"{out}\n"
    assert out.read_bytes() == raw
    # Again, over the pulled file; and a failed --replace pull leaves the old file alone.
    assert pull("-q", "--replace", "-o", out, files["disk.raw.xz"], env=env).rc == 0
    bad = tmp_path / "bad.raw.xz"
    bad.write_bytes(files["disk.raw.xz"].read_bytes()[:5000])
    expect_failure(["--replace", "-o", out, bad], env, "corrupt", names=[bad])
    assert out.read_bytes() == raw
    assert leftovers(folder) == ["disk.raw"]


def test_digest(images, tmp_path, env):
    raw, files = images
    src = files["disk.raw.bz2"]
    good = "sha256:" + sha256(src.read_bytes())
    out = tmp_path / "out" / "disk.raw"
    out.parent.mkdir()
    res = pull("--json", "-q", "--digest", good, "-o", out, src, env=env)
    assert res.rc == 0, res
    assert res.json["digest"] == good
    assert out.read_bytes() == raw
    out.unlink()
    wrong = "sha256:" + sha256(b"something else")
    msg = expect_failure(["--digest", wrong, "-o", out, src], env, "digest_mismatch", names=[src, wrong, good],
                         folder=out.parent)
    assert "digest mismatch" in msg
    # Also when the decoder stops before the end of the source (the rest still counts).
    zip_src = files["disk.raw.zip"]
    res = pull("-q", "--digest", "sha256:" + sha256(zip_src.read_bytes()), "-o", out, zip_src, env=env)
    assert res.rc == 0, res
    out.unlink()
    for malformed in ("sha256:XYZ", "md5:" + "0" * 32, "sha256:" + "A" * 64, "0" * 64):
        msg = expect_failure(["--digest", malformed, "-o", out, src], env, "usage", rc=2, folder=out.parent)
        assert malformed in msg


def test_output_option(images, tmp_path, env):
    raw, files = images
    out = tmp_path / "exact name.img"
    res = pull("-q", "-o", out, files["disk.raw.zst"], env=env)
    assert res.rc == 0, res
    assert res.stdout == f"{out}\n"
    assert out.read_bytes() == raw
    assert not Path(env["XDG_DATA_HOME"]).exists()  # -o: no data dir made
    missing = tmp_path / "no" / "such" / "dir" / "x.raw"
    msg = expect_failure(["-o", missing, files["disk.raw.zst"]], env, "not_found", names=[missing.parent])
    assert msg


def test_naming_rule_default_xdg(images, env):
    raw, files = images
    res = pull("-q", files["disk.raw.xz"], env=env)
    assert res.rc == 0, res
    expected = Path(env["XDG_DATA_HOME"]) / "vmpull" / "qemu" / f"{MACHINE}_disk.raw"
    assert res.stdout == f"{expected}\n"
    assert expected.read_bytes() == raw
    # The data folder is created, private to the user.
    assert stat.S_IMODE(expected.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(expected.stat().st_mode) == 0o644


def test_naming_rule_home_fallback_name_and_provider(images, tmp_path):
    raw, files = images
    home = tmp_path / "home"
    env = {"HOME": str(home), "XDG_DATA_HOME": ""}
    res = pull("-q", "-n", "dev", "--provider", "wsl", files["disk.raw.zst"], env=env)
    assert res.rc == 0, res
    expected = home / ".local" / "share" / "vmpull" / "wsl" / "dev_disk.raw"
    assert res.stdout == f"{expected}\n"
    assert expected.read_bytes() == raw


def test_local_path_shapes(images, tmp_path, env):
    """Windows-style names, colons and file: lookalikes are local paths; file:// is one too."""
    raw, files = images
    work = tmp_path / "cwd"
    work.mkdir()
    shutil.copy(files["disk.raw.gz"], work / "C:\\img.vhdx.gz")
    shutil.copy(files["disk.raw.gz"], work / "name:with:colons.raw.gz")
    shutil.copy(files["disk.raw.gz"], work / "file:disk.raw.gz")
    cases = [
        ("C:\\img.vhdx.gz", f"{MACHINE}_img.vhdx"),
        ("name:with:colons.raw.gz", f"{MACHINE}_name:with:colons.raw"),
        ("file:disk.raw.gz", f"{MACHINE}_file:disk.raw"),
        (f"file://{files['disk.raw.gz']}", f"{MACHINE}_disk.raw"),
    ]
    for source, out_name in cases:
        res = pull("-q", "--replace", "--data-dir", data_dir(env), source, env=env, cwd=work)
        assert res.rc == 0, (source, res)
        assert res.stdout == f"{data_dir(env) / out_name}\n", source
        assert (data_dir(env) / out_name).read_bytes() == raw


def test_json_fields(images, tmp_path, env):
    raw, files = images
    src = files["disk-mb.raw.xz"]
    out = tmp_path / "d.raw"
    res = pull("--json", "-o", out, src, env=env)
    assert res.rc == 0, res
    assert res.stdout.count("\n") == 1
    doc = res.json
    for key in ("path", "source", "format", "digest", "size", "allocated"):
        assert key in doc, key
    assert doc["path"] == str(out)
    assert doc["source"] == str(src)
    assert doc["format"] == "xz"
    assert doc["digest"] == "sha256:" + sha256(src.read_bytes())
    assert doc["size"] == len(raw) == out.stat().st_size
    assert doc["allocated"] == out.stat().st_blocks * 512
    assert doc["allocated"] < doc["size"]


def pull_raw(*args, env):
    """Like pull(), but stderr as bytes: text mode would turn the carriage returns into newlines."""
    proc = subprocess.run([VMPULL, "pull", *[str(a) for a in args]], capture_output=True, env={**os.environ, **env},
                          timeout=120)
    return proc.returncode, proc.stdout.decode(), proc.stderr


def test_progress_plain_lines_when_not_a_tty(images, tmp_path, env):
    _raw, files = images
    rc, stdout, stderr = pull_raw("-o", tmp_path / "d.raw", files["disk.raw.xz"], env=env)
    assert rc == 0, stderr
    assert b"\r" not in stderr and b"\x1b" not in stderr
    lines = stderr.decode().splitlines()
    assert lines, "no progress at all"
    assert all(line.startswith("disk.raw.xz") for line in lines), lines
    assert "5.0 MiB" in lines[-1], lines  # the last line: the disk's size when done
    assert stdout == f"{tmp_path / 'd.raw'}\n"


def test_progress_modes(images, tmp_path, env):
    _raw, files = images
    for args in (["-q"], ["--quiet"], ["--progress=never"], ["--progress", "always", "-q"]):
        rc, _stdout, stderr = pull_raw(*args, "--replace", "-o", tmp_path / "d.raw", files["disk.raw.gz"], env=env)
        assert rc == 0, (args, stderr)
        assert stderr == b"", (args, stderr)
    # Forced terminal mode redraws in place and ends with a done line.
    rc, _stdout, stderr = pull_raw("--progress=always", "--replace", "-o", tmp_path / "d.raw", files["disk.raw.gz"],
                                   env=env)
    assert rc == 0, stderr
    assert stderr.startswith(b"\r") and stderr.endswith(b"\n") and stderr.count(b"\n") == 1, stderr
    assert b"5.0 MiB" in stderr.split(b"\r")[-1], stderr
    # -q silences progress, not warnings or errors.
    bad = tmp_path / "bad.raw.gz"
    bad.write_bytes(b"\x1f\x8b\x08")
    res = pull("-q", "-o", tmp_path / "e.raw", bad, env=env)
    assert res.rc == 1 and len(vmpull_lines(res.stderr)) == 1


def test_failure_with_progress_is_still_one_error_line(images, tmp_path, env):
    """Without -q the progress lines come first; the error is exactly one "vmpull:" line, the last."""
    _raw, files = images
    bad = tmp_path / "bad.raw.xz"
    bad.write_bytes(files["disk.raw.xz"].read_bytes()[:-100])
    rc, stdout, stderr = pull_raw("--data-dir", data_dir(env), bad, env=env)
    assert rc == 1
    assert stdout == ""
    assert b"\r" not in stderr
    errors = vmpull_lines(stderr.decode())
    assert len(errors) == 1 and stderr.decode().splitlines()[-1] == errors[0]
    assert errors[0].startswith(f"vmpull: pull {bad}: decompress: xz: ")
    assert leftovers(data_dir(env)) == []


# --- signals ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_inputs(tmp_path_factory):
    """Gigabytes of zeros from a file of a few hundred KiB (concatenated xz streams or zstd frames):
    seconds to decode, into a sparse output that costs no disk space. The whole file arrives in
    the first read, and it ends in garbage: a pull that only noticed the signal between reads
    would decode it all and fail as corrupt, so "cancelled" proves the decoder stopped mid-stream."""
    folder = tmp_path_factory.mktemp("big")
    xz_path = folder / "big.raw.xz"
    garbage = b"this is not a frame: it is garbage"  # longer than any frame header a decoder gathers
    xz_path.write_bytes(lzma.compress(bytes(8 * MIB), preset=0) * 160 + garbage)  # 1.25 GiB
    zst_path = folder / "big.raw.zst"
    zst_path.write_bytes(tool("zstd", "-1", "-q", "-c", stdin=bytes(64 * MIB)) * 64 + garbage)  # 4 GiB
    return {"xz": xz_path, "zstd": zst_path}


def read_bytes(pid):
    try:
        io = Path(f"/proc/{pid}/io").read_text()
    except PermissionError:
        return 1 << 62  # not readable here: signal at once, which still interrupts the pull
    except OSError:
        return 0
    return int(next((line.split()[1] for line in io.splitlines() if line.startswith("rchar:")), "0"))


def input_position(pid, path):
    """How far the process has read into path (its fd's offset). Not /proc/PID/io's rchar alone:
    under ASan the runtime reads megabytes of /proc/self/maps before main() installs the handlers."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                    info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
                    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("pos:")))
            except (OSError, StopIteration):
                continue
    except PermissionError:
        return read_bytes(pid)
    except OSError:
        return 0
    return 0


@pytest.mark.parametrize("codec,sig,rc", [("xz", signal.SIGINT, 130), ("xz", signal.SIGTERM, 143),
                                          ("zstd", signal.SIGINT, 130)])
def test_signal_during_pull(big_inputs, tmp_path, env, codec, sig, rc):
    big = big_inputs[codec]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen(
        [VMPULL, "pull", "--json", "--threads", "1", "--progress=never", "--no-cache", "-o", str(out_dir / "big.raw"),
         str(big)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env},
    )
    try:
        # Signal once decoding is under way: the first chunk of input has been read
        # (the temporary is unnamed, so /proc tells how far it got).
        first_chunk = min(MIB, big.stat().st_size)
        for _ in range(3000):
            if proc.poll() is not None or input_position(proc.pid, big) >= first_chunk:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the pull ended before the signal: make the input bigger"
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check_sanitizer_report(stderr)
    assert proc.returncode == rc, (stdout, stderr)
    assert json.loads(stdout)["error"]["code"] == "cancelled"
    assert stderr.decode().splitlines()[-1].endswith("cancelled")
    assert leftovers(out_dir) == []


# --- help and the man page stay in step with the options --------------------------------------


def long_options_in_source():
    text = (ROOT / "src" / "tool_opts.c").read_text()
    start = text.index("pull_longopts[] = {")
    block = text[start : text.index("};", start)]
    return sorted(set(re.findall(r'\{"([a-z][a-z-]*)",', block)) - {"help"})


def test_help_lists_every_option():
    res = run_vmpull("pull", "--help")
    assert res.rc == 0
    for opt in long_options_in_source():
        assert f"--{opt}" in res.stdout, f"vmpull pull --help does not mention --{opt}"
    res = run_vmpull("help", "pull")
    assert res.rc == 0 and "Usage: vmpull pull" in res.stdout
    res = run_vmpull("--help")
    assert res.rc == 0 and "pull" in res.stdout
    res = run_vmpull("--version")
    assert res.rc == 0 and res.stdout.startswith("vmpull ")


def test_man_page_lists_every_option():
    man = (ROOT / "docs" / "vmpull.1").read_text()
    for opt in long_options_in_source():
        roff = "\\-\\-" + opt.replace("-", "\\-")  # roff spells a hyphen-minus \-
        assert roff in man, f"docs/vmpull.1 does not document --{opt}"
    for word in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "VMPULL_DEFAULT_IMAGE", "https_proxy", "130", "143"):
        assert word in man, word
    if shutil.which("man"):
        proc = subprocess.run(["man", "--warnings", "-l", "-Tutf8", str(ROOT / "docs" / "vmpull.1")],
                              capture_output=True, text=True, env={**os.environ, "MANWIDTH": "80"})
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == "", proc.stderr


def test_usage_errors_exit_2(env):
    for args in (["pull"], ["pull", "--bogus", "x"], ["pull", "a", "b"], ["frobnicate"], ["pull", "--threads", "x", "y"]):
        res = run_vmpull(*args, env=env)
        assert res.rc == 2, (args, res)
        assert len(vmpull_lines(res.stderr)) == 1, (args, res.stderr)
