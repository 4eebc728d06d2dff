"""Kept disks (--keep-uncompressed) are only handed out after they proved to be the bytes the
decoder wrote: each has a record (disks/sha256/<hex>.json) naming the source digest, its size and a
map of 1 MiB chunks, each "zero" or its sha256. A reuse checks the disk against the map in the same
read that copies it; `cache verify` checks it too. A disk that fails is dropped with one warning and
the source is decoded again (from the cached blob)."""
import gzip
import hashlib
import json
import os
import random
from pathlib import Path

import pytest

from conftest import leftovers, node_file_name, run_vmpull

MIB = 1 << 20


def make_disk(seed):
    """Chunks (1 MiB): 0-1 data, 2-4 zero, 5 half data half hole, 6 a short data tail."""
    rnd = random.Random(seed)
    raw = rnd.randbytes(2 * MIB) + bytes(3 * MIB) + rnd.randbytes(MIB // 2) + bytes(MIB // 2) + rnd.randbytes(12345)
    return raw, gzip.compress(raw, compresslevel=1)


@pytest.fixture(scope="module")
def disks():
    return {name: make_disk(i) for i, name in enumerate(["a.raw.gz", "b.raw.gz"])}


@pytest.fixture
def served(flaky, disks, request):
    prefix = node_file_name(request)

    def serve(name):
        unique = f"{prefix}-{name}"
        flaky.serve(unique, disks[name][1])
        return unique
    return serve


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def pull(cache, *args):
    return run_vmpull("pull", "-q", "--cache-dir", cache, *args)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def kept(cache, gz):
    return cache / "disks" / "sha256" / sha256(gz)


def record(cache, gz):
    return cache / "disks" / "sha256" / (sha256(gz) + ".json")


def keep(cache, flaky, name, folder):
    folder.mkdir(exist_ok=True)
    r = pull(cache, "--keep-uncompressed", "-o", folder / "first.raw", flaky.url(name))
    assert r.rc == 0, r
    return r


def overwrite(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def flip_bytes(path):
    overwrite(path, MIB + 4096, b"tampered")


def all_zeros(path):
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(0)
        f.truncate(size)
        f.seek(0)
        f.write(bytes(MIB))  # some written zeros too, not only a hole


def data_in_a_zero_chunk(path):
    overwrite(path, 3 * MIB + 100, b"\x01")


def zero_a_data_block(path):
    overwrite(path, 5 * MIB, bytes(4096))


DAMAGE = {
    "flipped-bytes": flip_bytes,
    "all-zero": all_zeros,
    "data-in-a-zero-chunk": data_in_a_zero_chunk,
    "zeroed-block-in-a-data-chunk": zero_a_data_block,
}


def test_record_names_the_digest_size_and_chunks(flaky, served, disks, cache, tmp_path):
    name = served("a.raw.gz")
    raw, gz = disks["a.raw.gz"]
    keep(cache, flaky, name, tmp_path)
    assert kept(cache, gz).read_bytes() == raw
    rec = json.loads(record(cache, gz).read_text())
    assert rec["digest"] == "sha256:" + sha256(gz)
    assert rec["size"] == len(raw)
    assert rec["chunk_size"] == MIB
    chunks, want = rec["chunks"], ""
    for off in range(0, len(raw), MIB):
        piece = raw[off:off + MIB]
        want += "z" if piece == bytes(len(piece)) else sha256(piece)
    assert chunks == want
    assert chunks.count("z") == 3


def test_good_kept_disk_is_reused_without_reading_the_blob(flaky, served, disks, cache, tmp_path):
    name = served("a.raw.gz")
    raw, gz = disks["a.raw.gz"]
    keep(cache, flaky, name, tmp_path)
    # A blob the pull would have to read is garbage now: only a reuse of the kept disk succeeds quietly.
    blob = cache / "blobs" / "sha256" / sha256(gz)
    blob.write_bytes(bytes(len(gz)))
    r = pull(cache, "--json", "-o", tmp_path / "second.raw", flaky.url(name))
    assert r.rc == 0, r
    assert r.stderr == ""
    assert (tmp_path / "second.raw").read_bytes() == raw
    assert flaky.bodies(name) == 1
    # holes stay holes in the copy
    assert (tmp_path / "second.raw").stat().st_blocks * 512 < len(raw) - 3 * MIB + 64 * 1024


@pytest.mark.parametrize("damage", DAMAGE.keys())
def test_damaged_kept_disk_is_dropped_and_the_blob_decoded_again(flaky, served, disks, cache, tmp_path, damage):
    name = served("a.raw.gz")
    raw, gz = disks["a.raw.gz"]
    keep(cache, flaky, name, tmp_path)
    disk = kept(cache, gz)
    size = disk.stat().st_size
    DAMAGE[damage](disk)
    assert disk.stat().st_size == size and disk.read_bytes() != raw
    r = pull(cache, "--keep-uncompressed", "-o", tmp_path / "second.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "second.raw").read_bytes() == raw
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "warning" in lines[0] and f"disks/sha256/{disk.name}" in lines[0] and "decoding" in lines[0], lines
    # decoded again from the cached blob, not fetched again; and kept again, whole
    assert flaky.bodies(name) == 1
    assert disk.read_bytes() == raw
    assert json.loads(record(cache, gz).read_text())["digest"] == "sha256:" + sha256(gz)


@pytest.mark.parametrize("damage", DAMAGE.keys())
def test_cache_verify_reports_a_damaged_kept_disk(flaky, served, disks, cache, tmp_path, damage):
    names = [served(n) for n in ("a.raw.gz", "b.raw.gz")]
    for n in names:
        keep(cache, flaky, n, tmp_path / n)
    r = run_vmpull("cache", "verify", "--cache-dir", cache)
    assert r.rc == 0, r
    assert "checked 4 entries, 0 bad" in r.stderr
    gz = disks["b.raw.gz"][1]
    DAMAGE[damage](kept(cache, gz))
    r = run_vmpull("cache", "verify", "--json", "--cache-dir", cache)
    assert r.rc == 1, r
    assert r.json["checked"] == 4
    assert [(e["kind"], e["digest"]) for e in r.json["removed"]] == [("disk", "sha256:" + sha256(gz))]
    assert not kept(cache, gz).exists() and not record(cache, gz).exists()
    assert kept(cache, disks["a.raw.gz"][1]).exists()


@pytest.mark.parametrize("what", ["disks", "disks-and-records"])
def test_swapped_kept_disks_are_caught(flaky, served, disks, cache, tmp_path, what):
    """Another image's disk (same size here) under this digest, with or without its record."""
    a, b = served("a.raw.gz"), served("b.raw.gz")
    keep(cache, flaky, a, tmp_path / "a")
    keep(cache, flaky, b, tmp_path / "b")
    ga, gb = disks["a.raw.gz"][1], disks["b.raw.gz"][1]
    pairs = [(kept(cache, ga), kept(cache, gb))]
    if what == "disks-and-records":
        pairs.append((record(cache, ga), record(cache, gb)))
    for x, y in pairs:
        tmp = x.with_name("swap")
        x.rename(tmp)
        y.rename(x)
        tmp.rename(y)
    r = pull(cache, "-o", tmp_path / "second.raw", flaky.url(a))
    assert r.rc == 0, r
    assert (tmp_path / "second.raw").read_bytes() == disks["a.raw.gz"][0]
    assert "kept disk" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = run_vmpull("cache", "verify", "--json", "--cache-dir", cache)
    assert r.rc == 1, r
    assert [e["digest"] for e in r.json["removed"]] == ["sha256:" + sha256(gb)]


def test_kept_disk_without_a_valid_record_is_not_trusted(flaky, served, disks, cache, tmp_path):
    """A record of an older vmpull (no digest, no map) next to a changed disk."""
    name = served("a.raw.gz")
    raw, gz = disks["a.raw.gz"]
    keep(cache, flaky, name, tmp_path)
    rec = json.loads(record(cache, gz).read_text())
    old = {k: rec[k] for k in ("format", "image_name", "fetched", "size")}
    record(cache, gz).write_text(json.dumps(old))
    flip_bytes(kept(cache, gz))
    r = pull(cache, "-o", tmp_path / "second.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "second.raw").read_bytes() == raw
    assert "kept disk" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not kept(cache, gz).exists() and not record(cache, gz).exists()


def hostile(rec, bad):
    """The record text for each kind of damage (rec: the good record, parsed)."""
    if bad == "not-json":
        return "not json"
    if bad == "digest-a-number":
        return json.dumps(dict(rec, digest=5))
    if bad == "chunks-short":
        return json.dumps(dict(rec, chunks=rec["chunks"][:-1]))
    if bad == "chunks-uppercase":
        return json.dumps(dict(rec, chunks=rec["chunks"].upper().replace("Z", "z")))
    if bad == "chunk-size":
        return json.dumps(dict(rec, chunk_size=4096))
    if bad == "size":
        return json.dumps(dict(rec, size=rec["size"] + 1))
    if bad == "size-a-float":
        return json.dumps(dict(rec, size=float(rec["size"])))
    if bad == "image-name":
        return json.dumps(dict(rec, image_name="../escape"))
    if bad == "unknown-member":
        return json.dumps(dict(rec, extra=1))
    if bad == "nested":
        return json.dumps(dict(rec, format={"a": 1}))
    if bad == "trailing":
        return json.dumps(rec) + "{}"
    if bad == "huge":
        return json.dumps(rec) + " " * (8 << 20)
    raise AssertionError(bad)


@pytest.mark.parametrize("bad", ["not-json", "digest-a-number", "chunks-short", "chunks-uppercase", "chunk-size",
                                 "size", "size-a-float", "image-name", "unknown-member", "nested", "trailing", "huge"])
def test_hostile_records_are_refused(flaky, served, disks, cache, tmp_path, bad):
    name = served("a.raw.gz")
    raw, gz = disks["a.raw.gz"]
    keep(cache, flaky, name, tmp_path)
    path = record(cache, gz)
    path.write_text(hostile(json.loads(path.read_text()), bad))
    r = pull(cache, "-o", tmp_path / "second.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "second.raw").read_bytes() == raw
    assert "kept disk" in r.stderr and "no valid record" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not kept(cache, gz).exists() and not path.exists()


def test_offline_kept_disk_is_used_when_the_blob_is_gone(flaky, served, disks, cache, tmp_path):
    name = served("a.raw.gz")
    raw, gz = disks["a.raw.gz"]
    keep(cache, flaky, name, tmp_path)
    (cache / "blobs" / "sha256" / sha256(gz)).unlink()
    requests = len(flaky.requests(name))
    r = pull(cache, "--offline", "--json", "-o", tmp_path / "second.raw", flaky.url(name))
    assert r.rc == 0, r
    assert r.stderr == ""
    assert r.json["digest"] == "sha256:" + sha256(gz)
    assert (tmp_path / "second.raw").read_bytes() == raw
    assert len(flaky.requests(name)) == requests


def test_offline_bad_kept_disk_without_the_blob_is_an_error_naming_it(flaky, served, disks, cache, tmp_path):
    name = served("a.raw.gz")
    raw, gz = disks["a.raw.gz"]
    keep(cache, flaky, name, tmp_path)
    (cache / "blobs" / "sha256" / sha256(gz)).unlink()
    disk = kept(cache, gz)
    flip_bytes(disk)
    out = tmp_path / "out"
    out.mkdir()
    requests = len(flaky.requests(name))
    r = pull(cache, "--offline", "--json", "-o", out / "second.raw", flaky.url(name))
    assert r.rc == 1, r
    assert f"disks/sha256/{disk.name}" in r.json["error"]["message"], r.json
    assert "--offline" in r.json["error"]["message"]
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert leftovers(out) == []
    assert not disk.exists()
    assert len(flaky.requests(name)) == requests


def test_prune_removes_kept_disks_with_their_records(flaky, served, disks, cache, tmp_path):
    name = served("a.raw.gz")
    keep(cache, flaky, name, tmp_path)
    r = run_vmpull("cache", "prune", "--all", "--cache-dir", cache)
    assert r.rc == 0, r
    assert list((cache / "disks" / "sha256").iterdir()) == []


# ---- the decision comes before the bytes (lib/api/pull_plan.c): the server's own log counts ----

def test_kept_disk_by_digest_asks_the_server_nothing(flaky, served, disks, cache, tmp_path):
    """--digest names the bytes: their kept disk is copied without a request (the blob is gone, so
    the cache cannot answer for them; an older vmpull started a download here and threw it away)."""
    name = served("a.raw.gz")
    raw, gz = disks["a.raw.gz"]
    keep(cache, flaky, name, tmp_path)
    (cache / "blobs" / "sha256" / sha256(gz)).unlink()
    requests = len(flaky.requests(name))
    r = pull(cache, "--json", "--digest", "sha256:" + sha256(gz), "-o", tmp_path / "second.raw", flaky.url(name))
    assert r.rc == 0, r
    assert r.stderr == ""
    assert (tmp_path / "second.raw").read_bytes() == raw
    assert r.json["digest"] == "sha256:" + sha256(gz)
    assert flaky.requests(name)[requests:] == []


@pytest.mark.parametrize("blob", ["cached", "gone"])
def test_kept_disk_by_checksums_entry_asks_the_image_server_nothing(flaky, served, disks, cache, tmp_path, blob):
    """The checksums list is read first; its entry names the bytes, so their kept disk needs no
    request for the image (an older vmpull revalidated it, or downloaded it again)."""
    name = served("a.raw.gz")
    raw, gz = disks["a.raw.gz"]
    keep(cache, flaky, name, tmp_path)
    sums = name + ".SHA256SUMS"
    flaky.serve(sums, f"{sha256(gz)}  {name}\n".encode())
    if blob == "gone":
        (cache / "blobs" / "sha256" / sha256(gz)).unlink()
    requests = len(flaky.requests(name))
    r = pull(cache, "--json", "--checksums", flaky.url(sums), "-o", tmp_path / "second.raw", flaky.url(name))
    assert r.rc == 0, r
    assert r.stderr == ""
    assert (tmp_path / "second.raw").read_bytes() == raw
    assert flaky.requests(name)[requests:] == []
    assert len(flaky.requests(sums)) == 1


def test_url_without_a_known_digest_is_revalidated_before_its_kept_disk(flaky, served, disks, cache, tmp_path):
    """Only the server can say the URL still names the bytes the disk was kept from: one
    conditional request, answered 304, and no body."""
    name = served("a.raw.gz")
    raw, gz = disks["a.raw.gz"]
    keep(cache, flaky, name, tmp_path)
    r = pull(cache, "--json", "-o", tmp_path / "second.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "second.raw").read_bytes() == raw
    assert [e["status"] for e in flaky.requests(name)] == [200, 304]
    assert flaky.bodies(name) == 1


def test_changed_file_is_not_served_from_the_disk_kept_of_the_old_one(flaky, served, disks, cache, tmp_path):
    """The server changed the file (a new ETag): the revalidation says so, and the new bytes are
    decoded; the disk kept of the old ones is not handed out."""
    name = served("a.raw.gz")
    raw_a, gz_a = disks["a.raw.gz"]
    raw_b, gz_b = disks["b.raw.gz"]
    keep(cache, flaky, name, tmp_path)
    old_etag = flaky.files[name]["etag"]
    flaky.serve(name, gz_b)
    assert flaky.files[name]["etag"] != old_etag
    r = pull(cache, "--json", "-o", tmp_path / "second.raw", flaky.url(name))
    assert r.rc == 0, r
    assert r.json["digest"] == "sha256:" + sha256(gz_b)
    assert (tmp_path / "second.raw").read_bytes() == raw_b
    reqs = flaky.requests(name)
    assert [e["status"] for e in reqs] == [200, 200]
    assert reqs[1]["headers"]["if-none-match"] == old_etag
    assert kept(cache, gz_a).read_bytes() == raw_a
