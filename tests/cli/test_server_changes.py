"""When the server changes the file or goes away (issue 17), against the scripted flaky server.

A file replaced on the server mid-download: the retry's If-Range gets a full 200 with another
validator, and the pull starts over from byte 0 with that response's bytes (one warning), at most
twice; a 200 under the same validator (a server ignoring Range) goes on where it was. A cached
URL whose server cannot be reached (the port is closed) is served from the cache with one warning
naming the copy's age, reported as cache "stale"; a 404 or --refresh do not fall back."""
import gzip
import hashlib
import os
import random
import time
from pathlib import Path

import pytest

from conftest import node_file_name, run_vmpull
from servers.fixture_flaky import FlakyServer


@pytest.fixture(scope="module")
def versions():
    """Three versions of one disk, gzip'd: each a different file under its own ETag."""
    out = []
    for seed in (17, 18, 19):
        rnd = random.Random(seed)
        raw = rnd.randbytes(2 << 20) + bytes(1 << 20) + rnd.randbytes(1 << 20)
        out.append((raw, gzip.compress(raw, compresslevel=1)))
    return out


@pytest.fixture
def name(flaky, versions, request):
    n = node_file_name(request, ".raw.gz")
    flaky.serve(n, versions[0][1])
    return n


def pull(cache, *args):
    return run_vmpull("pull", "-q", "--json", "--cache-dir", cache, *args)


def warnings(stderr):
    return [line for line in stderr.splitlines() if line.startswith("vmpull: warning:")]


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


@pytest.mark.parametrize("cache_on", [True, False], ids=["cache", "no-cache"])
def test_file_changed_once_mid_download_gives_the_new_version(flaky, versions, name, tmp_path, cache_on):
    (_, old_gz), (new_raw, new_gz) = versions[0], versions[1]
    cut = len(old_gz) // 2
    flaky.script(name, [("cut", cut), ("change", new_gz, None)])
    cache = tmp_path / "cache"
    out = tmp_path / "out.raw"
    r = pull(cache, *([] if cache_on else ["--no-cache"]), "-o", out, flaky.url(name))
    assert r.rc == 0, r
    assert out.read_bytes() == new_raw
    assert r.json["digest"] == sha256(new_gz)
    reqs = flaky.requests(name)
    # The retry's If-Range named the old version; the 200 that answered it is the new version's disk.
    assert [e["status"] for e in reqs] == [200, 200]
    assert reqs[1]["headers"]["range"] == f"bytes={cut}-" and reqs[1]["headers"]["if-range"] != flaky.files[name]["etag"]
    changed = [w for w in warnings(r.stderr) if "changed on the server" in w]
    assert len(changed) == 1 and "starting over" in changed[0], r.stderr
    # Every byte read counts, the old version's discarded ones too; nothing was resumed.
    assert r.json["bytes_transferred"] == cut + len(new_gz), r.json
    assert r.json["resumed_from"] == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left
    if cache_on:
        assert r.json["cache"] == "miss"
        blobs = cache / "blobs" / "sha256"
        assert [p.name for p in blobs.iterdir()] == [hashlib.sha256(new_gz).hexdigest()]
        assert not [p for p in (cache / "partial").iterdir()]
        # The entry kept is the new version's, under its validator: the next pull revalidates it.
        r2 = pull(cache, "-o", tmp_path / "again.raw", flaky.url(name))
        assert r2.rc == 0 and r2.json["cache"] == "revalidated", r2
        assert flaky.requests(name)[-1]["status"] == 304
        assert (tmp_path / "again.raw").read_bytes() == new_raw


def test_file_changed_once_while_resuming_drops_the_old_partial(flaky, versions, name, tmp_path):
    """An interrupted pull left half of version 1; this pull resumes it, the resumed transfer breaks,
    and the retry finds version 2: the replayed half and the partial go, version 2 is the disk."""
    (_, old_gz), (new_raw, new_gz) = versions[0], versions[1]
    cache = tmp_path / "cache"
    flaky.script(name, [("cut", len(old_gz) // 4)])
    r = pull(cache, "--retries", "0", "-o", tmp_path / "out.raw", flaky.url(name))
    assert r.rc == 1, r
    flaky.script(name, [("cut", len(old_gz) // 2), ("change", new_gz, None)])
    r = pull(cache, "-o", tmp_path / "out.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "out.raw").read_bytes() == new_raw
    assert [e["status"] for e in flaky.requests(name)[-2:]] == [206, 200]
    assert r.json["resumed_from"] == 0 and r.json["cache"] == "miss", r.json
    assert [p.name for p in (cache / "blobs" / "sha256").iterdir()] == [hashlib.sha256(new_gz).hexdigest()]


def test_file_changing_on_every_request_fails_after_two_restarts(flaky, versions, name, tmp_path):
    gz = [v[1] for v in versions]
    cut = len(gz[0]) // 3
    # Every request finds another version, and every transfer breaks at a third of the file.
    flaky.script(name, [("cut", cut)] + [("change", gz[i % 3], cut) for i in range(1, 8)])
    out = tmp_path / "out.raw"
    r = pull(tmp_path / "cache", "-o", out, flaky.url(name))
    assert r.rc == 1, r
    err = r.json["error"]
    assert err["code"] == "http" and "changed on the server during the download" in err["message"], err
    # The first download, then one request per change: two restarts, and the third change ends it.
    assert len(flaky.requests(name)) == 4
    changed = [w for w in warnings(r.stderr) if "changed on the server" in w]
    assert len(changed) == 2, r.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_same_validator_200_skips_what_was_read(flaky, versions, name, tmp_path):
    """A server that ignores Range sends the whole file again under the same ETag: the bytes
    already read are skipped and the pull goes on, without starting over."""
    raw, gz = versions[0]
    cut = len(gz) // 2
    flaky.script(name, [("cut", cut), "ignore-range"])
    r = pull(tmp_path / "cache", "-o", tmp_path / "out.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "out.raw").read_bytes() == raw
    assert [e["status"] for e in flaky.requests(name)] == [200, 200]
    assert not [w for w in warnings(r.stderr) if "changed on the server" in w], r.stderr
    assert len(warnings(r.stderr)) == 1  # the retry


# ---- the origin goes away ----

@pytest.fixture
def origin(versions):
    """A server of our own, to be stopped mid-test: its port then refuses connections."""
    srv = FlakyServer()
    srv.serve("disk.raw.gz", versions[0][1])
    yield srv
    srv.stop()


def cached_then_down(origin, tmp_path, age_s=None):
    cache = tmp_path / "cache"
    url = origin.url("disk.raw.gz")
    r = pull(cache, "-o", tmp_path / "first.raw", url)
    assert r.rc == 0 and r.json["cache"] == "miss", r
    if age_s is not None:
        then = time.time() - age_s
        for ref in (cache / "refs").iterdir():
            os.utime(ref, (then, then))
    origin.stop()
    return cache, url


def test_unreachable_origin_serves_the_cached_copy(origin, versions, tmp_path):
    raw, gz = versions[0]
    cache, url = cached_then_down(origin, tmp_path, age_s=3 * 86400 + 3600)
    r = pull(cache, "-o", tmp_path / "out.raw", url)
    assert r.rc == 0, r
    assert (tmp_path / "out.raw").read_bytes() == raw
    assert r.json["cache"] == "stale" and r.json["bytes_transferred"] == 0, r.json
    assert r.json["digest"] == sha256(gz)
    lines = warnings(r.stderr)
    assert len(lines) == 1 and "server unreachable; using the copy cached 3 days ago" in lines[0], r.stderr
    assert url in lines[0]


def test_unreachable_origin_with_a_kept_disk_is_still_stale(origin, versions, tmp_path):
    """The stale copy's kept disk makes the output; the outcome still says the server was not asked."""
    raw = versions[0][0]
    cache = tmp_path / "cache"
    url = origin.url("disk.raw.gz")
    r = pull(cache, "--keep-uncompressed", "-o", tmp_path / "first.raw", url)
    assert r.rc == 0, r
    origin.stop()
    r = pull(cache, "--keep-uncompressed", "-o", tmp_path / "out.raw", url)
    assert r.rc == 0 and r.json["cache"] == "stale", r
    assert (tmp_path / "out.raw").read_bytes() == raw
    assert len(warnings(r.stderr)) == 1, r.stderr


def test_unreachable_origin_is_asked_once(origin, versions, tmp_path):
    """No retries before the fallback: the one revalidation failed to connect, the copy serves."""
    cache, url = cached_then_down(origin, tmp_path)
    r = pull(cache, "--retries", "5", "-o", tmp_path / "out.raw", url)
    assert r.rc == 0, r
    assert [w for w in warnings(r.stderr) if "retry" in w] == [], r.stderr
    assert r.json["cache"] == "stale"


def test_refresh_refuses_the_stale_copy(origin, tmp_path):
    cache, url = cached_then_down(origin, tmp_path)
    r = pull(cache, "--refresh", "--retries", "0", "-o", tmp_path / "out.raw", url)
    assert r.rc == 1, r
    assert r.json["error"]["code"] == "network", r.json
    assert not (tmp_path / "out.raw").exists()
    assert "using the copy cached" not in r.stderr


def test_origin_answering_404_does_not_fall_back(flaky, versions, tmp_path):
    """The server is there and says the file is gone: that is an answer, not an outage."""
    cache = tmp_path / "cache"
    n = "gone-" + tmp_path.name + ".raw.gz"
    flaky.serve(n, versions[0][1])
    r = pull(cache, "-o", tmp_path / "first.raw", flaky.url(n))
    assert r.rc == 0, r
    with flaky.lock:
        del flaky.files[n]
    r = pull(cache, "-o", tmp_path / "out.raw", flaky.url(n))
    assert r.rc == 1, r
    assert r.json["error"]["code"] == "not_found", r.json
    assert "using the copy cached" not in r.stderr
    assert not (tmp_path / "out.raw").exists()


def test_no_fallback_without_a_cached_copy(origin, tmp_path):
    """The fallback needs a copy: an unreachable server with an empty cache still fails."""
    url = origin.url("disk.raw.gz")
    origin.stop()
    r = pull(tmp_path / "cache", "--retries", "0", "-o", tmp_path / "out.raw", url)
    assert r.rc == 1 and r.json["error"]["code"] == "network", r
    assert Path(tmp_path / "out.raw").exists() is False
