"""The download cache: reuse after revalidation, --offline, --no-cache, locking of concurrent
pulls, damaged entries, --keep-uncompressed, and the `vmpull cache` commands."""
import gzip
import hashlib
import json
import os
import random
import subprocess
import time
from pathlib import Path

import pytest

from conftest import VMPULL, check_sanitizer_report, leftovers, node_file_name, run_vmpull

DAY = 86400


def make_image(seed, size=3 << 20):
    """A disk with data and a hole, gzip-compressed (fast to decode, hard to compress)."""
    rnd = random.Random(seed)
    raw = rnd.randbytes(size // 2) + bytes(size // 4) + rnd.randbytes(size // 4)
    return raw, gzip.compress(raw, compresslevel=1)


@pytest.fixture(scope="module")
def images():
    return {name: make_image(i) for i, name in enumerate(["a.raw.gz", "b.raw.gz", "c.raw.gz", "d.raw.gz"])}


@pytest.fixture
def served(flaky, images, request):
    """Serve the images under names unique to this test (the server lives for the session)."""
    prefix = node_file_name(request)

    def serve(name, **kw):
        unique = f"{prefix}-{name}"
        flaky.serve(unique, images[name][1], **kw)
        return unique
    return serve


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def pull(cache, *args, **kw):
    return run_vmpull("pull", "-q", "--cache-dir", cache, *args, **kw)


def blobs(cache):
    d = Path(cache) / "blobs" / "sha256"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def test_second_pull_revalidates_and_reads_the_cache(flaky, served, images, cache, tmp_path):
    name = served("a.raw.gz")
    raw, gz = images["a.raw.gz"]
    r1 = pull(cache, "--json", "-o", tmp_path / "one.raw", flaky.url(name))
    assert r1.rc == 0, r1
    r2 = pull(cache, "--json", "-o", tmp_path / "two.raw", flaky.url(name))
    assert r2.rc == 0, r2
    assert (tmp_path / "one.raw").read_bytes() == raw
    assert (tmp_path / "two.raw").read_bytes() == raw
    assert r1.json["digest"] == r2.json["digest"] == "sha256:" + sha256(gz)
    reqs = flaky.requests(name)
    assert [e["status"] for e in reqs] == [200, 304]
    assert reqs[1]["headers"]["if-none-match"] == reqs[0]["headers"].get("if-none-match", flaky.files[name]["etag"])
    assert flaky.bodies(name) == 1
    assert blobs(cache) == [sha256(gz)]
    assert r2.stderr == ""


def test_revalidation_by_last_modified(flaky, served, images, cache, tmp_path):
    name = served("a.raw.gz", etag=None)
    for out in ("one.raw", "two.raw"):
        assert pull(cache, "-o", tmp_path / out, flaky.url(name)).rc == 0
    reqs = flaky.requests(name)
    assert [e["status"] for e in reqs] == [200, 304]
    assert reqs[1]["headers"]["if-modified-since"] == flaky.files[name]["last_modified"]


def test_changed_upstream_is_fetched_again(flaky, served, images, cache, tmp_path):
    name = served("a.raw.gz")
    assert pull(cache, "-o", tmp_path / "one.raw", flaky.url(name)).rc == 0
    flaky.serve(name, images["b.raw.gz"][1])
    r = pull(cache, "-o", tmp_path / "two.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "two.raw").read_bytes() == images["b.raw.gz"][0]
    assert [e["status"] for e in flaky.requests(name)] == [200, 200]
    assert sha256(images["b.raw.gz"][1]) in blobs(cache)


def test_no_validator_means_no_reuse(flaky, served, images, cache, tmp_path):
    name = served("a.raw.gz", etag=None, last_modified=None)
    for out in ("one.raw", "two.raw"):
        assert pull(cache, "-o", tmp_path / out, flaky.url(name)).rc == 0
    assert [e["status"] for e in flaky.requests(name)] == [200, 200]


def test_no_cache_neither_reads_nor_writes(flaky, served, images, cache, tmp_path):
    name = served("a.raw.gz")
    for out in ("one.raw", "two.raw"):
        r = pull(cache, "--no-cache", "-o", tmp_path / out, flaky.url(name))
        assert r.rc == 0, r
    assert flaky.bodies(name) == 2
    assert not cache.exists()


def test_default_cache_folder_is_xdg_cache_home(flaky, served, images, tmp_path):
    name = served("a.raw.gz")
    xdg = tmp_path / "xdg"
    r = run_vmpull("pull", "-q", "-o", tmp_path / "one.raw", flaky.url(name), env={"XDG_CACHE_HOME": str(xdg)})
    assert r.rc == 0, r
    assert blobs(xdg / "vmpull") == [sha256(images["a.raw.gz"][1])]
    home = tmp_path / "home"
    r = run_vmpull("pull", "-q", "-o", tmp_path / "two.raw", flaky.url(name),
                   env={"XDG_CACHE_HOME": "", "HOME": str(home)})
    assert r.rc == 0, r
    assert blobs(home / ".cache" / "vmpull") == [sha256(images["a.raw.gz"][1])]


def test_offline_hit_and_miss(flaky, served, images, cache, tmp_path):
    name = served("a.raw.gz")
    assert pull(cache, "-o", tmp_path / "one.raw", flaky.url(name)).rc == 0
    before = len(flaky.log)
    r = pull(cache, "--offline", "-o", tmp_path / "two.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "two.raw").read_bytes() == images["a.raw.gz"][0]
    # a miss: clear message, exact code, nothing left behind, no request either
    out = tmp_path / "miss"
    out.mkdir()
    r = pull(cache, "--offline", "--json", "-o", out / "x.raw", flaky.url("never-pulled.raw.gz"))
    assert r.rc == 1
    assert r.json["error"]["code"] == "not_found"
    assert "not in the cache (--offline)" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert leftovers(out) == []
    assert len(flaky.log) == before
    r = run_vmpull("pull", "-q", "--offline", "--no-cache", "-o", out / "x.raw", flaky.url(name))
    assert r.rc == 2 and "--offline needs the cache" in r.stderr


def test_damaged_blob_is_detected_removed_and_fetched_again(flaky, served, images, cache, tmp_path):
    name = served("a.raw.gz")
    raw, gz = images["a.raw.gz"]
    assert pull(cache, "-o", tmp_path / "one.raw", flaky.url(name)).rc == 0
    blob = cache / "blobs" / "sha256" / sha256(gz)
    damaged = bytearray(blob.read_bytes())
    damaged[len(damaged) - 100] ^= 0xFF  # late in the stream: decoding may get far
    blob.write_bytes(bytes(damaged))
    r = pull(cache, "-o", tmp_path / "two.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "two.raw").read_bytes() == raw
    assert "fetching it again" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert blob.read_bytes() == gz
    assert flaky.bodies(name) == 2


def test_damaged_blob_offline_fails_and_is_removed(flaky, served, images, cache, tmp_path):
    name = served("a.raw.gz")
    gz = images["a.raw.gz"][1]
    assert pull(cache, "-o", tmp_path / "one.raw", flaky.url(name)).rc == 0
    blob = cache / "blobs" / "sha256" / sha256(gz)
    blob.write_bytes(gz[:-1] + bytes([gz[-1] ^ 1]))
    r = pull(cache, "--offline", "--json", "-o", tmp_path / "two.raw", flaky.url(name))
    assert r.rc == 1
    assert r.json["error"]["code"] in ("digest_mismatch", "corrupt")
    assert not blob.exists()
    assert not (tmp_path / "two.raw").exists()


def test_known_digest_needs_no_request_and_a_wrong_one_keeps_the_blob(flaky, served, images, cache, tmp_path):
    name = served("a.raw.gz")
    raw, gz = images["a.raw.gz"]
    assert pull(cache, "-o", tmp_path / "one.raw", flaky.url(name)).rc == 0
    n = len(flaky.requests(name))
    r = pull(cache, "--digest", "sha256:" + sha256(gz), "-o", tmp_path / "two.raw", flaky.url(name))
    assert r.rc == 0, r
    assert (tmp_path / "two.raw").read_bytes() == raw
    assert len(flaky.requests(name)) == n  # promised by digest, served from the cache
    wrong = "sha256:" + "e" * 64
    r = pull(cache, "--json", "--digest", wrong, "-o", tmp_path / "three.raw", flaky.url(name))
    assert r.rc == 1
    assert r.json["error"]["code"] == "digest_mismatch"
    assert "fetching it again" not in r.stderr
    assert flaky.bodies(name) == 1  # the cached blob was right: nothing fetched again
    assert blobs(cache) == [sha256(gz)]
    assert not (tmp_path / "three.raw").exists()


def test_concurrent_pulls_of_one_url_download_it_once(flaky, served, images, cache, tmp_path):
    name = served("a.raw.gz", rate=2 << 20)  # about 1.5 s: the others start while it runs
    procs = []
    for i in range(8):
        procs.append(subprocess.Popen(
            [VMPULL, "pull", "-q", "--cache-dir", str(cache), "-o", str(tmp_path / f"out{i}.raw"), flaky.url(name)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    for _, err in results:
        check_sanitizer_report(err)
    assert all(rc == 0 for rc, _ in results), results
    raw = images["a.raw.gz"][0]
    for i in range(8):
        assert (tmp_path / f"out{i}.raw").read_bytes() == raw
    assert flaky.bodies(name) == 1
    assert sum(1 for e in flaky.requests(name) if e["status"] == 304) == 7
    waited = [err for _, err in results if "waiting for another vmpull" in err]
    assert waited, results
    assert all(len(err.strip().splitlines()) == 1 for err in waited)
    assert leftovers(cache / "partial") == []


def test_pulls_of_different_urls_run_in_parallel(flaky, served, images, cache, tmp_path):
    names = [served("a.raw.gz", rate=4 << 20), served("b.raw.gz", rate=4 << 20)]
    procs = [subprocess.Popen([VMPULL, "pull", "-q", "--cache-dir", str(cache), "-o", str(tmp_path / f"{n}.raw"),
                               flaky.url(n)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for n in names]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    for e in errs:
        check_sanitizer_report(e)
    assert [p.returncode for p in procs] == [0, 0], errs
    assert not any("waiting" in e for e in errs)
    (a,), (b,) = flaky.requests(names[0]), flaky.requests(names[1])
    assert a["start"] < b["end"] and b["start"] < a["end"]  # both transfers were in flight at once


def test_keep_uncompressed_copies_the_disk_for_the_next_machine(flaky, served, images, cache, tmp_path):
    name = served("a.raw.gz")
    raw, gz = images["a.raw.gz"]
    data = tmp_path / "machines"
    r1 = pull(cache, "--json", "--keep-uncompressed", "--data-dir", data, "-n", "first", flaky.url(name))
    assert r1.rc == 0, r1
    kept = cache / "disks" / "sha256" / sha256(gz)
    assert kept.read_bytes() == raw
    r2 = pull(cache, "--json", "--data-dir", data, "-n", "second", flaky.url(name))
    assert r2.rc == 0, r2
    second = Path(r2.json["path"])
    assert second.name == f"second_{name[:-3]}"
    assert second.read_bytes() == raw
    assert r2.json["digest"] == r1.json["digest"]
    assert r2.json["format"] == "gzip"
    assert r2.json["size"] == len(raw)
    # sparse: the hole in the middle was not written
    assert second.stat().st_blocks * 512 < len(raw) - (len(raw) // 8)
    assert [e["status"] for e in flaky.requests(name)] == [200, 304]
    listed = run_vmpull("cache", "list", "--json", "--cache-dir", cache).json["entries"]
    assert {e["kind"] for e in listed} == {"blob", "disk"}
    # the second output is a new file: changing it leaves the kept disk alone
    with open(second, "r+b") as f:
        f.write(b"changed")
    assert kept.read_bytes() == raw


def test_unusable_cache_folder_is_a_warning(flaky, served, images, tmp_path):
    name = served("a.raw.gz")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = run_vmpull("pull", "-q", "--cache-dir", blocker / "cache", "-o", tmp_path / "one.raw", flaky.url(name))
    assert r.rc == 0, r
    assert "not using the cache" in r.stderr


def age(path, days):
    t = time.time() - days * DAY
    os.utime(path, (t, t))


def test_prune_by_last_use(flaky, served, images, cache, tmp_path):
    names = [served(n) for n in ("a.raw.gz", "b.raw.gz", "c.raw.gz")]
    for n in names:
        assert pull(cache, "--keep-cache", "-o", tmp_path / f"{n}.raw", flaky.url(n)).rc == 0
    a, b, c = (cache / "blobs" / "sha256" / sha256(images[n][1]) for n in ("a.raw.gz", "b.raw.gz", "c.raw.gz"))
    age(a, 20)
    age(b, 10)
    r = run_vmpull("cache", "prune", "--cache-dir", cache)
    assert r.rc == 0, r
    assert not a.exists() and b.exists() and c.exists()
    assert f"sha256:{a.name}" in r.stdout
    # the index entry of a pruned blob goes with it: the next pull fetches again
    assert len(list((cache / "refs").iterdir())) == 2
    r = run_vmpull("cache", "prune", "--older-than", "5d", "--json", "--cache-dir", cache)
    assert r.rc == 0, r
    assert [e["digest"] for e in r.json["removed"]] == [f"sha256:{b.name}"]
    assert c.exists()
    # a use makes an entry young again
    age(c, 30)
    assert pull(cache, "--keep-cache", "-o", tmp_path / "again.raw", flaky.url(names[2])).rc == 0
    assert run_vmpull("cache", "prune", "--cache-dir", cache).rc == 0
    assert c.exists()
    assert run_vmpull("cache", "prune", "--all", "--cache-dir", cache).rc == 0
    assert blobs(cache) == []
    assert list((cache / "refs").iterdir()) == []


def test_prune_max_size_removes_least_recently_used(flaky, served, images, cache, tmp_path):
    names = [served(n) for n in ("a.raw.gz", "b.raw.gz", "c.raw.gz")]
    for i, n in enumerate(names):
        assert pull(cache, "--keep-cache", "-o", tmp_path / f"{n}.raw", flaky.url(n)).rc == 0
    paths = [cache / "blobs" / "sha256" / sha256(images[n][1]) for n in ("a.raw.gz", "b.raw.gz", "c.raw.gz")]
    for p, days in zip(paths, (3, 1, 2)):
        age(p, days)
    size = paths[0].stat().st_size
    r = run_vmpull("cache", "prune", "--max-size", str(size + size // 2), "--cache-dir", cache)
    assert r.rc == 0, r
    assert [p.exists() for p in paths] == [False, True, False]


def test_prune_removes_old_partials_but_not_busy_ones(flaky, served, images, cache, tmp_path):
    name = served("a.raw.gz")
    flaky.script(name, [("cut", 1 << 20)])
    r = pull(cache, "--retries", "0", "-o", tmp_path / "one.raw", flaky.url(name))
    assert r.rc == 1
    partial = [p for p in (cache / "partial").iterdir() if not p.name.endswith(".json")]
    assert len(partial) == 1 and partial[0].stat().st_size == 1 << 20
    listed = run_vmpull("cache", "list", "--json", "--cache-dir", cache).json["entries"]
    assert [(e["kind"], e["source"], e["size"]) for e in listed] == [("partial", flaky.url(name), 1 << 20)]
    assert run_vmpull("cache", "prune", "--cache-dir", cache).rc == 0
    assert partial[0].exists()  # young
    age(partial[0], 15)
    # a pull holding the entry keeps it from being pruned
    holder = subprocess.Popen(["/usr/bin/python3", "-c", "import fcntl,sys,time; f=open(sys.argv[1],'rb+'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
                               str(partial[0])], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert run_vmpull("cache", "prune", "--cache-dir", cache).rc == 0
        assert partial[0].exists()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert run_vmpull("cache", "prune", "--cache-dir", cache).rc == 0
    assert leftovers(cache / "partial") == []


def test_pull_prunes_old_entries_unless_keep_cache(flaky, served, images, cache, tmp_path):
    a, b, c = (served(n) for n in ("a.raw.gz", "b.raw.gz", "c.raw.gz"))
    assert pull(cache, "-o", tmp_path / "a.raw", flaky.url(a)).rc == 0
    old = cache / "blobs" / "sha256" / sha256(images["a.raw.gz"][1])
    age(old, 15)
    assert pull(cache, "--keep-cache", "-o", tmp_path / "b.raw", flaky.url(b)).rc == 0
    assert old.exists()
    assert pull(cache, "-o", tmp_path / "c.raw", flaky.url(c)).rc == 0
    assert not old.exists()
    assert len(blobs(cache)) == 2


def test_verify_reports_and_removes_damaged_blobs(flaky, served, images, cache, tmp_path):
    names = [served(n) for n in ("a.raw.gz", "b.raw.gz")]
    for n in names:
        assert pull(cache, "-o", tmp_path / f"{n}.raw", flaky.url(n)).rc == 0
    r = run_vmpull("cache", "verify", "--cache-dir", cache)
    assert r.rc == 0, r
    assert "checked 2 entries, 0 bad" in r.stderr
    bad = cache / "blobs" / "sha256" / sha256(images["b.raw.gz"][1])
    with open(bad, "r+b") as f:
        f.seek(1000)
        f.write(b"\0\0\0\0")
    r = run_vmpull("cache", "verify", "--json", "--cache-dir", cache)
    assert r.rc == 1, r
    assert r.json["checked"] == 2
    assert [e["digest"] for e in r.json["removed"]] == [f"sha256:{bad.name}"]
    assert r.json["removed"][0]["source"] == flaky.url(names[1])
    assert not bad.exists()
    assert blobs(cache) == [sha256(images["a.raw.gz"][1])]


def test_cache_commands_on_a_missing_cache(tmp_path):
    missing = tmp_path / "nothing"
    r = run_vmpull("cache", "list", "--json", "--cache-dir", missing)
    assert r.rc == 0 and r.json == {"entries": []}
    assert run_vmpull("cache", "prune", "--cache-dir", missing).rc == 0
    assert run_vmpull("cache", "verify", "--cache-dir", missing).rc == 0
    assert not missing.exists()


@pytest.mark.parametrize("args,message", [
    (["prune", "--older-than", "soon"], "--older-than takes a duration"),
    (["prune", "--max-size", "big"], "--max-size takes a size"),
    (["prune", "--all", "--older-than", "1d"], "do not go together"),
    (["list", "--all"], "belong to 'cache prune'"),
    (["shrink"], "unknown command 'shrink'"),
    (["list", "extra"], "unexpected argument 'extra'"),
    (["list", "--colour"], "unknown"),
    ([], "missing command"),
])
def test_cache_command_usage_errors(args, message, tmp_path):
    r = run_vmpull("cache", *args, "--cache-dir", tmp_path)
    assert r.rc == 2, r
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
