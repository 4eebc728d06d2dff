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

from conftest import VMPULL, check_sanitizer_report, leftovers, node_file_name, run_vmpull

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
    assert SIZE <= r.json["bytes_transferred"] <= SIZE * 1.01, r.json
    # the cache filed it whole: a second pull is a hit, no request
    before = len(nginx_rows(nginx, name))
    r = pull(tmp_path / "cache", "-o", tmp_path / "again.raw", nginx.rate_url("4m", name))
    assert r.rc == 0, r
    assert (tmp_path / "again.raw").read_bytes() == data
    assert len(nginx_rows(nginx, name)) == before + 1  # the revalidation (304)


def test_ranges_go_where_the_first_request_was_redirected(nginx, data, tmp_path):
    """The effective URL is pinned: a redirector (a mirror network's) is asked once, not per range."""
    name = "seg-nginx-redirected.raw"
    (nginx.root / name).write_bytes(data)
    out = tmp_path / "out.raw"
    r = pull(tmp_path / "cache", "-o", out, nginx.url("redirect/rate/4m/" + name))
    assert r.rc == 0, r
    assert out.read_bytes() == data
    rows = nginx_rows(nginx, name)
    assert [row[0] for row in rows if row[0].startswith("/redirect/")] == ["/redirect/rate/4m/" + name], rows
    ranged = [row for row in rows if row[1]]
    assert ranged and all(row[0] == "/rate/4m/" + name for row in ranged), rows


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
    n = node_file_name(request, ".raw")
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



def test_a_range_retry_is_a_retry_event(flaky, data, name, tmp_path):
    """With --progress json a range's retry is a retry event too, numbered within its range as its warning."""
    flaky.script_range(name, PIECE, [("status", 503, {"Retry-After": "0"})])
    out = tmp_path / "out.raw"
    r = run_vmpull("pull", "--progress", "json", "--cache-dir", tmp_path / "cache", "-o", out, flaky.url(name))
    assert r.rc == 0, r
    assert out.read_bytes() == data
    events = [json.loads(line) for line in r.stderr.splitlines()]
    (w,) = [e["message"] for e in events if e["event"] == "warning"]
    (retry,) = [e for e in events if e["event"] == "retry"]
    assert "retry 1 of 5" in w and retry["attempt"] == 1 and retry["wait_s"] == 0, events
    assert retry["reason"] == "HTTP 503 Scripted", retry

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
    # named so that a vmpull which does not know "segments" finds no record (and starts over)
    assert "key" not in rec and rec["segmented_key"] == flaky.url(name), rec
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
    assert r.json["bytes_transferred"] <= SIZE - recorded, (recorded, r.json)
    assert list((cache / "partial").iterdir()) == []


# ---- a registry blob: behind a link that caps each connection ----

SEG_LOG = ("  log_format seg '$host $request_uri \"$http_range\" $status $body_bytes_sent $connection "
           "auth=$http_authorization';\n")
RATE_CAP = "    limit_rate 4m;\n    sendfile_max_chunk 16k;\n"
REPO = "segments/machine"


class Fronts:
    """A rate-capped proxy in front of the registry, and a front that redirects blobs to a
    rate-capped storage host (localhost: another host name)."""

    def __init__(self, folder, upstream):
        from servers.common import start_nginx
        from servers.fixture_registry import blob_redirect_servers

        self.tmp = Path(folder)

        def render(proxy, front, store):
            capped_proxy = f"""  server {{
    listen 127.0.0.1:{proxy};
    access_log {self.tmp}/proxy.log seg;
    location / {{
      proxy_pass https://127.0.0.1:{upstream.port};
      proxy_ssl_verify off;
      proxy_set_header Host $http_host;
      limit_rate 4m;
      sendfile_max_chunk 16k;
    }}
  }}
"""
            storage = upstream.storage / "docker" / "registry" / "v2"
            return SEG_LOG + capped_proxy + blob_redirect_servers(self.tmp, front, store, upstream.port, storage, "seg",
                                                                  store_limits=RATE_CAP)

        self.proc, (self.proxy, self.front, self.store) = start_nginx(self.tmp, 3, render, what="nginx (fronts)")

    def rows(self, log, since=0):
        f = self.tmp / log
        out = []
        for line in (f.read_text(errors="replace") if f.exists() else "").splitlines()[since:]:
            head, rng, tail = line.split('"')
            if len(head.split()) != 2:
                continue  # the readiness probe, not a request
            host, uri = head.split()
            status, sent, conn, auth = tail.split(None, 3)
            out.append({"host": host, "uri": uri, "range": "" if rng == "-" else rng, "status": int(status),
                        "sent": int(sent), "conn": int(conn), "auth": auth})
        return out


@pytest.fixture(scope="module")
def fronts(tmp_path_factory, registry_basic, data):
    from servers.common import stop_process
    from servers.fixture_registry import REGISTRY_PASSWORD, REGISTRY_USER
    from servers.oci_layout import Layout

    lay = Layout(tmp_path_factory.mktemp("seg-layout") / "layout")
    entry = lay.disk_artifact(data, "machine.x86_64.raw", media_type="application/octet-stream", arch="x86_64",
                              disktype="qemu")
    lay.write_index([(lay.index([entry]), "v1")])
    registry_basic.push(lay.path, "v1", REPO, "v1")
    f = Fronts(tmp_path_factory.mktemp("seg-fronts"), registry_basic)
    f.creds = f"{REGISTRY_USER}:{REGISTRY_PASSWORD}"
    yield f
    stop_process(f.proc)


def pull_blob(fronts, port, tmp_path, *args):
    return run_vmpull("pull", "-q", "--json", "--tls-verify=false", "--creds", fronts.creds, "--arch", "x86_64",
                      "--cache-dir", tmp_path / "cache", "-o", tmp_path / "out.raw", *args,
                      f"docker://127.0.0.1:{port}/{REPO}:v1")


def blob_rows(rows):
    return [r for r in rows if "/blobs/" in r["uri"] or r["uri"].endswith("/data")]


def test_segmented_registry_blob_with_its_credentials(fronts, data, tmp_path):
    """No redirect: the ranges go to the registry itself, with its credentials."""
    since = len(fronts.rows("proxy.log"))
    r = pull_blob(fronts, fronts.proxy, tmp_path)
    assert r.rc == 0, r
    assert (tmp_path / "out.raw").read_bytes() == data
    rows = blob_rows(fronts.rows("proxy.log", since))
    firsts = [row for row in rows if row["range"] == ""]
    assert len(firsts) == 1 and firsts[0]["status"] == 200, rows
    assert all(row["status"] == 206 and row["auth"].startswith("auth=Basic ") for row in rows if row["range"]), rows
    assert_covered_once(firsts[0]["sent"], closed_ranges(row["range"] for row in rows), SIZE)
    assert sum(row["sent"] for row in rows) <= SIZE * 1.01, rows
    assert "Corr3ct" not in r.stderr + r.stdout


def test_segmented_registry_blob_redirected_to_storage_without_credentials(fronts, data, tmp_path):
    """A blob the registry redirects to storage: every range goes to the storage URL the first
    request ended at (pinned), and none carries the registry's credentials."""
    since_front, since_store = len(fronts.rows("front.log")), len(fronts.rows("store.log"))
    r = pull_blob(fronts, fronts.front, tmp_path)
    assert r.rc == 0, r
    assert (tmp_path / "out.raw").read_bytes() == data
    stored = blob_rows(fronts.rows("store.log", since_store))
    assert stored and all(row["host"] == "localhost" and row["auth"] == "auth=-" for row in stored), stored
    firsts = [row for row in stored if row["range"] == ""]
    assert len(firsts) == 1, stored
    assert_covered_once(firsts[0]["sent"], closed_ranges(row["range"] for row in stored), SIZE)
    # the registry saw the blob asked for once: the ranges did not go through its redirect again
    assert len(blob_rows(fronts.rows("front.log", since_front))) == 1



def test_a_registry_blob_whose_resumed_entry_cannot_land_asks_the_rest_with_its_credentials(fronts, data, tmp_path):
    """A resumed blob (entry: all but the last 256 KiB of the first piece, and pieces 2 to 4) whose
    last range fails to land past 21 MiB (a file size limit, EFBIG; the disk goes to a pipe): the
    cache is given up once, and the rest comes from the reader's byte in one request to the
    registry, with its credentials (test_segments_cache_write_failure.py for plain URLs)."""
    import os
    import resource

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    key = f"blob {digest}"
    name = hashlib.sha256(key.encode()).hexdigest()
    cache = tmp_path / "cache"
    (cache / "partial").mkdir(parents=True)
    held = [(0, PIECE - 256 * 1024), (PIECE, 5 * PIECE)]
    entry = bytearray(SIZE)
    for a, b in held:
        entry[a:b] = data[a:b]
    (cache / "partial" / name).write_bytes(entry)
    (cache / "partial" / f"{name}.json").write_text(
        json.dumps({"size": SIZE, "segments": [list(h) for h in held], "segmented_key": key}))
    limit = 5 * PIECE + (1 << 20)

    def preexec():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    since = len(fronts.rows("proxy.log"))
    proc = subprocess.run([VMPULL, "pull", "-q", "--tls-verify=false", "--creds", fronts.creds, "--arch", "x86_64",
                           "--cache-dir", str(cache), "-o", "-", f"docker://127.0.0.1:{fronts.proxy}/{REPO}:v1"],
                          capture_output=True, timeout=120, preexec_fn=preexec, env=dict(os.environ))
    err = proc.stderr.decode(errors="replace")
    check_sanitizer_report(err)
    assert proc.returncode == 0, err
    assert proc.stdout == data
    assert [w for w in warnings(err) if "cache" in w] == [
        f"vmpull: warning: cache disabled for this pull: write {cache}/partial/{name}: File too large"], err
    # (an earlier test's requests may be logged late: this pull's connections are the later ones)
    rows = blob_rows(fronts.rows("proxy.log", since))
    (first,) = [row for row in rows if row["range"] == f"bytes={held[0][1]}-"]
    rows = [first] + [row for row in rows if row["conn"] >= first["conn"] and row is not first]
    assert first["status"] == 206, rows
    assert [row["range"] for row in rows if row["range"].endswith(f"-{SIZE - 1}")] == [f"bytes={5 * PIECE}-{SIZE - 1}"]
    (rest,) = [row for row in rows[1:] if row["range"].endswith("-")]
    at = int(rest["range"][6:-1])
    assert PIECE <= at <= limit and rest["status"] == 206 and rest["sent"] == SIZE - at, rows
    assert rest["auth"].startswith("auth=Basic "), rest
    assert [p.name for p in (cache / "partial").iterdir() if p.name.startswith(name)] == []
    assert not (cache / "blobs" / "sha256" / digest[7:]).exists()

def test_a_range_refused_as_expired_is_asked_again(flaky, data, name, tmp_path):
    """A 403 on a range (a signed URL that expired) is asked again (the URL first asked for), not fatal."""
    flaky.script_range(name, PIECE, [("status", 403)])
    out = tmp_path / "out.raw"
    r = pull(tmp_path / "cache", "-o", out, flaky.url(name))
    assert r.rc == 0, r
    assert out.read_bytes() == data
    ranges = [e["headers"].get("range") for e in flaky.requests(name)]
    assert ranges.count(f"bytes={PIECE}-{2 * PIECE - 1}") == 2, ranges
    (w,) = warnings(r.stderr)
    assert "HTTP 403" in w and flaky.url(name) in w, w


def test_sigint_with_ranges_in_flight_stops_and_keeps_them(flaky, data, name, tmp_path):
    flaky.serve(name, data, rate=2 << 20, ranges=True)
    cache = tmp_path / "cache"
    out = tmp_path / "out.raw"
    p = subprocess.Popen([VMPULL, "pull", "-q", "--cache-dir", str(cache), "-o", str(out), flaky.url(name)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None:
        try:
            rec = segment_record(cache)
        except (OSError, ValueError):
            rec = None
        if rec and len(rec.get("segments", [])) >= 2:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    check_sanitizer_report(err)
    assert p.returncode == 130, err
    assert not out.exists()
    rec = segment_record(cache)
    assert rec and len(rec["segments"]) >= 2, rec  # kept for the next pull to resume
    # every connection was closed: the server stops sending (it notices at its next write)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(e["end"] is None for e in flaky.requests(name)):
        time.sleep(0.05)
    assert all(e["end"] is not None for e in flaky.requests(name)), flaky.requests(name)
