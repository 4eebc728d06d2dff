"""Symbolic links below the cache folder and below a layout that `save` writes into: a link where
a folder of vmpull's should be is never followed. The pull (or save, or cache command) fails with
an error that names the link, and nothing is written, read or removed outside. The top folder
itself may be a link: the user chose it."""
import gzip
import json
import random
import subprocess
from pathlib import Path

import pytest

from conftest import leftovers, node_file_name, run_vmpull
from servers.oci_layout import Layout

CACHE_FOLDERS = ["blobs", "blobs/sha256", "disks", "disks/sha256", "partial", "refs"]
VICTIM = "ab" * 32  # a name the cache's folders hold entries under


@pytest.fixture(scope="module")
def image():
    rnd = random.Random(31)
    raw = rnd.randbytes(256 << 10) + bytes(256 << 10) + rnd.randbytes(64 << 10)
    return raw, gzip.compress(raw, compresslevel=1)


@pytest.fixture
def served(flaky, image, request):
    name = node_file_name(request, ".raw.gz")
    flaky.serve(name, image[1])
    return flaky.url(name)


def pull(cache, out, url, *args):
    return run_vmpull("pull", "-q", "--json", "--keep-uncompressed", "--cache-dir", cache, "-o", out, *args, url)


def plant_link(top, folder, outside):
    """top/folder becomes a link to outside (a folder with whatever it held)."""
    link = top / folder
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_dir():
        link.rename(outside)
    else:
        outside.mkdir()
    link.symlink_to(outside)
    return link


def assert_refused(res, link):
    assert res.rc == 1, res
    err = res.json["error"]
    assert err["code"] == "io", res
    assert f"{link} is a symbolic link (not followed below " in err["message"], err["message"]


@pytest.mark.parametrize("folder", CACHE_FOLDERS)
def test_a_link_below_the_cache_fails_the_pull(tmp_path, served, folder):
    cache, outside, out = tmp_path / "cache", tmp_path / "outside", tmp_path / "out"
    out.mkdir()
    link = plant_link(cache, folder, outside)
    assert_refused(pull(cache, out / "disk.raw", served), link)
    assert leftovers(outside) == []
    assert leftovers(out) == []


@pytest.mark.parametrize("folder", CACHE_FOLDERS)
def test_a_link_below_a_filled_cache_fails_the_pull_and_leaves_what_it_points_to(tmp_path, served, image, folder):
    """The cache was filled, then a folder of it moved out and a link put in its place: the next
    pull neither reads nor writes nor removes anything there."""
    cache, outside, out = tmp_path / "cache", tmp_path / "outside", tmp_path / "out"
    out.mkdir()
    assert pull(cache, out / "first.raw", served).rc == 0
    link = plant_link(cache, folder, outside)
    (outside / VICTIM).write_bytes(b"not vmpull's")
    before = {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()}
    assert_refused(pull(cache, out / "second.raw", served), link)
    assert {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()} == before
    assert leftovers(out) == ["first.raw"]


@pytest.mark.parametrize("folder", CACHE_FOLDERS)
@pytest.mark.parametrize("command", [["list"], ["verify"], ["prune", "--all"]])
def test_cache_commands_refuse_a_link_below_the_cache(tmp_path, served, folder, command):
    cache, outside, out = tmp_path / "cache", tmp_path / "outside", tmp_path / "out"
    out.mkdir()
    assert pull(cache, out / "first.raw", served).rc == 0
    link = plant_link(cache, folder, outside)
    (outside / VICTIM).write_bytes(b"not vmpull's")
    before = sorted(p.name for p in outside.rglob("*"))
    res = run_vmpull("cache", *command, "--cache-dir", cache)
    assert res.rc == 1, res
    assert f"{link} is a symbolic link (not followed below {cache})" in res.stderr, res
    assert sorted(p.name for p in outside.rglob("*")) == before


def test_the_cache_folder_itself_may_be_a_link(tmp_path, served, image):
    real, cache, out = tmp_path / "real", tmp_path / "cache", tmp_path / "out"
    real.mkdir()
    out.mkdir()
    cache.symlink_to(real)
    res = pull(cache, out / "disk.raw", served)
    assert res.rc == 0, res
    digest = res.json["digest"][7:]
    assert (real / "blobs" / "sha256" / digest).read_bytes() == image[1]
    assert (real / "disks" / "sha256" / digest).read_bytes() == image[0]
    res = pull(cache, out / "again.raw", served, "--offline")
    assert res.rc == 0, res
    assert (out / "again.raw").read_bytes() == image[0]


# --- save into a layout -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source_layout(tmp_path_factory, image):
    lay = Layout(tmp_path_factory.mktemp("links-src") / "layout")
    lay.write_index([(lay.disk_artifact(image[1], "disk.x86_64.qemu.raw.gz", media_type="application/gzip"), "src")])
    return lay.path


def save(*args):
    return run_vmpull("save", "-q", "--json", *args)


@pytest.mark.parametrize("folder", ["blobs", "blobs/sha256"])
def test_save_into_a_layout_with_a_link_below_fails(tmp_path, source_layout, folder):
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    assert save(f"oci-dir://{source_layout}:src", f"oci-dir://{dest}:first").rc == 0
    index = (dest / "index.json").read_bytes()
    link = plant_link(dest, folder, outside)
    before = sorted(p.name for p in outside.rglob("*"))
    # a new blob (another image) must go in: it must not go through the link
    other = Layout(tmp_path / "other")
    blob = gzip.compress(b"other disk" * 1000)
    other.write_index([(other.disk_artifact(blob, "o.x86_64.qemu.raw.gz", media_type="application/gzip"), "o")])
    assert_refused(save(f"oci-dir://{other.path}:o", f"oci-dir://{dest}:second"), link)
    assert sorted(p.name for p in outside.rglob("*")) == before
    assert (dest / "index.json").read_bytes() == index


@pytest.mark.parametrize("folder", ["blobs", "blobs/sha256"])
def test_save_into_a_new_layout_with_a_link_below_fails(tmp_path, source_layout, folder):
    """An empty folder with only the link in it: save would make it a layout."""
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    Path(dest / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    link = plant_link(dest, folder, outside)
    assert_refused(save(f"oci-dir://{source_layout}:src", f"oci-dir://{dest}:x"), link)
    assert leftovers(outside) == []


def test_pull_from_a_layout_whose_blobs_folder_is_a_link_fails(tmp_path, source_layout):
    """Reading: the same rule (a layout's blobs/sha256 as a link to a copy elsewhere)."""
    lay = tmp_path / "lay"
    subprocess.run(["cp", "-a", source_layout, lay], check=True)
    link = plant_link(lay, "blobs/sha256", tmp_path / "outside")
    out = tmp_path / "out"
    out.mkdir()
    res = run_vmpull("pull", "-q", "--json", "--no-cache", "-o", out / "disk.raw", f"oci-dir://{lay}:src")
    assert_refused(res, link)
    assert leftovers(out) == []
