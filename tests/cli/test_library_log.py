"""The log hook (vmpull_pull_options.log, added in 0.3) and progress during cache-lock waits, as a
program sees them: tests/lib/probe.c (lib_probe, linked against the shared library) prints each log
line as "log LEVEL MESSAGE" when it arrives (-l), and can cancel from its progress callback while
another vmpull holds the cache entry it wants (-n N)."""
import base64
import gzip
import hashlib
import lzma
import os
import random
import subprocess
import time
from pathlib import Path

import pytest

from conftest import VMPULL, check_sanitizer_report
from servers.common import free_port
from servers.fixture_registry import REGISTRY_PASSWORD, REGISTRY_USER
from servers.oci_layout import Layout

PROBE = os.environ.get("VMPULL_LIB_PROBE", str(Path(VMPULL).parent / "tests" / "lib" / "lib_probe"))
REPO = "liblog/machine"


def probe(*args, timeout=120):
    if not os.access(PROBE, os.X_OK):
        pytest.fail(f"tests/lib/lib_probe not built at {PROBE}")
    proc = subprocess.run([PROBE, *[str(a) for a in args]], capture_output=True, text=True, timeout=timeout)
    check_sanitizer_report(proc.stderr, args)
    return parse(proc.returncode, proc.stdout, proc.stderr)


def parse(rc, stdout, stderr):
    seen = {"rc": rc, "stdout": stdout, "stderr": stderr, "log": []}
    for line in stdout.splitlines():
        key, _, rest = line.partition(" ")
        if key == "log":
            level, _, message = rest.partition(" ")
            seen["log"].append((level, message))
        else:
            seen[key] = rest
    return seen


def index_of(log, level, *parts):
    """Where the first line at level containing every part is (fails when there is none)."""
    for i, (lv, message) in enumerate(log):
        if lv == level and all(p in message for p in parts):
            return i
    pytest.fail(f"no {level} line with {parts} in {log}")


@pytest.fixture(scope="module")
def image():
    rnd = random.Random(14)
    return rnd.randbytes(1 << 20) + bytes(2 << 20)


def test_log_lines_arrive_in_order_with_levels(flaky, image, tmp_path):
    name = "log-order.raw.gz"
    flaky.serve(name, gzip.compress(image, compresslevel=1))
    url = flaky.url(name)
    cache = tmp_path / "cache"

    got = probe("-l", "-C", cache, url, tmp_path / "one.raw")
    assert got["rc"] == 0 and got["code"] == "ok", got
    log = got["log"]
    assert all(level in ("debug", "info") for level, _ in log), log
    decided = index_of(log, "info", f"fetch {url}: download into the cache")
    asked = index_of(log, "debug", f"GET {url}: HTTP 200")
    detected = index_of(log, "info", f"{name}: format gzip")
    received = index_of(log, "debug", f"GET {url}: ", "body bytes received")
    assert decided < asked < detected < received, log

    # The same URL again: the cached copy is revalidated, and the server says it is current.
    got = probe("-l", "-C", cache, url, tmp_path / "two.raw")
    assert got["rc"] == 0, got
    log = got["log"]
    assert index_of(log, "info", f"fetch {url}: revalidate the cached copy") < index_of(log, "debug", f"GET {url}: HTTP 304")
    assert (tmp_path / "two.raw").read_bytes() == image


def test_xz_decoder_threads_are_logged(tmp_path, image):
    src = tmp_path / "disk.raw.xz"
    src.write_bytes(lzma.compress(image, preset=0))
    got = probe("-l", src, tmp_path / "out.raw")
    assert got["rc"] == 0, got
    assert index_of(got["log"], "info", "disk.raw.xz: format xz") < index_of(got["log"], "debug", "xz: up to ",
                                                                            "decoder threads")


def test_no_log_lines_without_the_hook(flaky, image, tmp_path):
    name = "log-none.raw.gz"
    flaky.serve(name, gzip.compress(image, compresslevel=1))
    got = probe("-C", tmp_path / "cache", flaky.url(name), tmp_path / "out.raw")
    assert got["rc"] == 0, got
    assert got["log"] == []


def test_log_lines_never_hold_a_credential(flaky, image, registry_basic, tmp_path):
    """user:password in a URL, and --creds for a registry: neither reaches a log line."""
    name = "log-secret.raw.gz"
    flaky.serve(name, gzip.compress(image, compresslevel=1))
    secret = "s3cr3t-Pa55"
    url = flaky.url(name).replace("http://", f"http://puller:{secret}@")
    got = probe("-l", "-C", tmp_path / "cache", url, tmp_path / "one.raw")
    assert got["rc"] == 0, got
    assert len(got["log"]) >= 3
    assert index_of(got["log"], "debug", "GET http://puller:***@")  # redacted, still named
    assert secret not in got["stdout"] and secret not in got["stderr"]

    lay = Layout(tmp_path / "layout")
    entry_bytes = gzip.compress(image, compresslevel=1)
    entry = lay.disk_artifact(entry_bytes, "machine.x86_64.raw.gz",
                              media_type="application/gzip", arch="x86_64", disktype="qemu")
    lay.write_index([(lay.index([entry]), "v1")])
    registry_basic.push(lay.path, "v1", REPO, "v1")
    got = probe("-l", "-k", "-c", f"{REGISTRY_USER}:{REGISTRY_PASSWORD}", "-C", tmp_path / "cache2",
                registry_basic.ref(REPO, "v1"), tmp_path / "two.raw")
    assert got["rc"] == 0, got
    assert index_of(got["log"], "debug", f"GET https://{registry_basic.host}/v2/{REPO}/manifests/v1: HTTP 200")
    assert index_of(got["log"], "info", "fetch ", "download into the cache") < index_of(
        got["log"], "debug", f"/v2/{REPO}/blobs/sha256:{hashlib.sha256(entry_bytes).hexdigest()}")
    # The password (with its colon) or any part of it around the colon, and its base64 form.
    basic = base64.b64encode(f"{REGISTRY_USER}:{REGISTRY_PASSWORD}".encode()).decode()
    for text in (got["stdout"], got["stderr"]):
        for secret_part in (REGISTRY_PASSWORD, *REGISTRY_PASSWORD.split(":"), basic):
            assert secret_part not in text
    assert (tmp_path / "two.raw").read_bytes() == image


def test_mirrors_tried_and_chosen_are_logged(image, registry_plain, tmp_path):
    lay = Layout(tmp_path / "layout")
    entry = lay.disk_artifact(gzip.compress(image, compresslevel=1), "machine.x86_64.raw.gz",
                              media_type="application/gzip", arch="x86_64", disktype="qemu")
    lay.write_index([(lay.index([entry]), "v1")])
    registry_plain.push(lay.path, "v1", REPO, "mirrored")
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    got = probe("-l", "-k", "-M", f"{registry_plain.host}={dead}", registry_plain.ref(REPO, "mirrored"),
                tmp_path / "out.raw")
    assert got["rc"] == 0, got
    log = got["log"]
    tried_mirror = index_of(log, "debug", f"trying mirror {dead} for ")
    tried_registry = index_of(log, "debug", f"trying registry {registry_plain.host} for ")
    chosen = index_of(log, "info", f"registry {registry_plain.host} serves ")
    assert tried_mirror < tried_registry < chosen, log


def test_progress_runs_while_waiting_for_a_cache_lock(flaky, image, tmp_path):
    """Two pulls of one slow URL with one cache: the second waits for the first's lock on the cache
    entry. Its progress callback must keep running in that wait, so that returning non-zero cancels
    it at once (VMPULL_E_CANCELLED), long before the first pull is done; the first completes."""
    name = "lock-wait.raw.gz"
    body = gzip.compress(image, compresslevel=1)
    flaky.serve(name, body, rate=max(1, len(body) // 8))  # about 8 s
    cache = tmp_path / "cache"
    first = subprocess.Popen([VMPULL, "pull", "-q", "--cache-dir", str(cache), "-o", str(tmp_path / "first.raw"),
                              flaky.url(name)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The first holds the entry once its body flows.
        deadline = time.monotonic() + 30
        while not any(e["sent"] > 0 for e in flaky.requests(name)) and time.monotonic() < deadline:
            assert first.poll() is None, first.communicate()
            time.sleep(0.02)
        got = probe("-n", "5", "-C", cache, flaky.url(name), tmp_path / "second.raw")
        first_still_running = first.poll() is None
    finally:
        stdout, stderr = first.communicate(timeout=120)
    check_sanitizer_report(stderr)
    assert "waiting for another vmpull" in got["stderr"], got
    assert got["rc"] == 1 and got["code"] == "cancelled", got
    assert int(got["lock_wait"]) >= 5
    assert first_still_running, "the waiting pull was not cancelled before the first one finished"
    assert not (tmp_path / "second.raw").exists()
    assert first.returncode == 0, stderr
    assert (tmp_path / "first.raw").read_bytes() == image
    assert flaky.bodies(name) == 1
    assert hashlib.sha256(body).hexdigest() in os.listdir(cache / "blobs" / "sha256")
