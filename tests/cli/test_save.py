"""`vmpull save`: registry and layout images copied, still compressed, into OCI layouts (folders
and tar archives) that `vmpull pull` then reads with the registry gone, and that skopeo (an
independent client) reads as the same image. Real servers: Debian's docker-registry, nginx."""
import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, VMPULL, isolated_env, leftovers, open_files, run_vmpull
from servers.fixture_mirrors import Fronts, machine_image, raw_disk
from servers.fixture_registry import Registry
from servers.oci_layout import Layout, digest_of

REPO = "podman/machine-os"
TAG = "5.5"


def save(tmp_path, *args):
    return run_vmpull("save", "-q", "--tls-verify=false", *args, env=isolated_env(tmp_path))


def pull(tmp_path, source, *args, name="disk.raw"):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return run_vmpull("pull", "--json", "-q", "--no-cache", "--replace", "-o", out / name, *args, source,
                      env=isolated_env(tmp_path))


def assert_pulled(res, raw):
    assert res.rc == 0, res
    assert Path(res.json["path"]).read_bytes() == raw
    return res.json


def assert_failed(res, code, *needles):
    assert res.rc in (1, 2), res
    err = res.json["error"]
    assert err["code"] == code, res
    for n in needles:
        assert n in err["message"], (n, err["message"])
    assert res.stderr.splitlines()[-1] == f"vmpull: {err['message']}"


def index_of(layout):
    return json.loads((Path(layout) / "index.json").read_text())


def entries_by_name(layout):
    return {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in index_of(layout)["manifests"]}


def skopeo_raw(ref):
    proc = subprocess.run(["skopeo", "inspect", "--raw", ref], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def writing_blob(pid, layout):
    """Has process pid a file open in the layout's blobs/sha256/ (the sink's temporary)?"""
    return any(path.startswith(f"{layout}/blobs/sha256/") for path in open_files(pid))


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return machine_image(tmp_path_factory.mktemp("save-src") / "layout", "saved")


@pytest.fixture(scope="module")
def origin(tmp_path_factory, image):
    reg = Registry(tmp_path_factory.mktemp("save-origin"))
    try:
        reg.start()
    except RuntimeError as e:
        pytest.fail(str(e))
    reg.push(image["layout"].path, "src", REPO, TAG)
    yield reg
    reg.stop()


def test_save_from_registry_then_pull_with_the_registry_stopped(tmp_path, tmp_path_factory, image):
    """The air gap: save from a registry, stop it, pull from the layout: the same disk, and the
    layout's files are the registry's bytes (skopeo reads the same manifest digest)."""
    reg = Registry(tmp_path_factory.mktemp("save-stopped"))
    reg.start()
    try:
        reg.push(image["layout"].path, "src", REPO, TAG)
        dest = tmp_path / "carry"
        res = save(tmp_path, "--json", "--arch", "aarch64", reg.ref(REPO, TAG), f"oci-dir://{dest}")
    finally:
        reg.stop()
    assert res.rc == 0, res
    d = image["disks"][("aarch64", "qemu")]
    j = res.json
    assert j["destination"] == f"oci-dir://{dest}:{TAG}" and j["ref_name"] == TAG  # the tag is the default REF
    assert j["digest"] == d["manifest"] and j["manifests"] == [d["manifest"]] and j["mirror"] is None
    assert j["blobs"] == 3 and j["blobs_reused"] == 0
    # byte-identical blobs: the layer as compressed, the manifest as served
    src = image["layout"]
    assert (dest / "blobs" / "sha256" / d["layer"][7:]).read_bytes() == d["blob"]
    assert (dest / "blobs" / "sha256" / d["manifest"][7:]).read_bytes() == \
        (src.path / "blobs" / "sha256" / d["manifest"][7:]).read_bytes()
    (entry,) = index_of(dest)["manifests"]
    assert entry["platform"]["architecture"] == "aarch64" and entry["annotations"]["disktype"] == "qemu"
    assert leftovers(dest) == sorted(["oci-layout", "index.json", "blobs", "blobs/sha256"] +
                                     [f"blobs/sha256/{x[7:]}" for x in (d["layer"], d["manifest"],
                                                                          digest_of(b"{}"))])
    # the registry is gone: the layout alone serves the pull, by REF and by the whole index
    assert_pulled(pull(tmp_path, f"oci-dir://{dest}:{TAG}"), d["raw"])
    assert_pulled(pull(tmp_path, f"oci-dir://{dest}", "--arch", "arm64"), d["raw"])
    # an independent client reads the saved layout as the same image
    assert "sha256:" + hashlib.sha256(skopeo_raw(f"oci:{dest}:{TAG}")).hexdigest() == d["manifest"]


def test_save_all_saves_every_disk(tmp_path, image, origin):
    dest = tmp_path / "all"
    res = save(tmp_path, "--json", "--all", origin.ref(REPO, TAG), f"oci-dir://{dest}:every")
    assert res.rc == 0, res
    j = res.json
    assert j["digest"] == image["index"] and j["media_type"] == "application/vnd.oci.image.index.v1+json"
    assert sorted(j["manifests"]) == sorted(d["manifest"] for d in image["disks"].values())
    # the index is the source's, byte for byte (skopeo agrees), and every disk is in the layout
    raw_index = skopeo_raw(f"oci:{dest}:every")
    assert "sha256:" + hashlib.sha256(raw_index).hexdigest() == image["index"]
    assert raw_index == (image["layout"].path / "blobs" / "sha256" / image["index"][7:]).read_bytes()
    for (arch, dt), d in image["disks"].items():
        assert_pulled(pull(tmp_path, f"oci-dir://{dest}:every", "--arch", arch, "--provider", dt), d["raw"])
    listed = run_vmpull("inspect", "--all", f"oci-dir://{dest}:every", env=isolated_env(tmp_path))
    assert listed.rc == 0, listed
    assert sorted(e["layer_digest"] for e in listed.json["entries"]) == \
        sorted(d["layer"] for d in image["disks"].values())


def test_two_saves_into_one_layout(tmp_path, image, origin):
    dest = tmp_path / "shared"
    q, a = image["disks"][("x86_64", "qemu")], image["disks"][("aarch64", "applehv")]
    assert save(tmp_path, "--arch", "x86_64", origin.ref(REPO, TAG), f"oci-dir://{dest}:qemu").rc == 0
    first = save(tmp_path, "--json", "--arch", "arm64", "--provider", "applehv", origin.ref(REPO, TAG),
                 f"oci-dir://{dest}:applehv")
    assert first.rc == 0, first
    assert first.json["blobs_reused"] == 1  # the empty config, already there
    assert {k: v["digest"] for k, v in entries_by_name(dest).items()} == {"qemu": q["manifest"],
                                                                          "applehv": a["manifest"]}
    assert_pulled(pull(tmp_path, f"oci-dir://{dest}:qemu"), q["raw"])
    assert_pulled(pull(tmp_path, f"oci-dir://{dest}:applehv"), a["raw"])
    # the same save again replaces its entry and copies nothing
    again = save(tmp_path, "--json", "--arch", "x86_64", origin.ref(REPO, TAG), f"oci-dir://{dest}:qemu")
    assert again.rc == 0 and again.json["blobs"] == 0 and again.json["blobs_reused"] == 3, again
    assert sorted(entries_by_name(dest)) == ["applehv", "qemu"] and len(index_of(dest)["manifests"]) == 2


def test_kill_during_save_leaves_the_layout_as_it_was(tmp_path, tmp_path_factory, image, origin):
    """kill -9 halfway through a blob (sent slowly by nginx in front of the registry): the layout
    still holds exactly what it held, and pulls as before."""
    big_layout = Layout(tmp_path_factory.mktemp("big") / "l")
    big = os.urandom(3 << 20)
    big_layout.write_index([(big_layout.index([big_layout.disk_artifact(big, "big.raw.zst")]), "src")])
    origin.push(big_layout.path, "src", "big", "1")
    fronts = Fronts(tmp_path / "fronts", origin, rate=262144).start()
    try:
        dest = tmp_path / "layout"
        d = image["disks"][("x86_64", "qemu")]
        assert save(tmp_path, "--arch", "x86_64", origin.ref(REPO, TAG), f"oci-dir://{dest}:kept").rc == 0
        before = {p: (dest / p).read_bytes() for p in leftovers(dest) if (dest / p).is_file()}
        proc = subprocess.Popen([VMPULL, "save", "-q", "--tls-verify=false", "--arch", "x86_64",
                                 f"docker://{fronts.slow}/big:1", f"oci-dir://{dest}:big"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **isolated_env(tmp_path)})
        # kill it once the blob is being written (its unnamed temporary is open in blobs/sha256/):
        # the 3 MiB take 12 s at 256 KiB/s
        deadline = time.monotonic() + 30
        while not writing_blob(proc.pid, dest) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert proc.poll() is None and writing_blob(proc.pid, dest), proc.communicate()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        fronts.stop()
    after = {p: (dest / p).read_bytes() for p in leftovers(dest) if (dest / p).is_file()}
    assert after == before  # nothing added, nothing half-written, index.json untouched
    assert_pulled(pull(tmp_path, f"oci-dir://{dest}:kept"), d["raw"])


def test_archive_round_trip(tmp_path, image, origin):
    tar = tmp_path / "machine-os.tar"
    res = save(tmp_path, "--json", "--all", origin.ref(REPO, TAG), "--to-archive", tar)
    assert res.rc == 0, res
    assert res.json["destination"] == f"oci-archive://{tar}:{TAG}"
    assert leftovers(tmp_path) == sorted(["home", "machine-os.tar"])  # no temporaries beside it
    raw_index = skopeo_raw(f"oci-archive:{tar}:{TAG}")
    assert "sha256:" + hashlib.sha256(raw_index).hexdigest() == image["index"]
    for (arch, dt), d in image["disks"].items():
        assert_pulled(pull(tmp_path, f"oci-archive://{tar}:{TAG}", "--arch", arch, "--provider", dt), d["raw"])
    ins = run_vmpull("inspect", "--arch", "aarch64", f"oci-archive://{tar}", env=isolated_env(tmp_path))
    assert ins.rc == 0 and ins.json["layer_digest"] == image["disks"][("aarch64", "qemu")]["layer"], ins
    # an existing archive is left alone unless --replace
    stamp = tar.stat().st_mtime_ns
    assert_failed(save(tmp_path, "--json", origin.ref(REPO, TAG), "--to-archive", tar), "exists", str(tar))
    assert tar.stat().st_mtime_ns == stamp
    res = save(tmp_path, "--json", "--replace", "--arch", "x86_64", origin.ref(REPO, TAG), f"oci-archive://{tar}:one")
    assert res.rc == 0, res
    assert_pulled(pull(tmp_path, f"oci-archive://{tar}:one"), image["disks"][("x86_64", "qemu")]["raw"])


def test_save_from_a_layout_and_from_a_layout_archive(tmp_path, image):
    """oci-dir:// and oci-archive:// sources: REF defaults to the source's REF."""
    dest = tmp_path / "copy"
    d = image["disks"][("aarch64", "applehv")]
    src = f"oci-dir://{image['layout'].path}:src"
    res = save(tmp_path, "--arch", "aarch64", "--provider", "applehv", src, f"oci-dir://{dest}")
    assert res.rc == 0 and res.stdout == f"oci-dir://{dest}:src\n", res
    tar = tmp_path / "copy.tar"
    assert save(tmp_path, "--arch", "aarch64", "--provider", "applehv", f"oci-dir://{dest}:src",
                "--to-archive", tar).rc == 0
    again = tmp_path / "again"
    assert save(tmp_path, "--arch", "aarch64", "--provider", "applehv", f"oci-archive://{tar}:src",
                f"oci-dir://{again}:x").rc == 0
    assert_pulled(pull(tmp_path, f"oci-dir://{again}:x", "--provider", "applehv"), d["raw"])
    # --all of a whole layout (no REF): its index.json becomes an index blob of its own
    whole = tmp_path / "whole"
    res = save(tmp_path, "--json", "--all", f"oci-dir://{image['layout'].path}", f"oci-dir://{whole}:all")
    assert res.rc == 0, res
    assert res.json["digest"] == digest_of((image["layout"].path / "index.json").read_bytes())
    assert_pulled(pull(tmp_path, f"oci-dir://{whole}:all", "--arch", "aarch64", "--provider", "applehv"), d["raw"])


@pytest.fixture(scope="module")
def big_layout(tmp_path_factory):
    """A layout whose disk blob is several MiB: an archive's blob is read long after the store
    that opened the archive is gone, where a small blob is read whole at once."""
    import random

    raw = random.Random(12).randbytes(6 << 20) + bytes(1 << 20)
    blob = subprocess.run(["zstd", "-q", "-c", "-1"], input=raw, capture_output=True, check=True).stdout
    assert len(blob) > 5 << 20
    lay = Layout(tmp_path_factory.mktemp("big") / "layout")
    lay.write_index([(lay.disk_artifact(blob, "big.x86_64.qemu.raw.zst"), "big")])
    return lay.path, raw


@pytest.mark.parametrize("maker", ["vmpull-save", "gnu-tar", "skopeo"])
def test_archive_with_a_big_blob_pulls(tmp_path, big_layout, maker):
    layout, raw = big_layout
    tar = tmp_path / "big.tar"
    if maker == "vmpull-save":
        assert save(tmp_path, f"oci-dir://{layout}:big", "--to-archive", tar).rc == 0
    elif maker == "gnu-tar":
        subprocess.run(["tar", "-C", layout, "-cf", tar, "oci-layout", "index.json", "blobs"], check=True)
    else:
        proc = subprocess.run(["skopeo", "copy", "-q", f"oci:{layout}:big", f"oci-archive:{tar}:big"],
                              capture_output=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    assert_pulled(pull(tmp_path, f"oci-archive://{tar}"), raw)
    # save reads the same blob source out of the archive
    again = tmp_path / "again"
    assert save(tmp_path, f"oci-archive://{tar}", f"oci-dir://{again}:x").rc == 0
    assert_pulled(pull(tmp_path, f"oci-dir://{again}:x", name="again.raw"), raw)


def test_save_wraps_a_file_and_a_download(tmp_path, nginx):
    raw = raw_disk("wrapped")
    blob = subprocess.run(["zstd", "-q", "-c", "-1"], input=raw, capture_output=True, check=True).stdout
    f = tmp_path / "fcos.aarch64.raw.zst"
    f.write_bytes(blob)
    dest = tmp_path / "wrapped"
    res = save(tmp_path, "--json", "--provider", "applehv", "--arch", "arm64", f, f"oci-dir://{dest}:dev")
    assert res.rc == 0, res
    lay = dest / "blobs" / "sha256"
    top = json.loads((lay / res.json["digest"][7:]).read_text())
    (entry,) = top["manifests"]
    assert entry["platform"] == {"architecture": "aarch64", "os": "linux"}
    assert entry["annotations"] == {"disktype": "applehv"}
    manifest = json.loads((lay / entry["digest"][7:]).read_text())
    (layer,) = manifest["layers"]
    assert layer["annotations"]["org.opencontainers.image.title"] == f.name
    assert layer["mediaType"] == "application/zstd" and layer["digest"] == digest_of(blob)
    assert (lay / layer["digest"][7:]).read_bytes() == blob
    j = assert_pulled(pull(tmp_path, f"oci-dir://{dest}:dev", "--provider", "applehv", "--arch", "aarch64"), raw)
    assert j["image_name"] == f.name
    assert_failed(pull(tmp_path, f"oci-dir://{dest}:dev", "--provider", "qemu", "--arch", "aarch64"), "no_match",
                  "applehv")
    # over http, checked against --digest before it goes in
    (nginx.root / "images").mkdir(exist_ok=True)
    (nginx.root / "images" / "wrapped.raw.zst").write_bytes(blob)
    url = nginx.url("images/wrapped.raw.zst")
    assert_failed(save(tmp_path, "--json", "--digest", digest_of(b"other"), url, f"oci-dir://{dest}:web"),
                  "digest_mismatch", digest_of(blob))
    assert "web" not in entries_by_name(dest)
    res = save(tmp_path, "--json", "--digest", digest_of(blob), "--arch", "x86_64", url, f"oci-dir://{dest}:web")
    assert res.rc == 0 and res.json["blobs_reused"] >= 2, res  # layer and config are there already
    assert_pulled(pull(tmp_path, f"oci-dir://{dest}:web", "--arch", "x86_64"), raw)


def test_bad_input_leaves_nothing(tmp_path, origin):
    dest = tmp_path / "never"
    assert_failed(save(tmp_path, "--json", origin.ref(REPO, "no-such-tag"), f"oci-dir://{dest}"), "not_found",
                  "no-such-tag")
    assert not dest.exists()
    assert_failed(save(tmp_path, "--json", tmp_path / "missing.raw.xz", f"oci-dir://{dest}"), "not_found")
    assert not dest.exists()
    assert_failed(save(tmp_path, "--json", origin.ref(REPO, TAG), f"docker://{dest}"), "usage", "oci-dir://")
    assert_failed(save(tmp_path, "--json", "--all", tmp_path / "x.raw", f"oci-dir://{dest}"), "usage", "--all")
    assert not dest.exists()
    # a folder that is not a layout is not written into
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"meow")
    assert_failed(save(tmp_path, "--json", "--arch", "x86_64", origin.ref(REPO, TAG), f"oci-dir://{other}"),
                  "exists", "not an OCI image layout")
    assert leftovers(other) == ["cat.jpg"]
    # a layout whose index.json would not take the entry: found before anything is copied
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (broken / "index.json").write_text('{"manifests": 7}')
    assert_failed(save(tmp_path, "--json", "--arch", "x86_64", origin.ref(REPO, TAG), f"oci-dir://{broken}"),
                  "manifest", "index.json is not an image index")
    assert leftovers(broken) == ["index.json", "oci-layout"]
    # a blob that fails its digest halfway through the copy: a layout the save created goes again
    lay = Layout(tmp_path / "tampered-src")
    m = lay.disk_artifact(raw_disk("tampered"), "t.raw", media_type="application/octet-stream")
    lay.write_index([(lay.index([m]), "t")])
    origin.push(lay.path, "t", "tampered", "1")
    layer = json.loads(lay.blob_path(m).read_text())["layers"][0]
    origin.blob_file(layer["digest"]).write_bytes(raw_disk("other"))  # same size, other bytes
    assert_failed(save(tmp_path, "--json", "--arch", "x86_64", origin.ref("tampered", "1"), f"oci-dir://{dest}"),
                  "digest_mismatch", f"expected {layer['digest']}")
    assert not dest.exists()
    r = run_vmpull("save", "x.raw")
    assert r.rc == 2 and "missing DEST" in r.stderr
    r = run_vmpull("save", "x.raw", "oci-dir://a", "--to-archive", "b.tar")
    assert r.rc == 2 and "not both" in r.stderr


def test_help_and_man_page_describe_save():
    r = run_vmpull("save", "--help")
    assert r.rc == 0 and r.stdout == run_vmpull("help", "save").stdout
    for word in ("--all", "--to-archive", "--json", "oci-dir://PATH[:REF]", "oci-archive://FILE[:REF]", "--mirror"):
        assert word in r.stdout, word
    man = (ROOT / "docs" / "vmpull.1").read_text().replace("\\-", "-")
    save_section = man.split(".SH SAVE", 1)[1].split("\n.SH ", 1)[0]
    for word in ("--all", "--to-archive", "oci-archive://", "index.json", "Example:"):
        assert word in save_section, word
    assert "Air gaps and fleets" in (ROOT / "README.md").read_text()
