"""What include/vmpull.h promises a program, checked where it takes a real server: tests/lib/probe.c
(lib_probe, linked against the shared library) makes one call and prints what its caller saw: the
stages its progress callback got, and the vmpull_error after the call, success included."""
import gzip
import os
import random
import subprocess
from pathlib import Path

import pytest

from conftest import VMPULL, check_sanitizer_report, node_file_name
from servers.oci_layout import Layout

PROBE = os.environ.get("VMPULL_LIB_PROBE", str(Path(VMPULL).parent / "tests" / "lib" / "lib_probe"))
REPO = "libprobe/machine"


def probe(*args, timeout=120):
    if not os.access(PROBE, os.X_OK):
        pytest.fail(f"tests/lib/lib_probe not built at {PROBE}")
    proc = subprocess.run([PROBE, *[str(a) for a in args]], capture_output=True, text=True, timeout=timeout)
    check_sanitizer_report(proc.stderr, args)
    seen = dict(line.split(" ", 1) if " " in line else (line, "") for line in proc.stdout.splitlines())
    seen["rc"] = proc.returncode
    seen["stderr"] = proc.stderr
    return seen


@pytest.fixture(scope="module")
def image():
    rnd = random.Random(12)
    raw = rnd.randbytes(1 << 20) + bytes(1 << 20)
    return raw, gzip.compress(raw, compresslevel=1)


@pytest.fixture(scope="module")
def pushed(tmp_path_factory, image, registry_plain):
    lay = Layout(tmp_path_factory.mktemp("probe-layout") / "layout")
    entry = lay.disk_artifact(image[1], "machine.x86_64.raw.gz", media_type="application/gzip", arch="x86_64",
                              disktype="qemu")
    lay.write_index([(lay.index([entry]), "v1")])
    registry_plain.push(lay.path, "v1", REPO, "v1")
    return registry_plain


@pytest.mark.parametrize("mode", ["pull", "inspect", "save"])
def test_success_leaves_no_error_behind(pushed, image, tmp_path, mode):
    """--tls-verify=false against a plain-http registry: the https attempt fails first (code tls),
    then plain http succeeds. The caller's vmpull_error must say VMPULL_OK with no message."""
    got = probe("-k", "-m", mode, pushed.ref(REPO, "v1"), tmp_path / "out")
    assert got["rc"] == 0, got
    assert "trying plain http" in got["stderr"]  # the recovered failure did happen
    assert got["code"] == "ok" and got["message"] == "", got
    if mode == "pull":
        assert (tmp_path / "out").read_bytes() == image[0]


def test_resolve_stage_is_delivered(image, tmp_path):
    src = tmp_path / "disk.raw.gz"
    src.write_bytes(image[1])
    got = probe("-m", "pull", src, tmp_path / "out.raw")
    assert got["rc"] == 0, got
    assert got["stages"] == "resolve transfer done", got


def test_resolve_stage_is_delivered_by_save(pushed, tmp_path):
    got = probe("-k", "-m", "save", pushed.ref(REPO, "v1"), tmp_path / "layout")
    assert got["rc"] == 0, got
    assert got["stages"] == "resolve transfer done", got


def served(flaky, image, request, steps):
    name = node_file_name(request, ".raw.gz")
    flaky.serve(name, image[1])
    flaky.script(name, steps)
    return flaky.url(name)


def test_progress_callback_cancels_while_waiting_to_retry_a_request(flaky, image, tmp_path, request):
    """A 503 asking for 30 s: the callback runs during that wait, and its non-zero return ends it.
    (Without that, the retry after the wait would get the 404 that follows.)"""
    url = served(flaky, image, request, [("status", 503, {"Retry-After": "30"}), ("status", 404)])
    got = probe("-w", url, tmp_path / "out.raw")
    assert got["rc"] == 1, got
    assert got["code"] == "cancelled", got
    assert int(got["in_wait"]) >= 1 and got["stages"] == "resolve", got
    assert len(flaky.requests(url.rsplit("/", 1)[1])) == 1  # cancelled before the retry went out
    assert not (tmp_path / "out.raw").exists()


def test_progress_callback_cancels_while_waiting_to_resume_a_body(flaky, image, tmp_path, request):
    """The body breaks off halfway; the resume waits (1 s backoff, then a 503 asking for 30 s). The
    callback runs during the wait, with nothing moving, and its non-zero return ends the pull."""
    url = served(flaky, image, request, [("cut", len(image[1]) // 2), ("status", 503, {"Retry-After": "30"}),
                                         ("status", 404)])
    got = probe("-w", url, tmp_path / "out.raw")
    assert got["rc"] == 1, got
    assert got["code"] == "cancelled", got
    assert int(got["in_wait"]) >= 1 and got["stages"] == "resolve transfer", got
    assert not (tmp_path / "out.raw").exists()


def test_a_damaged_kept_disk_counts_the_disk_from_0_again(flaky, image, tmp_path, request):
    """A kept disk that proves damaged mid-copy (the copy had written its first MiB) is dropped with a warning
    and the source decoded: the callback after the warning tells written 0, the disk being written again from
    its start, not the copy's figure."""
    from conftest import run_vmpull

    name = node_file_name(request, ".raw.gz")
    flaky.serve(name, image[1])
    cache = tmp_path / "cache"
    r = run_vmpull("pull", "-q", "--keep-uncompressed", "--cache-dir", cache, "-o", tmp_path / "first.raw",
                   flaky.url(name))
    assert r.rc == 0, r
    (kept,) = [p for p in (cache / "disks" / "sha256").iterdir() if p.suffix != ".json"]
    with open(kept, "r+b") as f:
        f.seek((1 << 20) + 4096)  # the second MiB, zeros in its record
        f.write(b"damaged")
    got = probe("-C", cache, "-m", "pull", flaky.url(name), tmp_path / "out.raw")
    assert got["rc"] == 0, got
    assert "does not match its record" in got["stderr"], got
    assert got["written_after_warning"] == "0", got
    assert (tmp_path / "out.raw").read_bytes() == image[0]
