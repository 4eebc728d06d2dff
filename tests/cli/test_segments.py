"""Segmented downloads (--connections): a file whose server takes ranges is fetched as exact byte
ranges over several connections, added while they speed the download up, and read back in order.
Against nginx (limit_rate per connection, the ranges read from its log) and the scripted server:
a range cut short is asked again from its high-water mark, a wrong Content-Range is never written,
a file that changes mid-way starts the pull over with the new version, and a kill -9 with several
ranges in flight leaves a record from which the next pull asks only for what is missing."""
import hashlib
import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import VMPULL, leftovers, run_vmpull

SIZE = 24 << 20  # six pieces of 4 MiB (net/http_segments.c: http_segments_piece_size)
PIECE = 4 << 20


@pytest.fixture(scope="module")
def data():
    return random.Random(17).randbytes(SIZE)


def pull(cache, *args, **kw):
    return run_vmpull("pull", "-q", "--cache-dir", cache, *args, **kw)


def closed_ranges(headers_list):
    """(first, last) of every `bytes=A-B` Range among headers_list, sorted."""
    out = []
    for rng in headers_list:
        if rng and rng.startswith("bytes=") and not rng.endswith("-"):
            a, b = rng[6:].split("-")
            out.append((int(a), int(b)))
    return sorted(out)


def assert_covered_once(first_sent, ranges, size):
    """The first request's bytes and the ranges after it cover [0, size) with no range twice."""
    assert ranges, "no range requests: the download was not split"
    at = ranges[0][0]
    assert 0 < at <= first_sent, (first_sent, ranges)
    for a, b in ranges:
        assert a == at, f"gap or overlap at {at}: {ranges}"
        at = b + 1
    assert at == size, ranges


# ---- nginx ----

def nginx_rows(nginx, name):
    return [r for r in nginx.range_log() if r[0].endswith("/" + name)]


def test_segmented_pull_from_nginx(nginx, data, tmp_path):
    name = "seg-nginx.raw"
    (nginx.root / name).write_bytes(data)
    out = tmp_path / "out.raw"
    r = pull(tmp_path / "cache", "--json", "-o", out, nginx.rate_url("4m", name))
    assert r.rc == 0, r
    assert out.read_bytes() == data
    assert r.json["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    rows = nginx_rows(nginx, name)
    firsts = [row for row in rows if row[1] == ""]
    assert len(firsts) == 1 and firsts[0][2] == 200, rows
    assert all(row[2] == 206 for row in rows if row[1]), rows
    assert len({row[4] for row in rows}) >= 2, "one connection only"
    assert_covered_once(firsts[0][3], closed_ranges(row[1] for row in rows), SIZE)
    assert sum(row[3] for row in rows) <= SIZE * 1.01, rows
    # the cache filed it whole: a second pull is a hit, no request
    before = len(nginx_rows(nginx, name))
    r = pull(tmp_path / "cache", "-o", tmp_path / "again.raw", nginx.rate_url("4m", name))
    assert r.rc == 0, r
    assert (tmp_path / "again.raw").read_bytes() == data
    assert len(nginx_rows(nginx, name)) == before + 1  # the revalidation (304)


def test_connections_1_is_one_streaming_request(nginx, data, tmp_path):
    name = "seg-nginx-one.raw"
    (nginx.root / name).write_bytes(data)
    out = tmp_path / "out.raw"
    r = pull(tmp_path / "cache", "--connections", "1", "-o", out, nginx.rate_url("16m", name))
    assert r.rc == 0, r
    assert out.read_bytes() == data
    rows = nginx_rows(nginx, name)
    assert [(row[1], row[2], row[3]) for row in rows] == [("", 200, SIZE)], rows


def test_no_cache_ranges_go_to_an_unlinked_file_in_tmpdir(nginx, data, tmp_path):
    name = "seg-nginx-nocache.raw"
    (nginx.root / name).write_bytes(data)
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    cache = tmp_path / "cache"
    out = tmp_path / "out.raw"
    r = pull(cache, "--no-cache", "-o", out, nginx.rate_url("4m", name), env={"TMPDIR": str(tmpdir)})
    assert r.rc == 0, r
    assert out.read_bytes() == data
    assert closed_ranges(row[1] for row in nginx_rows(nginx, name)), "the download was not split"
    assert leftovers(tmpdir) == []
    assert not cache.exists() or leftovers(cache) == []


@pytest.mark.parametrize("bad", ["-1", "0", "33", "many"])
def test_connections_out_of_range_is_refused(bad, tmp_path):
    r = run_vmpull("pull", "--connections", bad, "-o", tmp_path / "out.raw", "http://127.0.0.1:9/x.raw")
    assert r.rc != 0 and "--connections" in r.stderr, r
    assert leftovers(tmp_path) == []


# ---- the scripted server: faults ----

@pytest.fixture
def name(flaky, data, request):
    n = request.node.name.replace("[", "-").replace("]", "") + ".raw"
    flaky.serve(n, data, rate=4 << 20, ranges=True)
    return n


def warnings(stderr):
    return [line for line in stderr.splitlines() if line.startswith("vmpull: warning:")]


def test_a_range_cut_short_is_asked_again_from_where_it_stopped(flaky, data, name, tmp_path):
    flaky.script_range(name, PIECE, [("cut", PIECE + (1 << 20))])
    out = tmp_path / "out.raw"
    r = pull(tmp_path / "cache", "-o", out, flaky.url(name))
    assert r.rc == 0, r
    assert out.read_bytes() == data
    ranges = [e["headers"].get("range") for e in flaky.requests(name)]
    assert f"bytes={PIECE}-{2 * PIECE - 1}" in ranges, ranges
    assert f"bytes={PIECE + (1 << 20)}-{2 * PIECE - 1}" in ranges, ranges  # from its high-water mark
    (w,) = warnings(r.stderr)
    assert flaky.url(name) in w and "retry 1 of 5" in w, r.stderr


def test_a_wrong_content_range_is_never_written_and_asked_again(flaky, data, name, tmp_path):
    flaky.script_range(name, PIECE, ["bad-range"])
    out = tmp_path / "out.raw"
    r = pull(tmp_path / "cache", "-o", out, flaky.url(name))
    assert r.rc == 0, r
    assert out.read_bytes() == data
    (w,) = warnings(r.stderr)
    assert flaky.url(name) in w, w
    assert f"HTTP 206 for bytes {PIECE + 1}-{2 * PIECE}/{SIZE}, asked for bytes {PIECE}-{2 * PIECE - 1}/{SIZE}" in w, w
    ranges = [e["headers"].get("range") for e in flaky.requests(name)]
    assert ranges.count(f"bytes={PIECE}-{2 * PIECE - 1}") == 2, ranges


def test_a_content_range_wrong_every_time_fails_naming_the_url(flaky, data, name, tmp_path):
    flaky.script_range(name, PIECE, ["bad-range"] * 5)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    r = pull(tmp_path / "cache", "--retries", "1", "-o", out_dir / "out.raw", flaky.url(name))
    assert r.rc != 0, r
    assert flaky.url(name) in r.stderr and "asked for bytes" in r.stderr, r.stderr
    assert leftovers(out_dir) == []


def test_a_file_that_changes_mid_way_starts_over_with_the_new_version(flaky, data, name, tmp_path):
    new = bytes(b ^ 0x5A for b in data[:SIZE // 2]) + data[SIZE // 2:]
    flaky.script_range(name, PIECE, [("change", new, None)])
    out = tmp_path / "out.raw"
    r = pull(tmp_path / "cache", "--json", "-o", out, flaky.url(name))
    assert r.rc == 0, r
    assert out.read_bytes() == new
    assert r.json["digest"] == "sha256:" + hashlib.sha256(new).hexdigest()
    assert "changed on the server during the download; starting over with the new version" in r.stderr, r.stderr


def segment_record(cache):
    recs = [json.loads(p.read_text()) for p in (Path(cache) / "partial").glob("*.json")]
    return recs[0] if recs else None


def test_kill_9_with_ranges_in_flight_then_only_the_missing_ranges(flaky, data, name, tmp_path):
    flaky.serve(name, data, rate=2 << 20, ranges=True)
    cache = tmp_path / "cache"
    out = tmp_path / "out.raw"
    p = subprocess.Popen([VMPULL, "pull", "-q", "--cache-dir", str(cache), "-o", str(out), flaky.url(name)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    rec = None
    while time.monotonic() < deadline and p.poll() is None:
        try:
            rec = segment_record(cache)
        except (OSError, ValueError):
            rec = None  # between the temporary and its rename
        # several ranges with bytes on disk, durably recorded
        if rec and len(rec.get("segments", [])) >= 3:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    rec = segment_record(cache)
    assert rec and len(rec["segments"]) >= 3, rec
    have = [tuple(s) for s in rec["segments"]]
    assert not out.exists()
    first_round = len(flaky.requests(name))

    flaky.serve(name, data, rate=8 << 20, ranges=True)  # same bytes and ETag
    r = pull(cache, "--json", "-o", out, flaky.url(name))
    assert r.rc == 0, r
    assert out.read_bytes() == data
    assert r.json["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    second = flaky.requests(name)[first_round:]
    prefix = have[0][1] if have[0][0] == 0 else 0
    assert second[0]["headers"]["range"] == (f"bytes={prefix}-" if prefix else f"bytes=0-{SIZE - 1}"), second[0]
    for a, b in closed_ranges(e["headers"].get("range") for e in second[1:]):
        assert all(b < s or a >= e for s, e in have), (a, b, have)  # none of what the record holds
    recorded = sum(e - s for s, e in have)
    assert sum(e["sent"] for e in second) < SIZE - recorded // 2, (recorded, [e["sent"] for e in second])
    assert list((cache / "partial").iterdir()) == []
