"""Hardening (issue 6): limits that stop hostile input, and files that cannot be turned against
the user. Bombs here are endless: a compressor or zip writer keeps feeding a FIFO until vmpull
hangs up, so a pull that did not stop at --max-size would never finish."""
import json
import os
import stat
import subprocess
import threading
import zipfile
from pathlib import Path

import pytest

from conftest import SANITIZER_MARKERS, check_sanitizer_report, leftovers, run_vmpull

MIB = 1 << 20


@pytest.fixture
def env(tmp_path):
    return {"XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "HOME": str(tmp_path / "home")}


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def pull(*args, env):
    return run_vmpull("pull", "--json", "--progress", "never", *args, env=env)


def tool(*cmd, stdin=None):
    return subprocess.run(cmd, input=stdin, capture_output=True, check=True).stdout


# --- --max-size against endless bombs ---------------------------------------------------------


def expect_limit(res, out_dir):
    assert res.rc == 1, res
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "limit", res
    assert "--max-size" in err["message"] and "1048576" in err["message"], err
    assert leftovers(out_dir) == []


def test_endless_zstd_stream_stops_at_max_size(tmp_path, env):
    fifo = tmp_path / "endless.raw.zst"
    os.mkfifo(fifo)
    # zstd compresses /dev/zero forever; SIGPIPE ends it once vmpull hangs up.
    writer = subprocess.Popen(["sh", "-c", 'exec zstd -q -c -1 </dev/zero >"$0"', str(fifo)],
                              stderr=subprocess.DEVNULL)
    try:
        out_dir = tmp_path / "out"
        out_dir.mkdir()
        res = pull("--max-size", "1M", "-o", out_dir / "disk.raw", fifo, env=env)
        expect_limit(res, out_dir)
        assert writer.wait(timeout=60) != 0  # killed by SIGPIPE: the stream really was endless
    finally:
        writer.kill()
        writer.wait()


def test_content_length_over_max_size_fails_before_the_body(faults, tmp_path, env):
    """The server announces 3 MiB and then sends nothing: only a check on Content-Length can end
    the pull (--max-size 1M allows a source of at most 1M + 1% + 1 MiB, see lib/api/pull.c)."""
    faults.serve("announced-3m.raw", bytes(3 * MIB))
    url = faults.url("stall/0", "announced-3m.raw")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    res = pull("--max-size", "1M", "--stall-timeout", "5", "-o", out_dir / "disk.raw", url, env=env)
    expect_limit(res, out_dir)
    msg = json.loads(res.stdout)["error"]["message"]
    assert f"{url} is {3 * MIB} bytes" in msg, msg
    assert leftovers(tmp_path / "cache" / "vmpull" / "partial") == []


def test_source_within_the_framing_slack_is_decoded_to_the_limit(faults, tmp_path, env):
    """A source a little over --max-size (framing, a tar layer's headers) is not refused by its
    size: the disk it makes is what the limit is about, and the sink enforces that."""
    faults.serve("a-bit-over.raw", b"\x01" * (MIB + 4096))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    res = pull("--max-size", "1M", "-o", out_dir / "disk.raw", faults.url("ok", "a-bit-over.raw"), env=env)
    expect_limit(res, out_dir)
    assert "output exceeds the size limit" in json.loads(res.stdout)["error"]["message"]


def test_oci_layer_over_max_size_fails_before_reading_it(tmp_path, env):
    """The same rule for an OCI descriptor's size."""
    from servers.oci_layout import Layout

    lay = Layout(tmp_path / "layout")
    entry = lay.disk_artifact(b"\x02" * (3 * MIB), "big.raw", media_type="application/octet-stream",
                              arch="x86_64", disktype="qemu")
    lay.write_index([(lay.index([entry]), "big")])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    res = pull("--max-size", "1M", "--arch", "x86_64", "-o", out_dir / "disk.raw", f"oci-dir://{lay.path}:big",
               env=env)
    expect_limit(res, out_dir)
    assert f"is {3 * MIB} bytes" in json.loads(res.stdout)["error"]["message"]


class _Pipe:
    """Write-only, unseekable: zipfile streams with data descriptors, as a pipe makes it."""

    def __init__(self, f):
        self.f = f

    def write(self, b):
        return self.f.write(b)

    def flush(self):
        self.f.flush()

    def tell(self):
        raise OSError("unseekable")

    def seekable(self):
        return False


def test_endless_zip_entry_stops_at_max_size(tmp_path, env):
    fifo = tmp_path / "endless.zip"
    os.mkfifo(fifo)
    outcome = {}

    def write_forever():
        with open(fifo, "wb", buffering=0) as f:  # unbuffered: nothing left to flush into a closed pipe
            z = zipfile.ZipFile(_Pipe(f), "w", zipfile.ZIP_DEFLATED)
            try:
                with z.open("disk.raw", "w", force_zip64=True) as entry:
                    block = bytes(MIB)
                    for _ in range(1 << 20):  # a TiB: never reached
                        entry.write(block)
            except (BrokenPipeError, OSError) as e:
                outcome["stopped"] = type(e).__name__
            finally:
                z.fp = None  # nothing more can be written: keep ZipFile from writing its end record

    t = threading.Thread(target=write_forever, daemon=True)
    t.start()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    res = pull("--max-size", "1M", "-o", out_dir / "disk.raw", fifo, env=env)
    expect_limit(res, out_dir)
    t.join(timeout=60)
    assert not t.is_alive() and outcome.get("stopped"), outcome


def test_max_size_is_inclusive(tmp_path, env):
    """Exactly --max-size bytes is fine; one more is not."""
    for size, ok in ((MIB, True), (MIB + 1, False)):
        src = tmp_path / f"exact-{size}.raw.zst"
        src.write_bytes(tool("zstd", "-q", "-c", stdin=b"\1" * size))
        out_dir = tmp_path / f"out-{size}"
        out_dir.mkdir()
        res = pull("--max-size", "1M", "-o", out_dir / "disk.raw", src, env=env)
        if ok:
            assert res.rc == 0, res
            assert (out_dir / "disk.raw").stat().st_size == MIB
        else:
            expect_limit(res, out_dir)


def test_declared_zstd_size_stops_before_decoding(tmp_path, env):
    """A frame that declares more than --max-size fails up front, naming both."""
    data = tool("sh", "-c", "head -c 8388608 /dev/zero | zstd -q -c --stream-size=8388608")
    src = tmp_path / "declared.raw.zst"
    src.write_bytes(data)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    res = pull("--max-size", "1M", "-o", out_dir / "disk.raw", src, env=env)
    expect_limit(res, out_dir)
    assert "declares 8388608 bytes" in json.loads(res.stdout)["error"]["message"]


def test_zstd_output_a_multiple_of_the_buffer(tmp_path, env):
    """A frame whose end fills the decoder's output buffer exactly is complete (was: 'unexpected
    end of input' for every zstd image whose size is a multiple of 4 MiB)."""
    src = tmp_path / "eight.raw.zst"
    src.write_bytes(tool("sh", "-c", "head -c 8388608 /dev/zero | tr '\\0' x | zstd -q -c --stream-size=8388608"))
    out = tmp_path / "disk.raw"
    res = pull("-o", out, src, env=env)
    assert res.rc == 0, res
    assert out.stat().st_size == 8 * MIB


# --- files ------------------------------------------------------------------------------------


@pytest.fixture
def image(tmp_path):
    src = tmp_path / "in" / "disk.raw.gz"
    src.parent.mkdir()
    src.write_bytes(tool("gzip", "-c", "-n", stdin=b"disk contents\n" * 1000))
    return src


@pytest.mark.parametrize("args, mode", [([], 0o644), (["--mode", "0600"], 0o600), (["--mode", "640"], 0o640)])
def test_output_mode(image, tmp_path, env, umask022, args, mode):
    for replace in ([], ["--replace"]):
        out = tmp_path / "out" / "disk.raw"
        out.parent.mkdir(exist_ok=True)
        res = pull(*args, *replace, "-o", out, image, env=env)
        assert res.rc == 0, res
        assert stat.S_IMODE(out.stat().st_mode) == mode, oct(out.stat().st_mode)


@pytest.mark.parametrize("mode", ["4755", "2755", "1644", "0o644", "rw"])
def test_mode_with_more_than_permission_bits_is_refused(image, tmp_path, env, mode):
    out = tmp_path / "disk.raw"
    res = pull("--mode", mode, "-o", out, image, env=env)
    assert res.rc == 2, res
    assert not out.exists()


def test_data_dir_created_private(image, tmp_path, env, umask022):
    data = tmp_path / "a" / "b" / "c"
    res = pull("--data-dir", data, image, env=env)
    assert res.rc == 0, res
    for folder in (tmp_path / "a", tmp_path / "a" / "b", data):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, (folder, oct(folder.stat().st_mode))


def test_existing_data_dir_mode_kept(image, tmp_path, env, umask022):
    data = tmp_path / "shared"
    data.mkdir(mode=0o755)
    res = pull("--data-dir", data, image, env=env)
    assert res.rc == 0, res
    assert stat.S_IMODE(data.stat().st_mode) == 0o755


def test_symlink_at_output_name_not_followed(image, tmp_path, env):
    """A symlink planted at the final name is never written through, with or without --replace."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "disk.raw"
    out.symlink_to(victim)
    res = pull("-o", out, image, env=env)
    assert res.rc == 1 and json.loads(res.stdout)["error"]["code"] == "exists", res
    assert victim.read_bytes() == b"precious" and out.is_symlink()

    res = pull("--replace", "-o", out, image, env=env)
    assert res.rc == 0, res
    assert victim.read_bytes() == b"precious"
    assert not out.is_symlink() and out.read_bytes() == b"disk contents\n" * 1000
    assert leftovers(out_dir) == ["disk.raw"]


def test_dangling_symlink_at_output_name_creates_nothing(image, tmp_path, env):
    target = tmp_path / "elsewhere" / "planted"
    target.parent.mkdir()
    out = tmp_path / "disk.raw"
    out.symlink_to(target)
    res = pull("-o", out, image, env=env)
    assert res.rc == 1 and json.loads(res.stdout)["error"]["code"] == "exists", res
    assert not target.exists()


def test_symlink_at_temporary_name_not_followed(image, tmp_path, env):
    """Names that look like our temporaries are cleaned up only when they are our own kind of
    file: a planted symlink (or FIFO) is neither followed, opened for writing nor waited on."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / ".disk.raw.vmpull-tmp-aaaaaaaaaaaa").symlink_to(victim)
    os.mkfifo(out_dir / ".disk.raw.vmpull-tmp-bbbbbbbbbbbb")
    for replace in ([], ["--replace"]):
        res = pull(*replace, "-o", out_dir / "disk.raw", image, env=env)
        assert res.rc == 0, res
    assert victim.read_bytes() == b"precious"
    assert (out_dir / "disk.raw").read_bytes() == b"disk contents\n" * 1000


# --- the sanitizer hook itself ----------------------------------------------------------------


@pytest.mark.parametrize("marker", SANITIZER_MARKERS)
def test_sanitizer_report_fails_the_test(marker):
    """make check-asan relies on this: a report in vmpull's stderr fails a test that expected a failure."""
    with pytest.raises(pytest.fail.Exception):
        check_sanitizer_report(f"vmpull: pull x: corrupt\n==1==ERROR {marker} something\n", ["pull", "x"])
    with pytest.raises(pytest.fail.Exception):
        check_sanitizer_report(f"{marker}".encode(), ["pull", "x"])
    check_sanitizer_report("vmpull: pull x: xz: compressed data is corrupt\n", ["pull", "x"])


# --- secrets ----------------------------------------------------------------------------------


def test_credentials_never_printed(hostile_registry, nginx, tmp_path, env):
    """Refused credentials, from --creds and from a URL, appear in no output, plain or --json."""
    secret = "Sup3r-s3cret-pw"
    out = tmp_path / "disk.raw"
    runs = [
        ("--retries", "0", "--tls-verify=false", "--creds", f"someone:{secret}", hostile_registry.ref("basicloop/disk")),
        ("--retries", "0", nginx.url("private/nothing.raw.xz").replace("://", f"://someone:{secret}@")),
    ]
    for args in runs:
        for json_flag in ([], ["--json"]):
            res = run_vmpull("pull", "--progress", "always", *json_flag, "-o", out, *args, env=env)
            assert res.rc == 1, res
            assert secret not in res.stdout + res.stderr, res
            assert not out.exists()
