"""The outcome of a pull (vmpull_pull2, vmpull_pull_to_fd: include/vmpull.h, issue 14), read through its
accessors by tests/lib/outcome_probe (linked against the shared library) and through `vmpull pull
--json`, against real servers: how the cache served the bytes (none, miss, hit, revalidated, kept-disk,
and stale only for a cached URL whose server could not be reached), the offset an interrupted download resumed at, the bytes
that crossed the network, the mirror, and the details of an error (HTTP status, errno, curl code).
pull_to_fd writes a regular file with holes and a pipe with every byte."""
import errno
import gzip
import json
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import VMPULL, check_sanitizer_report, node_file_name, run_vmpull
from servers.common import free_port, running, start_or_fail
from servers.fixture_flaky import FlakyServer
from servers.fixture_mirrors import machine_image
from servers.fixture_registry import Registry

PROBE = os.environ.get("VMPULL_OUTCOME_PROBE", str(Path(VMPULL).parent / "tests" / "lib" / "outcome_probe"))
CACHE_USE = ["none", "miss", "hit", "revalidated", "kept-disk", "stale"]  # vmpull_cache_use, in order
REPO = "outcome/os"


def probe(*args, user=None, timeout=120, stale=False):
    if not os.access(PROBE, os.X_OK):
        pytest.fail(f"tests/lib/outcome_probe not built at {PROBE}")
    cmd = [PROBE, *map(str, args)]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    check_sanitizer_report(proc.stderr, args)
    assert proc.returncode in (0, 1), proc
    got = json.loads(proc.stdout)
    got["cache"] = CACHE_USE[got["cache"]]
    assert (got["cache"] == "stale") == stale  # only a cached copy standing in for an unreachable server
    if got["outcome"]:  # the outcome's error is what err says
        assert (got["rc"] == 0) == (got["error_code"] == 0) and got["error_code"] == got["err_code"]
        assert got["error_message"] == got["err_message"]
    return got


def pull_json(*args, stale=False):
    r = run_vmpull("pull", "--json", "-q", *args)
    assert r.stdout, r
    j = r.json
    if r.rc == 0:
        assert j["version"] == 1 and j["cache"] in CACHE_USE and (j["cache"] == "stale") == stale, j
    return r.rc, j


@pytest.fixture(scope="module")
def image():
    rnd = random.Random(14)
    raw = rnd.randbytes(1 << 20) + bytes(2 << 20) + rnd.randbytes(512 << 10)
    return raw, gzip.compress(raw, compresslevel=1)


@pytest.fixture
def served(flaky, image, request):
    name = node_file_name(request, ".raw.gz")
    flaky.serve(name, image[1])
    return name


def test_cache_use_miss_then_revalidated_then_hit_then_kept_disk(flaky, image, served, tmp_path):
    raw, gz = image
    cache = tmp_path / "cache"
    url = flaky.url(served)
    rc, j = pull_json("--cache-dir", cache, "--keep-uncompressed", "-o", tmp_path / "1.raw", url)
    assert rc == 0 and j["cache"] == "miss" and j["bytes_transferred"] == len(gz) and j["resumed_from"] == 0, j
    assert j["mirror"] is None
    # The kept disk is dropped so that the cached blob itself is what serves the next pulls.
    shutil.rmtree(cache / "disks")
    rc, j = pull_json("--cache-dir", cache, "-o", tmp_path / "2.raw", url)
    assert rc == 0 and j["cache"] == "revalidated" and j["bytes_transferred"] == 0, j
    assert flaky.requests(served)[-1]["status"] == 304
    rc, j = pull_json("--cache-dir", cache, "--offline", "-o", tmp_path / "3.raw", url)
    assert rc == 0 and j["cache"] == "hit" and j["bytes_transferred"] == 0, j
    rc, j = pull_json("--cache-dir", cache, "--keep-uncompressed", "-o", tmp_path / "4.raw", url)
    assert rc == 0 and j["cache"] == "revalidated", j
    rc, j = pull_json("--cache-dir", cache, "-o", tmp_path / "5.raw", url)
    assert rc == 0 and j["cache"] == "kept-disk" and j["bytes_transferred"] == 0, j
    for i in range(1, 6):
        assert (tmp_path / f"{i}.raw").read_bytes() == raw


def test_no_cache_is_none_and_counts_every_byte(flaky, image, served, tmp_path):
    got = probe("-r", "0", flaky.url(served), tmp_path / "out.raw")
    assert got["rc"] == 0 and got["cache"] == "none" and got["bytes_transferred"] == len(image[1]), got
    rc, j = pull_json("--no-cache", "-o", tmp_path / "cli.raw", flaky.url(served))
    assert rc == 0 and j["cache"] == "none" and j["bytes_transferred"] == len(image[1]), j


def test_a_local_file_uses_no_cache_and_no_network(image, tmp_path):
    src = tmp_path / "disk.raw.gz"
    src.write_bytes(image[1])
    got = probe("-c", tmp_path / "cache", src, tmp_path / "out.raw")
    assert got["rc"] == 0 and got["cache"] == "none" and got["bytes_transferred"] == 0, got
    assert got["path"] == str(tmp_path / "out.raw") and got["size"] == len(image[0])


def test_resumed_from_after_an_interrupted_download(flaky, image, served, tmp_path):
    raw, gz = image
    cut = len(gz) // 3
    flaky.script(served, [("cut", cut)])
    cache = tmp_path / "cache"
    got = probe("-c", cache, "-r", "0", flaky.url(served), tmp_path / "out.raw")
    # A failed pull still has an outcome: the error, and what crossed the network before it broke.
    assert got["rc"] != 0 and got["outcome"] and got["error_code"] == 8, got  # network
    assert got["bytes_transferred"] == cut and got["path"] is None and got["size"] == 2**64 - 1, got
    assert got["source"] == flaky.url(served)
    got = probe("-c", cache, flaky.url(served), tmp_path / "out.raw")
    assert got["rc"] == 0, got
    assert got["cache"] == "miss" and got["resumed_from"] == cut and got["bytes_transferred"] == len(gz) - cut, got
    assert (tmp_path / "out.raw").read_bytes() == raw


def test_http_status_of_a_missing_url(flaky, tmp_path):
    got = probe("-r", "0", flaky.url("no-such-disk.raw.gz"), tmp_path / "out.raw")
    assert got["rc"] != 0 and got["http_status"] == 404 and got["curl_code"] == 0, got
    rc, j = pull_json("--no-cache", "-o", tmp_path / "o.raw", flaky.url("no-such-disk.raw.gz"))
    assert rc != 0 and j["error"]["http_status"] == 404 and j["error"]["errno"] is None, j
    assert j["error"]["code"] == "not_found" or j["error"]["code"] == "http", j


def test_cache_use_stale_when_the_server_is_gone(image, tmp_path):
    """Issue 17: a cached URL whose server no longer listens is served from the cache, and the
    outcome says so (stale), through the library's accessor and --json; refresh refuses it."""
    raw, gz = image
    srv = FlakyServer()
    srv.serve("disk.raw.gz", gz)
    url, cache = srv.url("disk.raw.gz"), tmp_path / "cache"
    try:
        got = probe("-c", cache, url, tmp_path / "1.raw")
        assert got["rc"] == 0 and got["cache"] == "miss", got
    finally:
        srv.stop()
    got = probe("-c", cache, url, tmp_path / "2.raw", stale=True)
    assert got["rc"] == 0 and got["bytes_transferred"] == 0 and got["digest"] is not None, got
    assert (tmp_path / "2.raw").read_bytes() == raw
    rc, j = pull_json("--cache-dir", cache, "-o", tmp_path / "3.raw", url, stale=True)
    assert rc == 0 and j["cache"] == "stale", j
    got = probe("-R", "-r", "0", "-c", cache, url, tmp_path / "4.raw")
    assert got["rc"] != 0 and got["curl_code"] == 7 and got["errno"] == errno.ECONNREFUSED, got


def test_errno_and_curl_code_of_a_closed_port(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/disk.raw.gz"  # nothing listens there
    got = probe("-r", "0", url, tmp_path / "out.raw")
    assert got["rc"] != 0 and got["errno"] == errno.ECONNREFUSED and got["curl_code"] == 7, got
    assert got["http_status"] == 0 and got["cache"] == "none" and got["bytes_transferred"] == 0
    rc, j = pull_json("--no-cache", "--retries", "0", "-o", tmp_path / "o.raw", url)
    assert rc != 0 and j["error"]["errno"] == errno.ECONNREFUSED and j["error"]["curl_code"] == 7, j


def test_errno_of_an_unwritable_output_folder(image):
    """Root writes anywhere: the probe runs as nobody, the folder is root's (0755)."""
    top = Path(tempfile.mkdtemp(prefix="vmpull-outcome-"))
    try:
        top.chmod(0o755)
        src = top / "disk.raw.gz"
        src.write_bytes(image[1])
        src.chmod(0o644)
        (top / "out").mkdir(mode=0o755)
        got = probe(src, top / "out" / "disk.raw", user=65534)
        assert got["rc"] != 0 and got["errno"] == errno.EACCES and got["error_code"] == 3, got
        assert not os.listdir(top / "out")
    finally:
        shutil.rmtree(top)


def test_errno_of_a_full_disk(image, tmp_path):
    src = tmp_path / "disk.raw.gz"
    src.write_bytes(image[1])
    got = probe("-W", src, "/dev/full")
    assert got["rc"] != 0 and got["errno"] == errno.ENOSPC, got


def test_success_clears_the_error_details_and_null_outcome_is_fine(image, tmp_path):
    src = tmp_path / "disk.raw.gz"
    src.write_bytes(image[1])
    got = probe(src, tmp_path / "a.raw")
    assert (got["error_code"], got["error_message"], got["errno"], got["http_status"], got["curl_code"]) == (
        0, "", 0, 0, 0)
    got = probe("-N", src, tmp_path / "b.raw")  # outcome == NULL: only the return value and err
    assert got["rc"] == 0 and not got["outcome"] and got["err_message"] == "" and got["path"] is None
    assert (tmp_path / "b.raw").read_bytes() == image[0]


@pytest.mark.parametrize("mode", ["-F", "-W"], ids=["rdwr", "wronly"])
def test_pull_to_fd_into_a_regular_file_keeps_holes(image, tmp_path, mode):
    raw, gz = image
    src = tmp_path / "disk.raw.gz"
    src.write_bytes(gz)
    named = probe(src, tmp_path / "named.raw")
    out = tmp_path / "fd.raw"
    out.write_bytes(b"\xff" * (len(raw) + (1 << 20)))  # old content longer than the disk: truncated first
    got = probe(mode, src, out)
    assert got["rc"] == 0 and got["path"] is None and got["size"] == len(raw), got
    assert out.read_bytes() == raw
    st = out.stat()
    assert st.st_blocks * 512 < len(raw) - (1 << 20)  # the 2 MiB of zeros are a hole
    assert st.st_blocks == (tmp_path / "named.raw").stat().st_blocks
    assert got["allocated"] == st.st_blocks * 512 and named["allocated"] == got["allocated"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk.raw.gz", "fd.raw", "named.raw"]  # no temporary


def test_pull_to_fd_refuses_an_append_only_fd(image, tmp_path):
    src = tmp_path / "disk.raw.gz"
    src.write_bytes(image[1])
    (tmp_path / "out.raw").write_bytes(b"kept")
    got = probe("-A", src, tmp_path / "out.raw")
    assert got["rc"] != 0 and got["error_code"] == 1 and "O_APPEND" in got["error_message"], got
    assert (tmp_path / "out.raw").read_bytes() == b"kept"


def test_pull_to_fd_into_a_pipe_gets_every_byte(flaky, image, served, tmp_path):
    raw, gz = image
    cache = tmp_path / "cache"
    got = probe("-P", "-c", cache, "-K", flaky.url(served), tmp_path / "piped.raw")
    assert got["rc"] == 0 and got["path"] is None and got["allocated"] == 0 and got["cache"] == "miss", got
    assert (tmp_path / "piped.raw").read_bytes() == raw
    assert not (cache / "disks").exists() or not any((cache / "disks").rglob("*.json"))  # nothing to keep from a pipe
    # A disk kept by a named pull streams into a pipe too (checked against its record first).
    assert probe("-c", cache, "-K", flaky.url(served), tmp_path / "kept.raw")["rc"] == 0
    got = probe("-P", "-c", cache, flaky.url(served), tmp_path / "piped2.raw")
    assert got["rc"] == 0 and got["cache"] == "kept-disk", got
    assert (tmp_path / "piped2.raw").read_bytes() == raw


# ---- a registry mirror ----

@pytest.fixture(scope="module")
def mirrored(tmp_path_factory, registry_plain):
    img = machine_image(tmp_path_factory.mktemp("outcome-img") / "layout", "outcome", arches=("x86_64",),
                        disktypes=("qemu",))
    mirror = start_or_fail(Registry(tmp_path_factory.mktemp("outcome-mirror")))
    for reg in (registry_plain, mirror):
        reg.push(img["layout"].path, "src", REPO, "1")
    yield registry_plain, mirror, img["disks"][("x86_64", "qemu")]
    mirror.stop()


def test_mirror_and_blob_cache_hit(mirrored, tmp_path):
    origin, mirror, disk = mirrored
    cache = tmp_path / "cache"
    spec = f"{origin.host}={mirror.host}"
    got = probe("-k", "-a", "x86_64", "-c", cache, "-m", spec, origin.ref(REPO, "1"), tmp_path / "a.raw")
    assert got["rc"] == 0 and got["mirror"] == mirror.host, got
    assert got["cache"] == "miss" and got["bytes_transferred"] == len(disk["blob"]), got
    got = probe("-k", "-a", "x86_64", "-c", cache, "-m", spec, origin.ref(REPO, "1"), tmp_path / "b.raw")
    assert got["rc"] == 0 and got["cache"] == "hit" and got["bytes_transferred"] == 0, got
    assert (tmp_path / "b.raw").read_bytes() == disk["raw"]
    rc, j = pull_json("--tls-verify=false", "--arch", "x86_64", "--no-cache", "--mirror", spec, "-o",
                      tmp_path / "c.raw", origin.ref(REPO, "1"))
    assert rc == 0 and j["mirror"] == mirror.host and j["bytes_transferred"] == len(disk["blob"]), j
    got = probe("-k", "-a", "x86_64", "-c", "", origin.ref(REPO, "1"), tmp_path / "d.raw")
    assert got["rc"] == 0 and got["mirror"] is None, got


@pytest.mark.parametrize("mode", ["-F", "-P"], ids=["file", "pipe"])
def test_pull_to_fd_after_damaged_cached_bytes(flaky, image, served, tmp_path, mode):
    """Bad cached bytes make vmpull_pull fetch again; a regular file is written again from the
    start, but a pipe already has bytes of the first attempt: that pull fails instead of sending
    the disk twice."""
    raw, gz = image
    cache = tmp_path / "cache"
    assert probe("-c", cache, flaky.url(served), tmp_path / "first.raw")["rc"] == 0
    blob = next((cache / "blobs" / "sha256").iterdir())
    damaged = bytearray(blob.read_bytes())
    damaged[len(damaged) - 100] ^= 0xFF  # late: much of the disk is written before it shows
    blob.write_bytes(bytes(damaged))
    got = probe(mode, "-c", cache, flaky.url(served), tmp_path / "out.raw")
    if mode == "-F":
        assert got["rc"] == 0 and got["cache"] == "miss", got
        assert (tmp_path / "out.raw").read_bytes() == raw
    else:
        assert got["rc"] != 0 and got["error_code"] in (5, 6), got  # corrupt or digest_mismatch
        assert len((tmp_path / "out.raw").read_bytes()) <= len(raw)  # never more than one disk
