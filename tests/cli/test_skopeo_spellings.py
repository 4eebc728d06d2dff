"""skopeo's spellings of a source: `oci:PATH[:REF]` and `oci-archive:FILE[:REF]` read the layouts and
archives skopeo itself wrote (skopeo copy is the independent writer), and the other containers
transports (`dir:`, `containers-storage:`, `docker-archive:` ...) are refused with the list of what
vmpull reads instead of being looked for as files; `./dir:x` still names a file."""
import json
import subprocess
from pathlib import Path

import pytest

from conftest import isolated_env, run_vmpull
from servers.fixture_mirrors import raw_disk
from servers.oci_layout import Layout

EVERY_SOURCE = ("file://", "http://", "https://", "oci-dir://", "oci-archive://", "docker://", "fcos://", "oci:")


def pull(tmp_path, source, *args, name="disk.raw", cwd=None):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return run_vmpull("pull", "--json", "-q", "--no-cache", "--replace", "-o", out / name, *args, source,
                      env=isolated_env(tmp_path), cwd=cwd)


def skopeo(*args):
    proc = subprocess.run(["skopeo", *args], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def skopeo_made(tmp_path_factory):
    """A layout and an archive written by skopeo copy from a machine-OS disk layout of ours."""
    root = tmp_path_factory.mktemp("skopeo-made")
    raw = raw_disk("skopeo-spelling")
    blob = subprocess.run(["zstd", "-q", "-c", "-1"], input=raw, capture_output=True, check=True).stdout
    src = Layout(root / "src")
    src.write_index([(src.disk_artifact(blob, "spelled.x86_64.qemu.raw.zst"), "disk")])
    layout, archive = root / "by-skopeo", root / "by-skopeo.tar"
    skopeo("copy", "-q", f"oci:{src.path}:disk", f"oci:{layout}:mine")
    skopeo("copy", "-q", f"oci:{src.path}:disk", f"oci-archive:{archive}:mine")
    assert (layout / "index.json").is_file() and archive.is_file()
    return layout, archive, raw


@pytest.mark.parametrize("spelling", ["oci:{layout}:mine", "oci:{layout}", "oci-archive:{archive}:mine",
                                      "oci-archive:{archive}"])
def test_skopeo_spellings_read_what_skopeo_wrote(tmp_path, skopeo_made, spelling):
    layout, archive, raw = skopeo_made
    source = spelling.format(layout=layout, archive=archive)
    res = pull(tmp_path, source, "--arch", "x86_64")
    assert res.rc == 0, res
    assert Path(res.json["path"]).read_bytes() == raw
    assert res.json["image_name"] == "spelled.x86_64.qemu.raw.zst"
    # the same image as the scheme spelling names
    long = source.replace("oci-archive:", "oci-archive://", 1) if source.startswith("oci-archive:") \
        else source.replace("oci:", "oci-dir://", 1)
    again = pull(tmp_path, long, "--arch", "x86_64", name="again.raw")
    assert again.rc == 0 and again.json["digest"] == res.json["digest"], again


def test_skopeo_spelling_a_wrong_ref_names_it(tmp_path, skopeo_made):
    layout, _, _ = skopeo_made
    res = pull(tmp_path, f"oci:{layout}:nope")
    assert res.rc == 1 and res.json["error"]["code"] == "not_found", res
    assert "nope" in res.json["error"]["message"] and "mine" in res.json["error"]["message"]


def test_save_writes_to_a_skopeo_spelling_skopeo_reads(tmp_path, skopeo_made):
    layout, _, raw = skopeo_made
    dest = tmp_path / "saved"
    res = run_vmpull("save", "-q", "--json", f"oci:{layout}:mine", f"oci:{dest}:kept", env=isolated_env(tmp_path))
    assert res.rc == 0, res
    assert res.json["ref_name"] == "kept"
    raw_index = skopeo("inspect", "--raw", f"oci:{dest}:kept")
    (layer,) = json.loads(raw_index)["layers"]  # the manifest pull would choose, as saved
    assert layer["annotations"]["org.opencontainers.image.title"] == "spelled.x86_64.qemu.raw.zst"
    assert pull(tmp_path, f"oci:{dest}:kept", "--arch", "x86_64").rc == 0


@pytest.mark.parametrize("source", ["dir:/var/tmp/image", "containers-storage:quay.io/podman/machine-os:5.5",
                                    "docker-archive:/tmp/image.tar", "docker-daemon:fedora:latest",
                                    "docker:quay.io/podman/machine-os", "sif:image.sif", "ostree:x@/ostree/repo"])
def test_other_transports_are_refused_with_what_vmpull_reads(tmp_path, source):
    res = pull(tmp_path, source)
    assert res.rc == 2, res
    err = res.json["error"]
    assert err["code"] == "usage"
    transport = source.split(":", 1)[0]
    assert f"{transport}: is a containers transport vmpull does not read" in err["message"], err
    for spelled in EVERY_SOURCE:
        assert spelled in err["message"], (spelled, err)
    assert f"./{source}" in err["message"]
    assert "No such file" not in err["message"]


def test_a_file_named_like_a_transport_is_still_reachable(tmp_path):
    raw = raw_disk("dir-colon")
    (tmp_path / "dir:disk.raw").write_bytes(raw)
    assert pull(tmp_path, "dir:disk.raw", cwd=tmp_path).json["error"]["code"] == "usage"
    res = pull(tmp_path, "./dir:disk.raw", cwd=tmp_path)
    assert res.rc == 0, res
    assert Path(res.json["path"]).read_bytes() == raw
    # names that are no transport stay file names, as before
    (tmp_path / "image:latest").write_bytes(raw)
    assert pull(tmp_path, "image:latest", cwd=tmp_path, name="b.raw").rc == 0


def test_unknown_scheme_lists_every_source(tmp_path):
    res = pull(tmp_path, "ftp://example.com/disk.raw.xz")
    assert res.rc == 2 and res.json["error"]["code"] == "usage", res
    msg = res.json["error"]["message"]
    assert "ftp://: unsupported source scheme" in msg
    for spelled in EVERY_SOURCE:
        assert spelled in msg, (spelled, msg)
