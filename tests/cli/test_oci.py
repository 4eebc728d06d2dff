"""OCI sources: oci-dir:// layouts built here (json + hashlib) and docker:// from Debian's
docker-registry (pushed with skopeo copy --all), in both machine-image formats, plus
`vmpull inspect`. Every failure must be one clear line, the right --json code, and no output."""
import gzip
import hashlib
import json
import lzma
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import isolated_env, leftovers, run_vmpull
from servers.fixture_registry import REGISTRY_PASSWORD, REGISTRY_USER, TOKEN_SERVICE
from servers.oci_layout import (OCI_INDEX, OCI_MANIFEST, TAR, TAR_GZIP, TAR_ZSTD, TITLE, Layout, digest_of,
                                make_tar)

ARCHES = ["x86_64", "aarch64"]
DISKTYPES = ["qemu", "applehv", "hyperv"]
COMPRESSORS = {"qemu": "zst", "applehv": "xz", "hyperv": "gz"}
SHOWN_ARCH = {"x86_64": "amd64", "aarch64": "aarch64"}  # index spellings: one alias, one canonical


def raw_disk(label, size=192 << 10):
    """Disk-like bytes unique to label: data, a zero run (a hole), data."""
    head = hashlib.sha256(label.encode()).digest() * 512
    return head + bytes(size) + head[::-1]


def compress(data, kind):
    if kind == "xz":
        return lzma.compress(data, preset=0)
    if kind == "gz":
        return gzip.compress(data, compresslevel=1, mtime=0)
    if kind == "zst":
        return subprocess.run(["zstd", "-q", "-c", "-1"], input=data, capture_output=True, check=True).stdout
    if kind == "bz2":
        import bz2

        return bz2.compress(data, 1)
    raise ValueError(kind)


def build_machine_layout(path):
    """ref 5.5: the machine-os index (2 container images + 2 arches x 3 disktypes of disks);
    ref tarimg: single-layer tar images for amd64 (tar+gzip) and arm64 (tar+zstd);
    ref plaintar: a lone manifest whose plain tar holds a folder and the disk."""
    lay = Layout(path)
    disks = {}
    entries = []
    for arch in ("amd64", "arm64"):  # ordinary container images next to the disks
        entries.append(lay.tar_image(make_tar([("etc/", None), ("etc/os-release", b"ID=test\n")], "gzip"),
                                     TAR_GZIP, arch=arch))
    for arch in ARCHES:
        for dt in DISKTYPES:
            raw = raw_disk(f"{arch}-{dt}")
            title = f"podman-machine.{arch}.{dt}.raw.{COMPRESSORS[dt]}"
            entry = lay.disk_artifact(compress(raw, COMPRESSORS[dt]), title, arch=SHOWN_ARCH[arch], disktype=dt)
            disks[(arch, dt)] = {"raw": raw, "title": title, "manifest": entry["digest"]}
            entries.append(entry)
    machine = lay.index(entries)

    tar_raw = {"x86_64": raw_disk("tar-amd64"), "aarch64": raw_disk("tar-arm64")}
    tar_amd = lay.tar_image(make_tar([("./", None), ("./disk.raw.xz", compress(tar_raw["x86_64"], "xz"))], "gzip"),
                            TAR_GZIP, arch="amd64")
    tar_arm = lay.tar_image(make_tar([("disk.raw.zst", compress(tar_raw["aarch64"], "zst"))], "zstd"), TAR_ZSTD,
                            arch="arm64")
    tarimg = lay.index([tar_amd, tar_arm])
    plain_raw = raw_disk("plain-tar")
    plain = lay.manifest([lay.blob(make_tar([("images/", None), ("images/disk.raw.bz2", compress(plain_raw, "bz2"))]),
                                   TAR)], config=lay.config("amd64"))
    lay.write_index([(machine, "5.5"), (tarimg, "tarimg"), (plain, "plaintar")])
    return {"layout": lay, "disks": disks, "index": machine["digest"], "tar_raw": tar_raw, "plain_raw": plain_raw}


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    return build_machine_layout(tmp_path_factory.mktemp("machine-layout") / "layout")


def pull(tmp_path, source, *args, env=None):
    out = tmp_path / "out"
    return run_vmpull("pull", "--json", "-q", "--no-cache", "--data-dir", out, *args, source,
                      env=env or isolated_env(tmp_path))


def assert_pulled(res, tmp_path, raw, name):
    assert res.rc == 0, res
    j = res.json
    assert j["path"] == str(tmp_path / "out" / f"podman-machine-default_{name}")
    assert Path(j["path"]).read_bytes() == raw
    assert leftovers(tmp_path / "out") == [Path(j["path"]).name]
    return j


def assert_failed(res, tmp_path, code, *needles, rc=1):
    assert res.rc == rc, res
    assert res.json["error"]["code"] == code, res
    msg = res.json["error"]["message"]
    for n in needles:
        assert n in msg, (n, msg)
    lines = [line for line in res.stderr.splitlines() if not line.startswith("vmpull: warning:")]
    assert lines == [f"vmpull: {msg}"], res.stderr
    out = tmp_path / "out"
    assert not out.exists() or leftovers(out) == []
    return msg


def strip_suffix(title):
    return title.rsplit(".", 1)[0]


# ---------------------------------------------------------------- oci-dir://


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("disktype", DISKTYPES)
def test_oci_dir_each_disk(machine, tmp_path, arch, disktype):
    d = machine["disks"][(arch, disktype)]
    provider = "libkrun" if disktype == "applehv" and arch == "aarch64" else disktype
    spelled = {"x86_64": "amd64", "aarch64": "aarch64"}[arch]
    res = pull(tmp_path, f"oci-dir://{machine['layout'].path}:5.5", "--provider", provider, "--arch", spelled)
    j = assert_pulled(res, tmp_path, d["raw"], strip_suffix(d["title"]))
    assert j["image_name"] == d["title"]
    assert j["reference"] == d["manifest"]
    assert j["format"] == {"zst": "zstd", "xz": "xz", "gz": "gzip"}[COMPRESSORS[disktype]]


def test_oci_dir_host_arch_default(machine, tmp_path):
    host = os.uname().machine
    if host not in ARCHES:
        pytest.skip(f"no test disk for host architecture {host}")
    d = machine["disks"][(host, "qemu")]
    res = pull(tmp_path, f"oci-dir://{machine['layout'].path}:5.5")
    assert_pulled(res, tmp_path, d["raw"], strip_suffix(d["title"]))


def test_oci_dir_tar_images(machine, tmp_path):
    lay = machine["layout"].path
    res = pull(tmp_path, f"oci-dir://{lay}:tarimg", "--arch", "x86_64")
    j = assert_pulled(res, tmp_path, machine["tar_raw"]["x86_64"], "disk.raw")
    assert j["image_name"] == "disk.raw.xz"
    res = pull(tmp_path, f"oci-dir://{lay}:tarimg", "--arch", "arm64", "--replace")
    assert res.rc == 0, res
    assert res.json["image_name"] == "disk.raw.zst"
    assert Path(res.json["path"]).read_bytes() == machine["tar_raw"]["aarch64"]
    # A manifest straight under the name; a plain tar with a folder in front of the disk.
    res = pull(tmp_path, f"oci-dir://{lay}:plaintar", "-n", "plain")
    assert res.rc == 0, res
    assert res.json["path"] == str(tmp_path / "out" / "plain_disk.raw")
    assert Path(res.json["path"]).read_bytes() == machine["plain_raw"]


def test_oci_dir_without_ref(tmp_path):
    """A layout whose index.json holds one image is pulled without REF; with several unnamed
    choices it asks for a REF; a disk index directly in index.json is selected from."""
    lay = Layout(tmp_path / "single")
    raw = raw_disk("single")
    m = lay.disk_artifact(compress(raw, "xz"), "single.raw.xz")
    lay.write_index([(lay.index([m]), "only")])
    assert_pulled(pull(tmp_path, f"oci-dir://{lay.path}", "--arch", "x86_64"), tmp_path, raw, "single.raw")

    flat = Layout(tmp_path / "flat")
    a = flat.disk_artifact(compress(raw, "xz"), "a.raw.xz", disktype="qemu")
    b = flat.disk_artifact(compress(raw_disk("b"), "xz"), "b.raw.xz", disktype="hyperv")
    flat.write_index([(a, None), (b, None)])
    res = pull(tmp_path, f"oci-dir://{flat.path}", "--arch", "amd64", "--provider", "hyperv")
    assert res.rc == 0, res
    assert res.json["image_name"] == "b.raw.xz"

    two = Layout(tmp_path / "two")
    x = two.disk_artifact(compress(raw, "xz"), "x.raw.xz")
    two.write_index([(two.index([x]), "one"), (two.index([x]), "other")])
    (tmp_path / "out").mkdir(exist_ok=True)
    shutil.rmtree(tmp_path / "out")
    assert_failed(pull(tmp_path, f"oci-dir://{two.path}"), tmp_path, "no_match", "name one (one, other)")


def test_oci_dir_sha512_layer(tmp_path):
    lay = Layout(tmp_path / "l")
    raw = raw_disk("sha512")
    m = lay.disk_artifact(raw, "disk.raw", media_type="application/octet-stream", alg="sha512")
    lay.write_index([(m, "x")])
    assert_pulled(pull(tmp_path, f"oci-dir://{lay.path}:x", "--arch", "x86_64"), tmp_path, raw, "disk.raw")
    # The same layout with one byte of the (uncompressed) blob changed: only the sha512 can tell.
    layer = json.loads(lay.blob_path(m).read_text())["layers"][0]
    assert layer["digest"].startswith("sha512:")
    blob = lay.blob_path(layer)
    data = bytearray(blob.read_bytes())
    data[100] ^= 1
    blob.write_bytes(bytes(data))
    shutil.rmtree(tmp_path / "out")
    assert_failed(pull(tmp_path, f"oci-dir://{lay.path}:x", "--arch", "x86_64"), tmp_path, "digest_mismatch",
                  f"expected {layer['digest']}, got {digest_of(bytes(data), 'sha512')}")


def test_oci_dir_no_match_lists_pairs(machine, tmp_path):
    msg = assert_failed(pull(tmp_path, f"oci-dir://{machine['layout'].path}:5.5", "--provider", "wsl",
                             "--arch", "x86_64"), tmp_path, "no_match", "no disk for disktype wsl and arch x86_64")
    for arch in ARCHES:
        for dt in DISKTYPES:
            assert f"{dt}/{arch}" in msg
    assert_failed(pull(tmp_path, f"oci-dir://{machine['layout'].path}:tarimg", "--arch", "s390x"), tmp_path,
                  "no_match", "no entry for linux/s390x", "linux/amd64", "linux/arm64")


@pytest.mark.parametrize("case", ["no-title", "two-layers", "dotdot", "absolute", "two-files", "no-file",
                                  "symlink", "hardlink", "not-tar"])
def test_oci_dir_bad_images(tmp_path, case):
    lay = Layout(tmp_path / "bad")
    disk = compress(raw_disk(case), "xz")
    code, needle = "corrupt", None
    if case == "no-title":
        layers = [lay.blob(disk, "application/x-xz")]
        code, needle = "manifest", "has no org.opencontainers.image.title annotation"
    elif case == "two-layers":
        layers = [lay.blob(disk, "application/x-xz", annotations={TITLE: "a.raw.xz"}),
                  lay.blob(disk + b"x", "application/x-xz", annotations={TITLE: "b.raw.xz"})]
        code, needle = "manifest", "2 layers; a disk image has exactly one"
    else:
        files = {
            "dotdot": [("../disk.raw.xz", disk)],
            "absolute": [("/disk.raw.xz", disk)],
            "two-files": [("a.raw.xz", disk), ("b.raw.xz", disk)],
            "no-file": [("dir/", None)],
            "symlink": [("disk.raw.xz", ("symlink", "/etc/passwd"))],
            "hardlink": [("a.raw.xz", disk), ("b.raw.xz", ("hardlink", "a.raw.xz"))],
        }.get(case)
        tar = make_tar(files) if files else b"not a tar at all, just bytes" * 40
        layers = [lay.blob(tar, TAR)]
        needle = {"dotdot": "entry '../disk.raw.xz' contains '..'", "absolute": "has an absolute path",
                  "two-files": "exactly one regular file, found 'a.raw.xz' and 'b.raw.xz'",
                  "no-file": "exactly one regular file, found none", "symlink": "is a symbolic link",
                  "hardlink": "is a hard link", "not-tar": "tar layer"}[case]
    m = lay.manifest(layers)
    m["platform"] = {"architecture": "amd64", "os": "linux"}
    lay.write_index([(m, "x")])
    assert_failed(pull(tmp_path, f"oci-dir://{lay.path}:x", "--arch", "amd64"), tmp_path, code, needle)


def test_oci_dir_integrity(tmp_path):
    """A changed disk blob, a changed manifest, a blob symlinked out of the layout, an oversized
    document, an unknown REF, something that is not a layout."""
    lay = Layout(tmp_path / "l")
    raw = raw_disk("integrity")
    m = lay.disk_artifact(raw, "disk.raw", media_type="application/octet-stream")
    lay.write_index([(m, "x")])
    src = f"oci-dir://{lay.path}:x"
    layer = json.loads(lay.blob_path(m).read_text())["layers"][0]
    blob = lay.blob_path(layer)
    good = blob.read_bytes()

    # Same size, other bytes (an uncompressed layer decodes whatever it holds): the digest tells.
    other = raw_disk("other")
    assert len(other) == len(good)
    blob.write_bytes(other)
    assert_failed(pull(tmp_path, src, "--arch", "x86_64"), tmp_path, "digest_mismatch",
                  f"expected {layer['digest']}, got {digest_of(other)}")
    blob.write_bytes(good + b"x")
    assert_failed(pull(tmp_path, src, "--arch", "x86_64"), tmp_path, "digest_mismatch",
                  f"blob {layer['digest']}", "but the descriptor says")
    blob.write_bytes(good)

    # The blob as a symlink to a file outside the layout: refused, not followed.
    outside = tmp_path / "outside.xz"
    outside.write_bytes(good)
    blob.unlink()
    blob.symlink_to(outside)
    assert_failed(pull(tmp_path, src, "--arch", "x86_64"), tmp_path, "io", "symbolic link")
    blob.unlink()
    blob.write_bytes(good)

    # A manifest whose bytes changed.
    mpath = lay.blob_path(m)
    mgood = mpath.read_bytes()
    mpath.write_bytes(mgood.replace(b"disk.raw", b"disk.RAW"))
    assert_failed(pull(tmp_path, src, "--arch", "x86_64"), tmp_path, "digest_mismatch",
                  f"manifest {m['digest']}: digest mismatch")
    mpath.write_bytes(mgood)

    # An index entry claiming a document larger than 4 MiB.
    big = dict(m, size=(4 << 20) + 1)
    lay.write_index([(big, "x")])
    assert_failed(pull(tmp_path, src, "--arch", "x86_64"), tmp_path, "limit", "more than the 4 MiB limit")
    # index.json itself larger than 4 MiB
    (lay.path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [m],
                                                     "annotations": {"pad": "x" * (4 << 20)}}))
    assert_failed(pull(tmp_path, src, "--arch", "x86_64"), tmp_path, "limit", "index.json", "4 MiB")
    lay.write_index([(m, "x")])

    assert_failed(pull(tmp_path, f"oci-dir://{lay.path}:nope"), tmp_path, "not_found",
                  "index.json: no entry named 'nope' (the index has x)")
    (tmp_path / "empty").mkdir()
    assert_failed(pull(tmp_path, f"oci-dir://{tmp_path / 'empty'}"), tmp_path, "not_found",
                  "is not an OCI image layout (no oci-layout file)")
    (lay.path / "oci-layout").write_text('{"imageLayoutVersion": "2.0.0"}')
    assert_failed(pull(tmp_path, src), tmp_path, "unsupported_format", "image layout version 2.0.0")
    assert_failed(pull(tmp_path, "oci-dir://"), tmp_path, "usage", "no layout folder", rc=2)


def test_oci_dir_inspect(machine, tmp_path):
    lay = machine["layout"].path
    d = machine["disks"][("aarch64", "applehv")]
    res = run_vmpull("inspect", "--provider", "applehv", "--arch", "arm64", "--data-dir", tmp_path / "vms",
                     f"oci-dir://{lay}:5.5", env=isolated_env(tmp_path))
    assert res.rc == 0, res
    j = res.json
    assert j["reference"] == f"oci-dir://{lay}:5.5"
    assert j["index_digest"] == machine["index"]
    assert j["manifest_digest"] == d["manifest"]
    assert j["platform"] == {"os": "linux", "architecture": "aarch64", "variant": None}
    assert j["disktype"] == "applehv"
    assert j["file_name"] == d["title"] and j["format"] == "xz" and j["media_type"] == "application/zstd"
    assert j["output_path"] == str(tmp_path / "vms" / f"podman-machine-default_{strip_suffix(d['title'])}")
    assert j["size"] == len(compress(d["raw"], "xz"))
    assert j["layer_digest"] == digest_of(compress(d["raw"], "xz"))
    assert not (tmp_path / "vms").exists()  # inspect writes nothing

    res = run_vmpull("inspect", "--all", "--arch", "x86_64", "--data-dir", tmp_path / "vms", f"oci-dir://{lay}:5.5",
                     env=isolated_env(tmp_path))
    assert res.rc == 0, res
    entries = res.json["entries"]
    # The platform as the index spells it.
    assert sorted((e["platform"]["architecture"], e["disktype"]) for e in entries) == sorted(
        (SHOWN_ARCH[a], t) for a in ARCHES for t in DISKTYPES)
    assert [e["disktype"] for e in entries if e["selected"]] == ["qemu"]
    assert res.json["index_digest"] == machine["index"]

    # A tar layer: the name inside the tar, found without pulling.
    res = run_vmpull("inspect", "--arch", "arm64", "-o", tmp_path / "x.raw", f"oci-dir://{lay}:tarimg",
                     env=isolated_env(tmp_path))
    assert res.rc == 0, res
    assert res.json["tar_layer"] is True and res.json["file_name"] == "disk.raw.zst"
    assert res.json["format"] == "zstd" and res.json["output_path"] == str(tmp_path / "x.raw")

    res = run_vmpull("inspect", "--json", "--provider", "wsl", f"oci-dir://{lay}:5.5", env=isolated_env(tmp_path))
    assert res.rc == 1 and res.json["error"]["code"] == "no_match"
    res = run_vmpull("inspect", "--json", str(tmp_path), env=isolated_env(tmp_path))
    assert res.rc == 2 and res.json["error"]["code"] == "usage"
    assert "is a directory, not a disk image" in res.stderr  # what pull says of it (inspect reads files too)


# ---------------------------------------------------------------- docker://


@pytest.fixture(scope="module")
def pushed(machine, registry_plain):
    lay = machine["layout"].path
    registry_plain.push(lay, "5.5", "podman/machine-os", "5.5")
    registry_plain.push(lay, "tarimg", "tarimg", "1")
    return registry_plain


def test_registry_each_combination(machine, pushed, tmp_path):
    for arch in ARCHES:
        for dt in DISKTYPES:
            d = machine["disks"][(arch, dt)]
            res = pull(tmp_path, pushed.ref("podman/machine-os", "5.5"), "--tls-verify=false", "--provider", dt,
                       "--arch", arch, "--replace")
            assert res.rc == 0, res
            j = res.json
            assert Path(j["path"]).read_bytes() == d["raw"], (arch, dt)
            assert j["image_name"] == d["title"]
            assert j["reference"] == f"docker://{pushed.host}/podman/machine-os@{d['manifest']}"
    assert len(leftovers(tmp_path / "out")) == 6


def test_registry_by_digest_and_tar(machine, pushed, tmp_path):
    d = machine["disks"][("aarch64", "hyperv")]
    # The index by digest, then the disk's own manifest by digest (no index at all).
    res = pull(tmp_path, pushed.ref("podman/machine-os", digest=machine["index"]), "--tls-verify=false",
               "--provider", "hyperv", "--arch", "arm64")
    assert_pulled(res, tmp_path, d["raw"], strip_suffix(d["title"]))
    res = pull(tmp_path, pushed.ref("podman/machine-os", digest=d["manifest"]), "--tls-verify=false", "--replace",
               "--provider", "qemu")  # a manifest needs no selection: provider/arch do not matter
    assert res.rc == 0, res
    assert Path(res.json["path"]).read_bytes() == d["raw"]
    res = pull(tmp_path, pushed.ref("tarimg", "1"), "--tls-verify=false", "--arch", "aarch64")
    assert res.rc == 0, res
    assert res.json["image_name"] == "disk.raw.zst"
    assert Path(res.json["path"]).read_bytes() == machine["tar_raw"]["aarch64"]
    # A digest that is not in the repository.
    missing = "sha256:" + "0" * 64
    assert_failed(pull(tmp_path / "m", pushed.ref("podman/machine-os", digest=missing), "--tls-verify=false"),
                  tmp_path / "m", "not_found", "MANIFEST_UNKNOWN")


def test_registry_default_image(machine, pushed, tmp_path):
    d = machine["disks"][("x86_64", "qemu")]
    env = isolated_env(tmp_path, VMPULL_DEFAULT_IMAGE=f"{pushed.host}/podman/machine-os:5.5")
    res = pull(tmp_path, "docker://", "--tls-verify=false", "--arch", "x86_64", env=env)
    assert_pulled(res, tmp_path, d["raw"], strip_suffix(d["title"]))
    assert res.json["source"] == "docker://"
    # --default-image wins over the variable; --os-version only shapes the built-in default.
    res = pull(tmp_path, "docker://", "--tls-verify=false", "--arch", "x86_64",
               "--default-image", f"docker://{pushed.host}/podman/machine-os:9.9", env=env)
    assert_failed(res, tmp_path / "none", "not_found", f"{pushed.host}/podman/machine-os:9.9: manifest")
    res = pull(tmp_path, "docker://", "--os-version", "five", env=env | {"VMPULL_DEFAULT_IMAGE": ""})
    assert res.rc == 2 and res.json["error"]["code"] == "usage" and "--os-version" in res.stderr


def test_registry_inspect(machine, pushed, tmp_path):
    d = machine["disks"][("x86_64", "hyperv")]
    res = run_vmpull("inspect", "--tls-verify=false", "--provider", "hyperv", "--arch", "x86_64", "-n", "vm1",
                     "--data-dir", tmp_path / "vms", pushed.ref("podman/machine-os", "5.5"), env=isolated_env(tmp_path))
    assert res.rc == 0, res
    j = res.json
    assert j["index_digest"] == machine["index"] and j["manifest_digest"] == d["manifest"]
    assert j["pinned_reference"] == f"docker://{pushed.host}/podman/machine-os@{d['manifest']}"
    assert j["output_path"] == str(tmp_path / "vms" / f"vm1_{strip_suffix(d['title'])}")
    assert j["disktype"] == "hyperv" and j["format"] == "gzip"
    res = run_vmpull("inspect", "--all", "--tls-verify=false", pushed.ref("podman/machine-os", "5.5"),
                     env=isolated_env(tmp_path))
    assert res.rc == 0, res
    assert len(res.json["entries"]) == 6


def test_registry_insecure_fallback_and_errors(machine, pushed, tmp_path):
    # Verification on against a plain-http registry: a TLS error with a hint.
    msg = assert_failed(pull(tmp_path, pushed.ref("podman/machine-os", "5.5")), tmp_path, "tls")
    assert "--tls-verify=false" in msg
    assert_failed(pull(tmp_path, pushed.ref("podman/machine-os", "nope"), "--tls-verify=false"), tmp_path,
                  "not_found", "manifest podman/machine-os:nope: HTTP 404", "MANIFEST_UNKNOWN: manifest unknown")
    assert_failed(pull(tmp_path, pushed.ref("podman/machine-os", "5.5"), "--tls-verify=false", "--provider", "wsl",
                       "--arch", "x86_64"), tmp_path, "no_match", "qemu/x86_64, applehv/x86_64")
    assert_failed(pull(tmp_path, "docker://Bad/Repo:x"), tmp_path, "usage", "is not valid", rc=2)


def test_registry_oversized_manifest(machine, nginx, tmp_path):
    """An index over 4 MiB. docker-registry itself refuses to store or serve one, so nginx plays a
    static registry here: the manifest is a file at /v2/<repo>/manifests/<tag>."""
    d = machine["disks"][("x86_64", "qemu")]
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": d["manifest"], "size": 1000,
         "platform": {"architecture": "amd64", "os": "linux"}, "annotations": {"disktype": "qemu"}}],
        "annotations": {"pad": "p" * ((4 << 20) + 10)}}).encode()
    path = nginx.root / "v2" / "oversized" / "manifests" / "1"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    host = nginx.https_url.split("://", 1)[1]
    assert_failed(pull(tmp_path, f"docker://{host}/oversized:1", "--ca-cert", nginx.ca), tmp_path, "limit",
                  "manifest oversized:1 is larger than the 4 MiB limit")


def test_registry_blob_changed_in_storage(machine, tmp_path_factory, registry_plain, tmp_path):
    """A blob whose bytes changed in the registry's storage: the pull fails naming both digests."""
    lay = Layout(tmp_path_factory.mktemp("tamper") / "l")
    raw = raw_disk("tamper")
    m = lay.disk_artifact(raw, "t.raw", media_type="application/octet-stream")
    lay.write_index([(lay.index([m]), "t")])
    registry_plain.push(lay.path, "t", "tamper", "1")
    layer = json.loads(lay.blob_path(m).read_text())["layers"][0]
    stored = registry_plain.blob_file(layer["digest"])
    # Same size, other bytes: the registry serves them, only the digest can tell.
    other = raw_disk("tamper2")
    stored.write_bytes(other)
    try:
        assert_failed(pull(tmp_path, registry_plain.ref("tamper", "1"), "--tls-verify=false", "--arch", "x86_64"),
                      tmp_path, "digest_mismatch", f"expected {layer['digest']}, got {digest_of(other)}")
        # A stored blob of another size: refused on the Content-Length, before any byte is decoded.
        stored.write_bytes(other + b"tail")
        assert_failed(pull(tmp_path, registry_plain.ref("tamper", "1"), "--tls-verify=false", "--arch", "x86_64"),
                      tmp_path, "digest_mismatch", layer["digest"])
    finally:
        stored.write_bytes(raw)


# ---------------------------------------------------------------- TLS and auth


def test_registry_tls(machine, registry_tls, tmp_path):
    registry_tls.push(machine["layout"].path, "5.5", "machine-os", "5.5")
    d = machine["disks"][("x86_64", "qemu")]
    ref = registry_tls.ref("machine-os", "5.5")
    assert_failed(pull(tmp_path, ref, "--arch", "x86_64"), tmp_path, "tls", "certificate")
    certs = tmp_path / "certs.d"
    certs.mkdir()
    shutil.copy(registry_tls.ca, certs / "ca.crt")
    assert_pulled(pull(tmp_path, ref, "--arch", "x86_64", "--cert-dir", certs), tmp_path, d["raw"],
                  strip_suffix(d["title"]))
    res = pull(tmp_path, ref, "--arch", "x86_64", "--ca-cert", registry_tls.ca, "--replace")
    assert res.rc == 0, res
    res = pull(tmp_path, ref, "--arch", "x86_64", "--tls-verify=false", "--replace")
    assert res.rc == 0, res
    assert "TLS certificate verification is disabled" in res.stderr
    # A client *.cert without its key is a usage error naming the folder.
    (certs / "client.cert").write_text("x")
    assert_failed(pull(tmp_path / "k", ref, "--cert-dir", certs), tmp_path / "k", "usage", "has no key client.key",
                  rc=2)


def auth_json(path, key, user=REGISTRY_USER, password=REGISTRY_PASSWORD, extra=None):
    import base64

    doc = {"auths": {key: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}}
    doc.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def assert_no_secret(res):
    assert REGISTRY_PASSWORD not in res.stdout + res.stderr
    assert "wrong-password" not in res.stdout + res.stderr


@pytest.fixture(scope="module")
def basic(machine, registry_basic):
    registry_basic.push(machine["layout"].path, "5.5", "team/machine-os", "5.5")
    return registry_basic


def test_registry_basic_auth(machine, basic, tmp_path):
    d = machine["disks"][("aarch64", "qemu")]
    ref = basic.ref("team/machine-os", "5.5")
    common = ["--ca-cert", basic.ca, "--arch", "aarch64", "--replace"]
    res = pull(tmp_path, ref, *common)
    assert_failed(res, tmp_path, "auth", "authentication required and no credentials found")
    res = pull(tmp_path, ref, *common, "--creds", f"{REGISTRY_USER}:wrong-password")
    assert_failed(res, tmp_path, "auth", "refused the credentials from --creds")
    assert_no_secret(res)
    res = pull(tmp_path, ref, *common, "--creds", f"{REGISTRY_USER}:{REGISTRY_PASSWORD}")
    assert_pulled(res, tmp_path, d["raw"], strip_suffix(d["title"]))
    assert_no_secret(res)

    # --authfile: the most specific key wins (a wrong password on the bare registry key).
    af = tmp_path / "auth.json"
    doc = auth_json(af, f"{basic.host}/team/machine-os")
    full = json.loads(doc.read_text())
    import base64

    full["auths"][basic.host] = {"auth": base64.b64encode(f"{REGISTRY_USER}:wrong-password".encode()).decode()}
    af.write_text(json.dumps(full))
    res = pull(tmp_path, ref, *common, "--authfile", af)
    assert res.rc == 0, res
    full["auths"][f"{basic.host}/team"] = full["auths"].pop(f"{basic.host}/team/machine-os")
    af.write_text(json.dumps(full))
    res = pull(tmp_path, ref, *common, "--authfile", af)
    assert res.rc == 0, res
    del full["auths"][f"{basic.host}/team"]
    af.write_text(json.dumps(full))
    res = pull(tmp_path, ref, *common, "--authfile", af)
    assert_failed(res, tmp_path / "x", "auth", f"refused the credentials from {af}")
    assert_no_secret(res)

    # $REGISTRY_AUTH_FILE, then $XDG_RUNTIME_DIR/containers/auth.json, then ~/.docker/config.json.
    good = auth_json(tmp_path / "env-auth.json", f"https://{basic.host}")
    res = pull(tmp_path, ref, *common, env=isolated_env(tmp_path, REGISTRY_AUTH_FILE=str(good)))
    assert res.rc == 0, res
    auth_json(tmp_path / "run" / "containers" / "auth.json", basic.host)
    res = pull(tmp_path, ref, *common)
    assert res.rc == 0, res
    shutil.rmtree(tmp_path / "run")
    auth_json(tmp_path / "home" / ".docker" / "config.json", basic.host)
    res = pull(tmp_path, ref, *common)
    assert res.rc == 0, res
    # A missing --authfile is an error, not "no credentials".
    assert_failed(pull(tmp_path, ref, *common, "--authfile", tmp_path / "nope.json"), tmp_path / "y", "not_found",
                  "auth file")


def test_registry_credential_helper(machine, basic, tmp_path):
    """credHelpers: docker-credential-<name> get, the registry on stdin, JSON on stdout."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    seen = tmp_path / "helper-stdin"
    helper = bindir / "docker-credential-vmpulltest"
    helper.write_text(f"""#!/bin/sh
[ "$1" = get ] || exit 3
cat > {seen}
printf '{{"ServerURL":"%s","Username":"{REGISTRY_USER}","Secret":"{REGISTRY_PASSWORD}"}}' "$(cat {seen})"
""")
    helper.chmod(0o755)
    af = tmp_path / "auth.json"
    af.write_text(json.dumps({"credHelpers": {basic.host: "vmpulltest"}}))
    env = isolated_env(tmp_path, PATH=f"{bindir}:{os.environ['PATH']}")
    res = pull(tmp_path, basic.ref("team/machine-os", "5.5"), "--ca-cert", basic.ca, "--arch", "x86_64",
               "--authfile", af, env=env)
    assert res.rc == 0, res
    assert seen.read_text() == basic.host
    assert_no_secret(res)
    af.write_text(json.dumps({"credsStore": "absent-helper"}))
    assert_failed(pull(tmp_path / "z", basic.ref("team/machine-os", "5.5"), "--ca-cert", basic.ca, "--authfile", af,
                       env=env), tmp_path / "z", "auth", "docker-credential-absent-helper")


def test_registry_token_auth(machine, registry_token, tmp_path):
    reg = registry_token
    reg.push(machine["layout"].path, "5.5", "podman/machine-os", "5.5")
    d = machine["disks"][("x86_64", "applehv")]
    ref = reg.ref("podman/machine-os", "5.5")
    common = ["--ca-cert", reg.ca, "--arch", "x86_64", "--provider", "applehv"]
    assert_failed(pull(tmp_path, ref, *common), tmp_path, "auth", "authentication required")
    res = pull(tmp_path, ref, *common, "--creds", f"{REGISTRY_USER}:wrong-password")
    assert_failed(res, tmp_path, "auth", "the token service refused the credentials from --creds")
    assert_no_secret(res)
    before = len(reg.issuer.requests)
    res = pull(tmp_path, ref, *common, "--creds", f"{REGISTRY_USER}:{REGISTRY_PASSWORD}")
    assert_pulled(res, tmp_path, d["raw"], strip_suffix(d["title"]))
    assert_no_secret(res)
    # One token for the whole pull (manifests and blob), asked with the registry's service and scope.
    asked = reg.issuer.requests[before:]
    assert len(asked) == 1, asked
    assert asked[0]["user"] == REGISTRY_USER
    assert asked[0]["query"]["service"] == [TOKEN_SERVICE]
    assert asked[0]["query"]["scope"] == ["repository:podman/machine-os:pull"]


# ---------------------------------------------------------------- the demo layout


def test_demo_layout_is_current(tmp_path):
    """examples/demo-layout (what `make demo` pulls) is exactly what make-demo-layout.sh makes from
    the shipped demo disk; rerun the script when the disk changes."""
    from conftest import ROOT

    made = tmp_path / "layout"
    proc = subprocess.run([str(ROOT / "examples" / "make-demo-layout.sh"), str(ROOT / "examples" / "demo-disk.raw.xz"),
                           str(made)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    shipped = ROOT / "examples" / "demo-layout"
    files = sorted(str(p.relative_to(made)) for p in made.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(shipped)) for p in shipped.rglob("*") if p.is_file()), \
        "examples/demo-layout is stale: run examples/make-demo-layout.sh"
    for f in files:
        assert (made / f).read_bytes() == (shipped / f).read_bytes(), f
    res = run_vmpull("inspect", "-o", tmp_path / "d.raw", f"oci-dir://{shipped}:latest", env=isolated_env(tmp_path))
    assert res.rc == 0, res
    assert res.json["file_name"] == "demo-disk.raw.xz" and res.json["disktype"] == "qemu"
    assert res.json["layer_digest"] == digest_of((ROOT / "examples" / "demo-disk.raw.xz").read_bytes())


def test_registry_blob_redirect_drops_credentials(machine, basic, registry_redirect, tmp_path):
    """Blob GETs follow a redirect to another host (object storage) without the Authorization header."""
    front = registry_redirect
    d = machine["disks"][("aarch64", "hyperv")]
    res = pull(tmp_path, front.ref("team/machine-os", "5.5"), "--tls-verify=false", "--provider", "hyperv",
               "--arch", "aarch64", "--creds", f"{REGISTRY_USER}:{REGISTRY_PASSWORD}")
    assert_pulled(res, tmp_path, d["raw"], strip_suffix(d["title"]))
    assert_no_secret(res)
    front_log, store_log = front.front_log(), front.store_log()
    assert "/blobs/sha256:" in front_log and " 307 auth=Basic " in front_log, front_log
    assert "/manifests/5.5 200 auth=Basic " in front_log, front_log
    stored = [line for line in store_log.splitlines() if "/data " in line]
    assert stored and all(line.startswith("localhost ") and line.endswith("auth=-") for line in stored), store_log
