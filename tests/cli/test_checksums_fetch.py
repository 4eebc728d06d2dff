"""--checksums URL is fetched like the image: with retries, and through the cache (so --offline works)."""
import gzip
import hashlib
import random

import pytest

from conftest import node_file_name, run_vmpull


@pytest.fixture(scope="module")
def image():
    raw = random.Random(7).randbytes(256 << 10) + bytes(256 << 10)
    return raw, gzip.compress(raw, compresslevel=1)


@pytest.fixture
def served(flaky, image, request):
    """The image and a SHA256SUMS naming it, under names unique to this test."""
    prefix = node_file_name(request)
    name, sums = f"{prefix}-disk.raw.gz", f"{prefix}-SHA256SUMS"
    flaky.serve(name, image[1])
    flaky.serve(sums, f"{hashlib.sha256(image[1]).hexdigest()}  {name}\n".encode())
    return name, sums


def test_offline_pull_reads_the_checksums_list_from_the_cache(flaky, served, image, tmp_path):
    name, sums = served
    cache = tmp_path / "cache"
    args = ["pull", "-q", "--json", "--cache-dir", cache, "--checksums", flaky.url(sums)]
    r = run_vmpull(*args, "-o", tmp_path / "one.raw", flaky.url(name))
    assert r.rc == 0, r
    assert [e["status"] for e in flaky.requests(sums)] == [200]
    # The server now fails every request: an offline pull must not ask it anything.
    flaky.script(sums, [("status", 503, {})] * 10)
    flaky.script(name, [("status", 503, {})] * 10)
    before = len(flaky.log)
    r = run_vmpull(*args, "--offline", "-o", tmp_path / "two.raw", flaky.url(name))
    assert r.rc == 0, r
    assert r.stderr == ""
    assert (tmp_path / "two.raw").read_bytes() == image[0]
    assert r.json["digest"] == "sha256:" + hashlib.sha256(image[1]).hexdigest()
    assert len(flaky.log) == before


def test_offline_pull_without_a_cached_checksums_list_fails_cleanly(flaky, served, tmp_path):
    name, sums = served
    cache = tmp_path / "cache"
    assert run_vmpull("pull", "-q", "--cache-dir", cache, "-o", tmp_path / "one.raw", flaky.url(name)).rc == 0
    out = tmp_path / "out"
    out.mkdir()
    r = run_vmpull("pull", "-q", "--json", "--cache-dir", cache, "--offline", "--checksums", flaky.url(sums),
                   "-o", out / "two.raw", flaky.url(name))
    assert r.rc == 1, r
    assert r.json["error"]["code"] == "not_found"
    assert f"checksums {flaky.url(sums)}: " in r.stderr and "not in the cache (--offline)" in r.stderr
    assert list(out.iterdir()) == []
    assert flaky.requests(sums) == []


@pytest.mark.parametrize("cache", ["--cache-dir", "--no-cache"])
def test_checksums_url_is_retried_after_a_503(flaky, served, image, tmp_path, cache):
    name, sums = served
    flaky.script(sums, [("status", 503, {"Retry-After": "1"})])
    cache_args = ["--cache-dir", tmp_path / "cache"] if cache == "--cache-dir" else ["--no-cache"]
    r = run_vmpull("pull", "-q", *cache_args, "--checksums", flaky.url(sums), "-o", tmp_path / "d.raw",
                   flaky.url(name))
    assert r.rc == 0, r
    assert [e["status"] for e in flaky.requests(sums)] == [503, 200]
    assert "HTTP 503" in r.stderr and "retry 1 of 5" in r.stderr
    assert (tmp_path / "d.raw").read_bytes() == image[0]
