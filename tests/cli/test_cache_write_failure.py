"""The cache only saves time: when writing into it fails (a damaged cache folder, a full disk), the
pull says so once and goes on without it, still verified, and leaves no partial download behind.

Root can write anywhere, so the failures are made with what stops root too: a folder where the
cache wants a file, and a file size limit (RLIMIT_FSIZE, what a full disk or a quota looks like
to write(2): the cache copy fails with EFBIG while the output, a little smaller, still fits)."""
import gzip
import hashlib
import os
import random
import resource
import signal
import subprocess

import pytest

from conftest import VMPULL, check_sanitizer_report, leftovers, node_file_name, run_vmpull
from servers.oci_layout import Layout, digest_of

RAW_SIZE = 1 << 20


@pytest.fixture(scope="module")
def image():
    """Random bytes gzip-compressed: the download is a few hundred bytes larger than the disk."""
    raw = random.Random(11).randbytes(RAW_SIZE)
    gz = gzip.compress(raw, compresslevel=1)
    assert len(gz) > len(raw)
    return raw, gz


@pytest.fixture
def served(flaky, image, request):
    name = node_file_name(request, "-disk.raw.gz")
    flaky.serve(name, image[1])
    return flaky.url(name)


def entry_name(key):
    """The cache's file name for what was asked for (cache_key_name: sha256 of the key)."""
    return hashlib.sha256(key.encode()).hexdigest()


def blobs(cache):
    d = cache / "blobs" / "sha256"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def warnings(stderr):
    return [line for line in stderr.splitlines() if line.startswith("vmpull: warning: ")]


def check_pulled(r, out, image):
    assert r.rc == 0, r
    assert out.read_bytes() == image[0]
    assert r.json["digest"] == "sha256:" + hashlib.sha256(image[1]).hexdigest()


def test_a_folder_where_the_entry_file_goes(served, image, tmp_path):
    cache = tmp_path / "cache"
    (cache / "partial" / entry_name(served)).mkdir(parents=True)
    out = tmp_path / "disk.raw"
    r = run_vmpull("pull", "-q", "--json", "--cache-dir", cache, "-o", out, served)
    check_pulled(r, out, image)
    assert warnings(r.stderr) == [f"vmpull: warning: cache disabled for this pull: open cache entry for {served}: "
                                  "Is a directory"], r.stderr
    assert r.stderr.count("\n") == 1
    assert blobs(cache) == []


def test_a_fifo_where_the_entry_file_goes(served, image, tmp_path):
    """A FIFO takes the bytes written to it until its buffer is full, then blocks for good."""
    cache = tmp_path / "cache"
    (cache / "partial").mkdir(parents=True)
    os.mkfifo(cache / "partial" / entry_name(served))
    out = tmp_path / "disk.raw"
    r = run_vmpull("pull", "-q", "--json", "--cache-dir", cache, "-o", out, served, timeout=30)
    check_pulled(r, out, image)
    assert warnings(r.stderr) == [f"vmpull: warning: cache disabled for this pull: open cache entry for {served}: "
                                  "not a regular file"], r.stderr
    assert blobs(cache) == []


def test_a_folder_where_the_entry_record_goes(served, image, tmp_path):
    cache = tmp_path / "cache"
    name = entry_name(served)
    (cache / "partial" / f"{name}.json").mkdir(parents=True)
    out = tmp_path / "disk.raw"
    r = run_vmpull("pull", "-q", "--json", "--cache-dir", cache, "-o", out, served)
    check_pulled(r, out, image)
    (line,) = warnings(r.stderr)
    assert line.startswith("vmpull: warning: cache disabled for this pull: ") and "partial" in line, r.stderr
    assert r.stderr.count("\n") == 1
    assert blobs(cache) == []
    # the entry this pull had opened is gone; the folder in the way is not ours to remove
    assert leftovers(cache / "partial") == [f"{name}.json"]


def limit_file_size(limit):
    def preexec():
        # A write past the limit then fails with EFBIG instead of killing the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def test_cache_write_fails_in_the_middle_of_the_download(served, image, tmp_path):
    cache = tmp_path / "cache"
    out = tmp_path / "disk.raw"
    proc = subprocess.run([VMPULL, "pull", "-q", "--json", "--cache-dir", str(cache), "-o", str(out), served],
                          capture_output=True, text=True, timeout=120, preexec_fn=limit_file_size(RAW_SIZE))
    check_sanitizer_report(proc.stderr)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == image[0]
    name = entry_name(served)
    assert warnings(proc.stderr) == [f"vmpull: warning: cache disabled for this pull: write {cache}/partial/{name}: "
                                     "File too large"], proc.stderr
    assert proc.stderr.count("\n") == 1
    assert blobs(cache) == []
    assert [p for p in leftovers(cache / "partial") if p.startswith(name)] == []
    # nothing is left half done: the next pull (without the limit) downloads and caches it whole
    r = run_vmpull("pull", "-q", "--json", "--cache-dir", cache, "-o", tmp_path / "again.raw", served)
    check_pulled(r, tmp_path / "again.raw", image)
    assert r.stderr == ""
    assert blobs(cache) == [hashlib.sha256(image[1]).hexdigest()]


def test_registry_blob_with_a_folder_where_the_entry_file_goes(registry_plain, image, tmp_path):
    lay = Layout(tmp_path / "layout")
    entry = lay.disk_artifact(image[1], "machine.x86_64.raw.gz", media_type="application/gzip", arch="x86_64",
                              disktype="qemu")
    lay.write_index([(lay.index([entry]), "v1")])
    registry_plain.push(lay.path, "v1", "cachefail/machine", "v1")
    cache = tmp_path / "cache"
    (cache / "partial" / entry_name(f"blob {digest_of(image[1])}")).mkdir(parents=True)
    out = tmp_path / "disk.raw"
    r = run_vmpull("pull", "-q", "--json", "--tls-verify=false", "--cache-dir", cache, "-o", out,
                   registry_plain.ref("cachefail/machine", "v1"))
    check_pulled(r, out, image)
    # (the other warnings say TLS verification is off and the registry speaks plain http)
    cache_warnings = [line for line in warnings(r.stderr) if "cache" in line]
    assert cache_warnings == ["vmpull: warning: cache disabled for this pull: open cache entry for "
                              f"{registry_plain.ref('cachefail/machine', 'v1')}: Is a directory"], r.stderr
    assert hashlib.sha256(image[1]).hexdigest() not in blobs(cache)  # (the manifests, stored earlier, stay)
