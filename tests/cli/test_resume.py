"""Resume and retries: a broken transfer continues with Range inside one pull; an interrupted
pull (even kill -9) leaves its bytes in the cache for the next one, which resumes with Range +
If-Range; servers that ignore Range, answer 416 or changed their content make it start over;
408/429/5xx are retried with backoff (Retry-After honoured), other 4xx are not."""
import gzip
import hashlib
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import VMPULL, check_sanitizer_report, leftovers, node_file_name, run_vmpull


@pytest.fixture(scope="module")
def image():
    rnd = random.Random(5)
    raw = rnd.randbytes(3 << 20) + bytes(1 << 20) + rnd.randbytes(1 << 20)
    return raw, gzip.compress(raw, compresslevel=1)


@pytest.fixture
def name(flaky, image, request):
    n = node_file_name(request, ".raw.gz")
    flaky.serve(n, image[1])
    return n


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def pull(cache, *args, **kw):
    return run_vmpull("pull", "-q", "--cache-dir", cache, *args, **kw)


def partials(cache):
    d = Path(cache) / "partial"
    return [p for p in d.iterdir() if not p.name.endswith(".json")] if d.is_dir() else []


def warnings(stderr):
    return [line for line in stderr.splitlines() if line.startswith("vmpull: warning:")]


@pytest.mark.parametrize("cache_on", [True, False], ids=["cache", "no-cache"])
def test_broken_transfers_continue_where_they_stopped(flaky, image, name, cache, tmp_path, cache_on):
    raw, gz = image
    size = len(gz)
    flaky.script(name, [("cut", size // 10), ("cut", size // 2), ("cut", size * 9 // 10)])
    extra = [] if cache_on else ["--no-cache"]
    r = pull(cache, *extra, "-o", tmp_path / "out.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "out.raw").read_bytes() == raw
    reqs = flaky.requests(name)
    assert len(reqs) == 4
    assert [e["headers"].get("range") for e in reqs] == [
        None, f"bytes={size // 10}-", f"bytes={size // 2}-", f"bytes={size * 9 // 10}-"]
    assert all(e["headers"].get("if-range") == flaky.files[name]["etag"] for e in reqs[1:])
    assert flaky.sent(name) <= size * 1.1
    lines = warnings(r.stderr)
    assert len(lines) == 3 and all("retry 1 of 5" in line for line in lines), r.stderr


def test_kill_9_then_the_next_pull_resumes(flaky, image, name, cache, tmp_path):
    raw, gz = image
    flaky.serve(name, gz, rate=1 << 20)  # about 4 s in all
    out = tmp_path / "out.raw"
    p = subprocess.Popen([VMPULL, "pull", "-q", "--cache-dir", str(cache), "-o", str(out), flaky.url(name)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = partials(cache)
        if got and got[0].stat().st_size > len(gz) // 3:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    have = partials(cache)[0].stat().st_size
    assert 0 < have < len(gz)
    assert not out.exists()
    flaky.serve(name, gz)  # same bytes and ETag, full speed
    r = pull(cache, "--json", "-o", out, flaky.url(name))
    assert r.rc == 0, r
    assert out.read_bytes() == raw
    assert r.json["digest"] == "sha256:" + hashlib.sha256(gz).hexdigest()
    last = flaky.requests(name)[-1]
    assert last["status"] == 206
    assert last["headers"]["range"] == f"bytes={have}-"
    assert last["headers"]["if-range"] == flaky.files[name]["etag"]
    assert last["sent"] == len(gz) - have
    assert r.stderr == ""
    assert partials(cache) == []
    assert (cache / "blobs" / "sha256" / hashlib.sha256(gz).hexdigest()).read_bytes() == gz


def interrupted(flaky, name, cache, tmp_path, at):
    """A pull that fails at byte `at` (no retries), leaving a partial download behind."""
    flaky.script(name, [("cut", at)])
    r = pull(cache, "--retries", "0", "-o", tmp_path / "out.raw", flaky.url(name))
    assert r.rc == 1, r
    assert [p.stat().st_size for p in partials(cache)] == [at]
    assert not (tmp_path / "out.raw").exists()


def test_server_ignoring_range_starts_over(flaky, image, name, cache, tmp_path):
    raw, gz = image
    interrupted(flaky, name, cache, tmp_path, len(gz) // 2)
    flaky.script(name, ["ignore-range"])
    r = pull(cache, "-o", tmp_path / "out.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "out.raw").read_bytes() == raw
    assert flaky.requests(name)[-1]["headers"]["range"] == f"bytes={len(gz) // 2}-"
    assert flaky.requests(name)[-1]["status"] == 200
    lines = warnings(r.stderr)
    assert len(lines) == 1 and "ignored the request to resume; downloading from the start" in lines[0]


def test_changed_etag_between_runs_starts_over(flaky, image, name, cache, tmp_path):
    raw, gz = image
    interrupted(flaky, name, cache, tmp_path, len(gz) // 2)
    new_raw = raw[::-1]
    new_gz = gzip.compress(new_raw, compresslevel=1)
    flaky.serve(name, new_gz)
    r = pull(cache, "--json", "-o", tmp_path / "out.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "out.raw").read_bytes() == new_raw
    assert r.json["digest"] == "sha256:" + hashlib.sha256(new_gz).hexdigest()
    last = flaky.requests(name)[-1]
    assert last["headers"]["if-range"] != flaky.files[name]["etag"] and last["status"] == 200
    lines = warnings(r.stderr)
    assert len(lines) == 1 and "changed on the server" in lines[0]


@pytest.fixture
def raw_name(flaky, image, request):
    """The image uncompressed: every byte the server sends ends up in the disk."""
    n = node_file_name(request, ".raw")
    flaky.serve(n, image[0])
    return n


def test_resumed_206_with_another_total_is_a_change(flaky, image, raw_name, cache, tmp_path):
    """Within one pull: the transfer breaks, the retry's 206 says the file is longer now (same
    ETag). That is a changed file, not more of the same one: an error, nothing written."""
    raw = image[0]
    flaky.script(raw_name, [("cut", len(raw) // 2), ("grown", 4096)])
    r = pull(cache, "--json", "-o", tmp_path / "out.raw", flaky.url(raw_name))
    assert [e["status"] for e in flaky.requests(raw_name)] == [200, 206]
    assert r.rc == 1, r
    err = r.json["error"]
    assert err["code"] == "http" and "changed on the server during the download" in err["message"], err
    assert f"{len(raw)} bytes" in err["message"] and f"{len(raw) + 4096}" in err["message"], err
    assert not (tmp_path / "out.raw").exists()


def test_resumed_206_with_another_total_between_runs_starts_over(flaky, image, raw_name, cache, tmp_path):
    """An interrupted pull left half the file; the next one's 206 announces another length under
    the same ETag: the partial is not continued, the file is fetched from the start."""
    raw = image[0]
    interrupted(flaky, raw_name, cache, tmp_path, len(raw) // 2)
    flaky.script(raw_name, [("grown", 4096)])
    r = pull(cache, "--json", "-o", tmp_path / "out.raw", flaky.url(raw_name))
    assert r.rc == 0, r
    assert (tmp_path / "out.raw").read_bytes() == raw
    assert [e["status"] for e in flaky.requests(raw_name)[-2:]] == [206, 200]
    assert flaky.requests(raw_name)[-1]["headers"].get("range") is None
    lines = warnings(r.stderr)
    assert len(lines) == 1 and "changed on the server since the interrupted download" in lines[0], r.stderr


def test_range_not_satisfiable_starts_over(flaky, image, name, cache, tmp_path):
    raw, gz = image
    interrupted(flaky, name, cache, tmp_path, len(gz) - 1000)
    etag = flaky.files[name]["etag"]
    shorter_raw = raw[: 2 << 20]
    shorter = gzip.compress(shorter_raw, compresslevel=1)
    flaky.serve(name, shorter, etag=etag)  # a server whose validator lies: 416 for our offset
    r = pull(cache, "-o", tmp_path / "out.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "out.raw").read_bytes() == shorter_raw
    assert [e["status"] for e in flaky.requests(name)[-2:]] == [416, 200]
    lines = warnings(r.stderr)
    assert len(lines) == 1 and "HTTP 416" in lines[0] and "starting over" in lines[0]


def test_damaged_partial_is_dropped_and_fetched_again(flaky, image, name, cache, tmp_path):
    raw, gz = image
    interrupted(flaky, name, cache, tmp_path, len(gz) // 2)
    part = partials(cache)[0]
    with open(part, "r+b") as f:  # what a crash can leave: right size, wrong bytes
        f.seek(len(gz) // 4)
        f.write(b"\xff" * 4096)
    r = pull(cache, "--json", "-o", tmp_path / "out.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "out.raw").read_bytes() == raw
    assert "fetching it again" in r.stderr
    assert flaky.requests(name)[-1]["headers"].get("range") is None


def test_429_waits_for_retry_after(flaky, image, name, cache, tmp_path):
    flaky.script(name, [("status", 429, {"Retry-After": "2"})])
    t0 = time.monotonic()
    r = pull(cache, "-o", tmp_path / "out.raw", flaky.url(name))
    waited = time.monotonic() - t0
    assert r.rc == 0, r
    assert (tmp_path / "out.raw").read_bytes() == image[0]
    lines = warnings(r.stderr)
    assert len(lines) == 1 and "HTTP 429" in lines[0] and "retry 1 of 5 in 2 s" in lines[0], r.stderr
    assert waited >= 1.9  # Retry-After honoured, not the 1 s backoff


@pytest.mark.parametrize("value", ["-5", "+5", "1.5", "soon"])
def test_unreadable_retry_after_means_the_backoff(flaky, image, name, cache, tmp_path, value):
    """A negative or unreadable Retry-After is no hint: the 1 s backoff, not the 300 s cap. The
    retry line says the wait before it starts; a wrong one ends the pull at once."""
    flaky.script(name, [("status", 503, {"Retry-After": value})])
    proc = subprocess.Popen([VMPULL, "pull", "-q", "--cache-dir", str(cache), "-o", str(tmp_path / "out.raw"),
                             flaky.url(name)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "HTTP 503" in line and line.rstrip().endswith("retry 1 of 5 in 1 s"), line
        out, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    check_sanitizer_report(line + rest)
    assert proc.returncode == 0, rest
    assert (tmp_path / "out.raw").read_bytes() == image[0]


def test_ctrl_c_during_a_retry_wait_exits_130(flaky, image, name, cache, tmp_path):
    """A 503 asking for 5 minutes: Ctrl-C in that wait ends the pull at once (the cancel flag is
    read every tenth of a second while waiting), nothing left behind."""
    flaky.script(name, [("status", 503, {"Retry-After": "300"})])
    proc = subprocess.Popen([VMPULL, "pull", "-q", "--cache-dir", str(cache), "-o", str(tmp_path / "out.raw"),
                             flaky.url(name)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "retry 1 of 5 in 300 s" in line, line
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    check_sanitizer_report(rest)
    assert proc.returncode == 130, rest
    assert len(flaky.requests(name)) == 1
    assert not (tmp_path / "out.raw").exists()


@pytest.mark.parametrize("status", [408, 500, 502, 504])
def test_transient_statuses_are_retried(flaky, image, name, cache, tmp_path, status):
    flaky.script(name, [("status", status)])
    r = pull(cache, "-o", tmp_path / "out.raw", flaky.url(name))
    assert r.rc == 0, r
    assert [e["status"] for e in flaky.requests(name)] == [status, 200]
    assert len(warnings(r.stderr)) == 1


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_other_client_errors_fail_at_once(flaky, image, name, cache, tmp_path, status):
    flaky.script(name, [("status", status)])
    r = pull(cache, "--json", "-o", tmp_path / "out.raw", flaky.url(name))
    assert r.rc == 1
    assert len(flaky.requests(name)) == 1
    assert f"HTTP {status}" in r.json["error"]["message"]
    assert warnings(r.stderr) == []


def test_retries_0_fails_at_once(flaky, image, name, cache, tmp_path):
    flaky.script(name, [("status", 503)])
    r = pull(cache, "--retries", "0", "--json", "-o", tmp_path / "out.raw", flaky.url(name))
    assert r.rc == 1
    assert r.json["error"]["code"] == "http"
    assert len(flaky.requests(name)) == 1
    assert warnings(r.stderr) == []
    assert leftovers(tmp_path / "cache" / "partial") == []


@pytest.mark.slow
def test_503_five_times_succeeds_six_times_fails(flaky, image, cache, tmp_path):
    """Both pulls run at once: the backoff (1+2+4+8+16 s) is waited once for the two."""
    raw, gz = image
    ok, bad = "backoff-ok.raw.gz", "backoff-bad.raw.gz"
    flaky.serve(ok, gz)
    flaky.serve(bad, gz)
    flaky.script(ok, [("status", 503)] * 5)
    flaky.script(bad, [("status", 503)] * 6)
    procs = {n: subprocess.Popen([VMPULL, "pull", "-q", "--json", "--cache-dir", str(cache / n), "-o",
                                  str(tmp_path / f"{n}.raw"), flaky.url(n)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in (ok, bad)}
    out = {n: p.communicate(timeout=120) for n, p in procs.items()}
    for _, err in out.values():
        check_sanitizer_report(err)
    assert procs[ok].returncode == 0, out[ok]
    assert (tmp_path / f"{ok}.raw").read_bytes() == raw
    assert [e["status"] for e in flaky.requests(ok)] == [503] * 5 + [200]
    assert procs[bad].returncode == 1, out[bad]
    assert "HTTP 503" in out[bad][0]
    assert [e["status"] for e in flaky.requests(bad)] == [503] * 6
    for n in (ok, bad):
        lines = warnings(out[n][1])
        assert [line.split("; ")[-1] for line in lines] == [
            f"retry {i} of 5 in {s} s" for i, s in zip(range(1, 6), (1, 2, 4, 8, 16))]
    # the attempts were spaced by the backoff
    times = [e["start"] for e in flaky.requests(bad)]
    assert times[-1] - times[0] >= 30
    assert not (tmp_path / f"{bad}.raw").exists()
