"""A segmented download whose bytes cannot land (a full disk, a quota, a file size limit) goes on
over one connection: the cache only saves time (test_cache_write_failure.py), and so do the ranges.

The ranges and the first connection write into the cache entry (or, with --no-cache, an unlinked
temporary file) at their offsets; a write there that fails says so once, stops the ranges, drops
the entry and its record (nothing is committed or resumed from it), and the pull reads the rest
from the first connection if it still streams, else from one request `Range: bytes=POS-` (with
If-Range) at the byte the decoder reached: no byte already handed on is fetched again.

The failures are made as in test_cache_write_failure.py, with RLIMIT_FSIZE (EFBIG past a size,
what stops root too); the disk goes to a pipe (`-o -`) where the limit must be below its size."""
import gzip
import hashlib
import json
import os
import random
import resource
import signal
import subprocess
import urllib.request

import pytest

from conftest import VMPULL, check_sanitizer_report, leftovers, run_vmpull

MIB = 1 << 20
SIZE = 24 * MIB  # six pieces of 4 MiB (net/http_segments.c: http_segments_piece_size)
PIECE = 4 * MIB


@pytest.fixture(scope="module")
def data():
    return random.Random(23).randbytes(SIZE)


def entry_name(key):
    return hashlib.sha256(key.encode()).hexdigest()


def limit_file_size(limit):
    def preexec():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def pull_limited(limit, *args, env=None):
    """vmpull pull ARGS under a file size limit; (rc, stdout bytes, stderr text)."""
    proc = subprocess.run([VMPULL, "pull", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=120, preexec_fn=limit_file_size(limit), env=env)
    stderr = proc.stderr.decode(errors="replace")
    check_sanitizer_report(stderr, args)
    return proc.returncode, proc.stdout, stderr


def warnings(stderr):
    return [line for line in stderr.splitlines() if line.startswith("vmpull: warning: ")]


def rows_of(nginx, name, since=0):
    return [r for r in nginx.range_log()[since:] if r[0].endswith("/" + name)]


def closed(row):
    return row[1].startswith("bytes=") and not row[1].endswith("-")


def open_ended(row):
    return row[1].startswith("bytes=") and row[1].endswith("-")


def check_entry_gone(cache, key):
    name = entry_name(key)
    assert [p for p in leftovers(cache / "partial") if p.startswith(name)] == [], leftovers(cache)
    blobs = cache / "blobs" / "sha256"
    assert not blobs.is_dir() or list(blobs.iterdir()) == []


def check_second_pull_downloads_and_caches(nginx, name, url, cache, tmp_path, expected_disk, digest):
    before = len(nginx.range_log())
    r = run_vmpull("pull", "-q", "--json", "--cache-dir", cache, "-o", tmp_path / "again.raw", url)
    assert r.rc == 0, r
    assert (tmp_path / "again.raw").read_bytes() == expected_disk
    assert r.stderr == ""
    assert r.json["cache"] == "miss", r.json
    rows = rows_of(nginx, name, before)
    assert [row[2] for row in rows if not row[1]] == [200], rows  # a download, not a 304 or a resume
    assert sorted(p.name for p in (cache / "blobs" / "sha256").iterdir()) == [digest]


def test_a_range_that_cannot_land_in_the_entry_goes_on_over_the_first_connection(nginx, tmp_path):
    """The probe's range takes the last piece, past the limit: its first write fails while the first
    connection streams, which then carries the whole file alone."""
    raw = random.Random(29).randbytes(SIZE)
    gz = gzip.compress(raw, compresslevel=1)
    assert len(gz) > len(raw)  # the download is a little larger than the disk: only the entry hits the limit
    name = "segfail-first.raw.gz"
    (nginx.root / name).write_bytes(gz)
    url = nginx.rate_url("4m", name)
    cache = tmp_path / "cache"
    out = tmp_path / "disk.raw"
    rc, stdout, err = pull_limited(len(raw), "-q", "--json", "--cache-dir", cache, "-o", out, url)
    assert rc == 0, err
    assert out.read_bytes() == raw
    assert json.loads(stdout)["digest"] == "sha256:" + hashlib.sha256(gz).hexdigest()
    assert warnings(err) == [f"vmpull: warning: cache disabled for this pull: write {cache}/partial/"
                             f"{entry_name(url)}: File too large"], err
    rows = rows_of(nginx, name)
    assert any(closed(row) for row in rows), f"the download was not split: {rows}"
    # the first request went on to the end; nothing was asked again
    assert [(row[1], row[2]) for row in rows if not closed(row)] == [("", 200)], rows
    assert len(gz) <= sum(row[3] for row in rows if not closed(row)) <= len(gz) * 1.01, rows
    check_entry_gone(cache, url)
    check_second_pull_downloads_and_caches(nginx, name, url, cache, tmp_path, raw, hashlib.sha256(gz).hexdigest())


def test_the_first_connection_cannot_land_its_bytes(nginx, data, tmp_path):
    """The first connection's own write into the entry fails (before any range could): the bytes it
    read are handed on, and it carries the rest."""
    name = "segfail-own.raw"
    (nginx.root / name).write_bytes(data)
    url = nginx.url(name)
    cache = tmp_path / "cache"
    rc, out, err = pull_limited(2 * MIB + 123, "-q", "--cache-dir", cache, "-o", "-", url)
    assert rc == 0, err
    assert out == data
    assert warnings(err) == [f"vmpull: warning: cache disabled for this pull: write {cache}/partial/"
                             f"{entry_name(url)}: File too large"], err
    rows = rows_of(nginx, name)
    assert [(row[1], row[2]) for row in rows if not closed(row)] == [("", 200)], rows
    check_entry_gone(cache, url)
    check_second_pull_downloads_and_caches(nginx, name, url, cache, tmp_path, data, hashlib.sha256(data).hexdigest())


def nginx_validators(url):
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD")) as resp:
        return resp.headers["ETag"], resp.headers["Last-Modified"]


def write_segmented_partial(cache, key, data, held, **record):
    """What an interrupted segmented download leaves: the bytes it held at their offsets, and the
    record naming them (lib/store/cache.c: cache_partial_put)."""
    (cache / "partial").mkdir(parents=True)
    entry = bytearray(len(data))
    for a, b in held:
        entry[a:b] = data[a:b]
    (cache / "partial" / entry_name(key)).write_bytes(entry)
    (cache / "partial" / f"{entry_name(key)}.json").write_text(json.dumps(
        {**record, "size": len(data), "segments": [list(h) for h in held], "segmented_key": key}))


# The entry holds all but the last 256 KiB of the first piece, and pieces 2 to 4: the resume's
# first connection brings those 256 KiB and ends where the entry's bytes go on; the reader reads
# them back while the one range left, for the last piece, writes into the entry until the limit.
HELD = [(0, PIECE - 256 * 1024), (PIECE, 5 * PIECE)]
LIMIT = 5 * PIECE + MIB


def test_a_resumed_entry_that_cannot_take_the_last_piece_asks_from_the_reader_position(nginx, data, tmp_path):
    """The first connection is gone when the range fails: one request from the reader's byte
    brings the rest, and nothing the first connection handed on comes twice."""
    name = "segfail-resumed.raw"
    (nginx.root / name).write_bytes(data)
    url = nginx.rate_url("2m", name)
    etag, last_modified = nginx_validators(url)
    cache = tmp_path / "cache"
    write_segmented_partial(cache, url, data, HELD, etag=etag, last_modified=last_modified)
    since = len(nginx.range_log())
    rc, out, err = pull_limited(LIMIT, "-q", "--cache-dir", cache, "-o", "-", url)
    assert rc == 0, err
    assert out == data
    assert [w for w in warnings(err) if "resuming" not in w] == [
        f"vmpull: warning: cache disabled for this pull: write {cache}/partial/{entry_name(url)}: File too large"], err
    rows = rows_of(nginx, name, since)
    assert rows[0][1] == f"bytes={HELD[0][1]}-" and rows[0][2] == 206, rows
    assert [row[1] for row in rows if closed(row)] == [f"bytes={5 * PIECE}-{SIZE - 1}"], rows
    (rest,) = [row for row in rows[1:] if open_ended(row)]
    at = int(rest[1][6:-1])
    # from the reader's byte: past what the first connection handed on, at most where the writes failed
    assert PIECE <= at <= LIMIT and rest[2] == 206 and rest[3] == SIZE - at, rows
    check_entry_gone(cache, url)
    check_second_pull_downloads_and_caches(nginx, name, url, cache, tmp_path, data, hashlib.sha256(data).hexdigest())


def test_no_cache_ranges_that_cannot_land_in_the_temporary_file(nginx, data, tmp_path):
    name = "segfail-nocache.raw"
    (nginx.root / name).write_bytes(data)
    url = nginx.rate_url("4m", name)
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    rc, out, err = pull_limited(2 * PIECE, "-q", "--no-cache", "-o", "-", url,
                                env={**os.environ, "TMPDIR": str(tmpdir)})
    assert rc == 0, err
    assert out == data
    assert warnings(err) == [f"vmpull: warning: ranges disabled for this pull: write a temporary file in {tmpdir}: "
                             "File too large; going on over one connection"], err
    rows = rows_of(nginx, name)
    assert any(closed(row) for row in rows), f"the download was not split: {rows}"
    assert [(row[1], row[2]) for row in rows if not closed(row)] == [("", 200)], rows
    assert leftovers(tmpdir) == []
