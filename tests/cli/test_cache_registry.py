"""docker:// through the cache: blobs by digest (reused, resumed with Range, downloaded once by
concurrent pulls), manifests by digest from the cache, a tag still resolved with one manifest
request, and --offline answered from the cache's index alone. The registry is Debian's
docker-registry; its access log counts the requests."""
import gzip
import hashlib
import random
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import VMPULL, check_sanitizer_report, leftovers, run_vmpull
from servers.oci_layout import Layout, digest_of

REPO = "cachetest/machine"


@pytest.fixture(scope="module")
def image(tmp_path_factory, registry_plain):
    rnd = random.Random(7)
    raw = rnd.randbytes(6 << 20) + bytes(2 << 20)
    blob = gzip.compress(raw, compresslevel=1)
    lay = Layout(tmp_path_factory.mktemp("cache-layout") / "layout")
    entry = lay.disk_artifact(blob, "machine.x86_64.raw.gz", media_type="application/gzip", arch="x86_64",
                              disktype="qemu")
    index = lay.index([entry])
    lay.write_index([(index, "v1")])
    registry_plain.push(lay.path, "v1", REPO, "v1")
    return {"raw": raw, "blob": blob, "digest": digest_of(blob), "index": index["digest"], "registry": registry_plain}


def log_lines(registry):
    return (registry.tmp / "registry.log").read_text(errors="replace").splitlines()


def requests_since(registry, start, what):
    """Access-log lines after line `start` for GETs of `what` ("blobs/<digest>", "manifests/"), as statuses."""
    out = []
    for line in log_lines(registry)[start:]:
        m = re.search(r'"GET /v2/%s/%s\S* HTTP/[0-9.]+" (\d+) (\d+)' % (re.escape(REPO), re.escape(what)), line)
        if m and "vmpull/" in line:
            out.append((int(m.group(1)), int(m.group(2))))
    return out


def settle(registry):
    """The registry writes its access log as requests end: wait until it stops growing."""
    n = -1
    for _ in range(40):
        m = len(log_lines(registry))
        if m == n:
            return m
        n = m
        time.sleep(0.05)
    return n


def pull(image, cache, out, *args):
    return run_vmpull("pull", "-q", "--json", "--tls-verify=false", "--cache-dir", cache, "-o", out, "--arch",
                      "x86_64", *args, image["registry"].ref(REPO, "v1"))


def test_second_pull_needs_one_manifest_request(image, tmp_path):
    reg = image["registry"]
    start = settle(reg)
    r = pull(image, tmp_path / "cache", tmp_path / "one.raw")
    assert r.rc == 0, r
    assert Path(r.json["path"]).read_bytes() == image["raw"]
    mid = settle(reg)
    assert requests_since(reg, start, "blobs/" + image["digest"]) == [(200, len(image["blob"]))]
    r = pull(image, tmp_path / "cache", tmp_path / "two.raw")
    assert r.rc == 0, r
    assert (tmp_path / "two.raw").read_bytes() == image["raw"]
    settle(reg)
    assert requests_since(reg, mid, "blobs/") == []
    assert [s for s, _ in requests_since(reg, mid, "manifests/")] == [200]  # the tag, nothing else
    assert requests_since(reg, mid, "manifests/sha256:") == []


def test_offline_uses_the_index_only(image, tmp_path):
    reg = image["registry"]
    cache = tmp_path / "cache"
    assert pull(image, cache, tmp_path / "one.raw").rc == 0
    start = settle(reg)
    r = pull(image, cache, tmp_path / "two.raw", "--offline")
    assert r.rc == 0, r
    assert (tmp_path / "two.raw").read_bytes() == image["raw"]
    assert settle(reg) == start  # not a single request
    miss = run_vmpull("pull", "-q", "--json", "--offline", "--tls-verify=false", "--cache-dir", cache, "-o",
                      tmp_path / "three.raw", reg.ref(REPO, "v2"))
    assert miss.rc == 1
    assert miss.json["error"]["code"] == "not_found"
    assert "not in the cache (--offline)" in miss.json["error"]["message"]
    assert not (tmp_path / "three.raw").exists()


def test_concurrent_pulls_of_one_image_download_the_blob_once(image, tmp_path):
    reg = image["registry"]
    cache = tmp_path / "cache"
    start = settle(reg)
    procs = [subprocess.Popen([VMPULL, "pull", "-q", "--tls-verify=false", "--cache-dir", str(cache), "--arch",
                               "x86_64", "-o", str(tmp_path / f"out{i}.raw"), reg.ref(REPO, "v1")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(8)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    for e in errs:
        check_sanitizer_report(e)
    assert [p.returncode for p in procs] == [0] * 8, errs
    for i in range(8):
        assert (tmp_path / f"out{i}.raw").read_bytes() == image["raw"]
    settle(reg)
    assert requests_since(reg, start, "blobs/" + image["digest"]) == [(200, len(image["blob"]))]
    assert leftovers(cache / "partial") == []


def partial_name(digest):
    return hashlib.sha256(f"blob {digest}".encode()).hexdigest()


def test_interrupted_blob_download_resumes_with_range(image, tmp_path):
    reg = image["registry"]
    cache = tmp_path / "cache"
    (cache / "partial").mkdir(parents=True)
    half = len(image["blob"]) // 2
    (cache / "partial" / partial_name(image["digest"])).write_bytes(image["blob"][:half])
    start = settle(reg)
    r = pull(image, cache, tmp_path / "one.raw")
    assert r.rc == 0, r
    assert (tmp_path / "one.raw").read_bytes() == image["raw"]
    settle(reg)
    assert requests_since(reg, start, "blobs/" + image["digest"]) == [(206, len(image["blob"]) - half)]
    assert (cache / "blobs" / "sha256" / image["digest"][7:]).read_bytes() == image["blob"]


def test_damaged_partial_blob_is_not_trusted(image, tmp_path):
    reg = image["registry"]
    cache = tmp_path / "cache"
    (cache / "partial").mkdir(parents=True)
    half = len(image["blob"]) // 2
    bad = bytearray(image["blob"][:half])
    bad[-5000] ^= 0x40
    (cache / "partial" / partial_name(image["digest"])).write_bytes(bytes(bad))
    start = settle(reg)
    r = pull(image, cache, tmp_path / "one.raw")
    assert r.rc == 0, r
    assert (tmp_path / "one.raw").read_bytes() == image["raw"]
    assert "fetching it again" in r.stderr
    settle(reg)
    assert [s for s, _ in requests_since(reg, start, "blobs/" + image["digest"])] == [206, 200]


def test_insecure_registry_by_digest_with_cached_manifests(image, tmp_path):
    """--tls-verify=false and a plain-http registry: once the index and manifest are cached, a pull
    by digest asks the registry for nothing but the blob, and that request too goes over plain
    http (the scheme is decided once per registry, whichever request comes first)."""
    reg = image["registry"]
    cache = tmp_path / "cache"
    assert pull(image, cache, tmp_path / "one.raw").rc == 0
    (cache / "blobs" / "sha256" / image["digest"][7:]).unlink()
    start = settle(reg)
    r = run_vmpull("pull", "-q", "--json", "--tls-verify=false", "--cache-dir", cache, "-o", tmp_path / "two.raw",
                   "--arch", "x86_64", f"docker://{reg.host}/{REPO}@{image['index']}")
    assert r.rc == 0, r
    assert (tmp_path / "two.raw").read_bytes() == image["raw"]
    assert "trying plain http" in r.stderr  # one decision, said once
    assert r.stderr.count("trying plain http") == 1
    settle(reg)
    assert requests_since(reg, start, "manifests/") == []  # the documents came from the cache
    assert requests_since(reg, start, "blobs/" + image["digest"]) == [(200, len(image["blob"]))]


def test_kept_disk_needs_no_blob_request(image, tmp_path):
    """The layer's digest is the descriptor's: with its disk kept, the pull copies that disk and
    asks the registry for no blob, even when the cache no longer has the blob (an older vmpull
    started the blob's GET and threw it away)."""
    reg = image["registry"]
    cache = tmp_path / "cache"
    r = pull(image, cache, tmp_path / "one.raw", "--keep-uncompressed")
    assert r.rc == 0, r
    (cache / "blobs" / "sha256" / image["digest"][7:]).unlink()
    start = settle(reg)
    r = pull(image, cache, tmp_path / "two.raw")
    assert r.rc == 0, r
    assert (tmp_path / "two.raw").read_bytes() == image["raw"]
    assert r.json["digest"] == image["digest"]
    settle(reg)
    assert requests_since(reg, start, "blobs/") == []
