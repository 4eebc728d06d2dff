"""Sigstore attachments read from a registry and from layouts (lib/oci/sigstore_attach.c), and their
payloads checked with a public key (lib/trust/sigstore.c), through tests/lib/sigstore_probe.c.
The attachments are written as containers/image writes them (tests/servers/sigstore_attach.py),
signed by openssl, and every payload the probe hands back is checked again with `openssl dgst
-verify`: what vmpull read is byte for byte what was signed."""
import gzip
import hashlib
import json
import os
import random
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import VMPULL, check_sanitizer_report, isolated_env, run_vmpull
from servers import sigstore_attach as sa
from servers.oci_layout import OCI_INDEX, Layout

PROBE = os.environ.get("VMPULL_SIGSTORE_PROBE", str(Path(VMPULL).parent / "tests" / "lib" / "sigstore_probe"))


def probe(*args, timeout=120):
    if not os.access(PROBE, os.X_OK):
        pytest.fail(f"tests/lib/sigstore_probe not built at {PROBE}")
    proc = subprocess.run([PROBE, *[str(a) for a in args]], capture_output=True, text=True, timeout=timeout)
    check_sanitizer_report(proc.stderr, args)
    seen = {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "verified": {}, "rejected": {}}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key in ("verified", "rejected"):
            i, _, rest = value.partition(" ")
            seen[key][int(i)] = rest
        else:
            seen.setdefault(key, value)
    return seen


def requests(registry, repo):
    """The GET requests the registry logged for repo (its access log), as (kind, reference)."""
    text = (registry.tmp / "registry.log").read_text(errors="replace")
    return re.findall(rf'"GET /v2/{re.escape(repo)}/(manifests|blobs)/([^ "?]+)', text)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sigstore-keys")
    return {"good": sa.make_key(folder, "good"), "other": sa.make_key(folder, "other")}


def disk_image(folder, seed):
    """A machine-OS image (an index over one disk artifact) in a layout; returns (layout, manifest
    digest of the disk, index digest)."""
    raw = random.Random(seed).randbytes(64 << 10)
    lay = Layout(folder)
    entry = lay.disk_artifact(gzip.compress(raw, compresslevel=1), "disk.x86_64.raw.gz", media_type="application/gzip")
    index = lay.index([entry])
    lay.write_index([(index, "v1")])
    return lay, entry["digest"], index["digest"]


def check_payloads(got, folder, expected, pub, tmp_path):
    """The payloads the probe wrote are the ones signed, and openssl agrees on which verify."""
    assert int(got["payloads"]) == len(expected), got
    for i, (data, sig) in enumerate(expected):
        assert (Path(folder) / f"payload-{i}").read_bytes() == data
        if sig is not None:
            assert (Path(folder) / f"signature-{i}").read_text() == sig
            assert (i in got["verified"]) == sa.openssl_verifies(pub, data, sig, tmp_path / f"check{i}"), got


def test_registry_attachment_read_and_verified(registry_plain, keys, tmp_path):
    repo = "sigstore/good"
    lay, manifest, _ = disk_image(tmp_path / "image", 1)
    registry_plain.push(lay.path, "v1", repo, "v1")
    ref = f"{registry_plain.host}/{repo}:v1"
    good = sa.payload(ref, manifest)
    other = sa.payload(ref, manifest, timestamp=1700000001)
    sigs = [(good, sa.sign(keys["good"][0], good)), (other, sa.sign(keys["other"][0], other))]
    tag, desc = sa.push_attachment(registry_plain, repo, tmp_path / "att", manifest, sigs,
                                   extra_layers=[(b'{"predicate":{}}', "application/vnd.dsse.envelope.v1+json")])
    assert tag == "sha256-" + manifest.split(":")[1] + ".sig"
    before = len(requests(registry_plain, repo))

    out = tmp_path / "out"
    out.mkdir()
    got = probe("-k", "-o", out, "-K", keys["good"][1], registry_plain.ref(repo, "v1"))
    assert got["rc"] == 0, got
    assert got["manifest"] == manifest and got["tag"] == tag and got["attachment"] == desc["digest"], got
    assert got["other"] == "1", got
    assert got["verified"] == {0: sa.key_id(keys["good"][1])}, got
    assert 1 in got["rejected"] and "not made by public key" in got["rejected"][1], got
    check_payloads(got, out, sigs, keys["good"][1], tmp_path)
    # The tag, then the image's own manifests, then one manifest and one blob per signature: the
    # attestation layer is not fetched.
    seen = requests(registry_plain, repo)[before:]
    assert [r for r in seen if r[1].endswith(".sig")] == [("manifests", tag)], seen
    payload_blobs = {f"sha256:{hashlib.sha256(d).hexdigest()}" for d, _ in sigs}
    blobs = [r[1] for r in seen if r[0] == "blobs"]
    assert sorted(blobs) == sorted(payload_blobs), seen


def test_no_attachment_is_an_empty_list(registry_plain, keys, tmp_path):
    repo = "sigstore/none"
    lay, manifest, _ = disk_image(tmp_path / "image", 2)
    registry_plain.push(lay.path, "v1", repo, "v1")
    before = len(requests(registry_plain, repo))
    got = probe("-k", "-K", keys["good"][1], registry_plain.ref(repo, "v1"))
    assert got["rc"] == 0 and got["attachment"] == "none" and got["payloads"] == "0", got
    tag = sa.attachment_tag(manifest)
    seen = requests(registry_plain, repo)[before:]
    assert [r for r in seen if r[1] == tag] == [("manifests", tag)], seen
    assert not [r for r in seen if r[0] == "blobs"], seen


def test_tampered_payload_is_read_and_rejected(registry_plain, keys, tmp_path):
    """The registry serves a payload other than the one signed (consistent digests, old signature)."""
    repo = "sigstore/tampered"
    lay, manifest, _ = disk_image(tmp_path / "image", 3)
    registry_plain.push(lay.path, "v1", repo, "v1")
    signed = sa.payload(f"{registry_plain.host}/{repo}:v1", manifest)
    tampered = signed.replace(b"sigstore/tampered", b"sigstore/tamperex")
    sigs = [(tampered, sa.sign(keys["good"][0], signed))]
    sa.push_attachment(registry_plain, repo, tmp_path / "att", manifest, sigs)
    out = tmp_path / "out"
    out.mkdir()
    got = probe("-k", "-o", out, "-K", keys["good"][1], registry_plain.ref(repo, "v1"))
    assert got["rc"] == 0 and got["verified"] == {} and 0 in got["rejected"], got
    check_payloads(got, out, sigs, keys["good"][1], tmp_path)


def test_damaged_payload_blob_is_a_digest_error(registry_plain, keys, tmp_path):
    repo = "sigstore/damaged"
    lay, manifest, _ = disk_image(tmp_path / "image", 4)
    registry_plain.push(lay.path, "v1", repo, "v1")
    data = sa.payload(f"{registry_plain.host}/{repo}:v1", manifest)
    _, desc = sa.push_attachment(registry_plain, repo, tmp_path / "att", manifest,
                                 [(data, sa.sign(keys["good"][0], data))])
    doc = json.loads((tmp_path / "att" / "blobs" / "sha256" / desc["digest"].split(":")[1]).read_bytes())
    blob = registry_plain.blob_file(doc["layers"][0]["digest"])
    blob.write_bytes(data.replace(b"cosign", b"cosigN"))
    got = probe("-k", registry_plain.ref(repo, "v1"))
    assert got["rc"] == 1 and got["code"] == "digest_mismatch", got
    assert "sigstore payload" in got["message"], got


def test_attachment_limits(registry_plain, keys, tmp_path):
    """A payload layer over the 4 MiB limit fails before its blob is asked for; a tag that is an
    index is not an attachment."""
    repo = "sigstore/limits"
    lay, manifest, index = disk_image(tmp_path / "image", 5)
    registry_plain.push(lay.path, "v1", repo, "v1")
    tag = sa.attachment_tag(manifest)
    big = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                      "digest": "sha256:" + "0" * 64, "size": 2},
           "layers": [{"mediaType": sa.PAYLOAD_TYPE, "digest": "sha256:" + "1" * 64, "size": (4 << 20) + 1,
                       "annotations": {sa.SIGNATURE_ANNOTATION: "AAAA"}}]}
    registry_plain.plant_manifest(repo, tag, json.dumps(big).encode())
    before = len(requests(registry_plain, repo))
    got = probe("-k", registry_plain.ref(repo, "v1"))
    assert got["rc"] == 1 and got["code"] == "limit", got
    assert "4 MiB" in got["message"] and "sigstore payload" in got["message"], got
    assert not [r for r in requests(registry_plain, repo)[before:] if r[0] == "blobs"]

    # The index's own attachment tag holds an index: refused as not an OCI image manifest.
    itag = sa.attachment_tag(index)
    body = (lay.path / "blobs" / "sha256" / index.split(":")[1]).read_bytes()
    registry_plain.plant_manifest(repo, itag, body)
    got = probe("-k", "-d", index, registry_plain.ref(repo, "v1"))
    assert got["rc"] == 1 and got["code"] == "manifest", got
    assert itag in got["message"], got


def test_attachment_comes_from_the_mirror_that_served(registry_plain, registry_tls, keys, tmp_path):
    """The mirror serves the image: its attachment is read there, and the registry is not asked."""
    repo = "sigstore/mirrored"
    lay, manifest, _ = disk_image(tmp_path / "image", 6)
    registry_tls.push(lay.path, "v1", repo, "v1")
    registry_plain.push(lay.path, "v1", repo, "v1")
    data = sa.payload(f"{registry_plain.host}/{repo}:v1", manifest)
    sigs = [(data, sa.sign(keys["good"][0], data))]
    tag, _ = sa.push_attachment(registry_tls, repo, tmp_path / "att", manifest, sigs)
    before_origin = len(requests(registry_plain, repo))
    got = probe("-k", "-M", f"{registry_plain.host}={registry_tls.host}", "-K", keys["good"][1],
                registry_plain.ref(repo, "v1"))
    assert got["rc"] == 0 and got["mirror"] == registry_tls.host, got
    assert got["verified"] == {0: sa.key_id(keys["good"][1])}, got
    assert requests(registry_plain, repo)[before_origin:] == []


def test_layout_attachment(keys, tmp_path):
    """oci-dir:// and oci-archive://: the attachment is the layout's own index.json entry tagged
    sha256-<hex>.sig, as skopeo copies it into a layout."""
    lay, manifest, index = disk_image(tmp_path / "image", 7)
    ref = "registry.example/vm/disk:v1"
    good = sa.payload(ref, manifest)
    sigs = [(good, sa.sign(keys["good"][0], good)), (good, None)]
    tag, desc = sa.add_attachment(lay, manifest, sigs)
    index_desc = {"mediaType": OCI_INDEX, "digest": index,
                  "size": (lay.path / "blobs" / "sha256" / index.split(":")[1]).stat().st_size}
    lay.write_index([(index_desc, "v1"), (desc, tag)])
    # skopeo sees it as an image of its own in the layout.
    proc = subprocess.run(["skopeo", "inspect", "--raw", f"oci:{lay.path}:{tag}"], capture_output=True)
    assert proc.returncode == 0 and json.loads(proc.stdout)["layers"][0]["mediaType"] == sa.PAYLOAD_TYPE, proc

    out = tmp_path / "out"
    out.mkdir()
    got = probe("-o", out, "-K", keys["good"][1], f"oci-dir://{lay.path}:v1")
    assert got["rc"] == 0 and got["attachment"] == desc["digest"], got
    assert got["verified"] == {0: sa.key_id(keys["good"][1])}, got
    assert "signature 1 absent" in got["stdout"] and 1 in got["rejected"], got
    check_payloads(got, out, sigs, keys["good"][1], tmp_path)

    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tf:
        for p in sorted(lay.path.rglob("*")):
            tf.add(p, arcname=str(p.relative_to(lay.path)), recursive=False)
    got = probe("-K", keys["good"][1], f"oci-archive://{archive}:v1")
    assert got["rc"] == 0 and got["attachment"] == desc["digest"], got
    assert got["verified"] == {0: sa.key_id(keys["good"][1])}, got

    # Another manifest of the layout has none.
    got = probe("-d", index, f"oci-dir://{lay.path}:v1")
    assert got["rc"] == 0 and got["attachment"] == "none", got


@pytest.mark.parametrize("dest_kind", ["dir", "archive"])
def test_save_keeps_the_attachment(registry_plain, keys, tmp_path, dest_kind):
    """vmpull save copies the sha256-<hex>.sig attachment of the saved manifest into the layout as its
    own manifest under that tag: the probe reads and verifies it with the registry out of the way,
    and skopeo sees it as an image of the layout."""
    repo = f"sigstore/saved-{dest_kind}"
    lay, manifest, _ = disk_image(tmp_path / "image", 8)
    registry_plain.push(lay.path, "v1", repo, "v1")
    data = sa.payload(f"{registry_plain.host}/{repo}:v1", manifest)
    sigs = [(data, sa.sign(keys["good"][0], data))]
    tag, desc = sa.push_attachment(registry_plain, repo, tmp_path / "att", manifest, sigs,
                                   extra_layers=[(b'{"predicate":{}}', "application/vnd.dsse.envelope.v1+json")])
    if dest_kind == "dir":
        dest, args, source = tmp_path / "saved", [f"oci-dir://{tmp_path / 'saved'}:v1"], f"oci-dir://{tmp_path / 'saved'}:v1"
        skopeo_ref = f"oci:{dest}:{tag}"
    else:
        dest = tmp_path / "saved.tar"
        args, source = ["--to-archive", dest], f"oci-archive://{dest}:v1"
        skopeo_ref = f"oci-archive:{dest}:{tag}"
    res = run_vmpull("save", "-q", "--json", "--tls-verify=false", registry_plain.ref(repo, "v1"), *args,
                     env=isolated_env(tmp_path))
    assert res.rc == 0, res

    out = tmp_path / "out"
    out.mkdir()
    got = probe("-o", out, "-K", keys["good"][1], source)
    assert got["rc"] == 0 and got["manifest"] == manifest, got
    assert got["attachment"] == desc["digest"], got  # the very bytes the registry held
    assert got["other"] == "1" and got["verified"] == {0: sa.key_id(keys["good"][1])}, got
    check_payloads(got, out, sigs, keys["good"][1], tmp_path)

    proc = subprocess.run(["skopeo", "inspect", "--raw", skopeo_ref], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert hashlib.sha256(proc.stdout).hexdigest() == desc["digest"].split(":")[1]
    # skopeo can copy it out again: every blob the attachment names is in the layout.
    copy = subprocess.run(["skopeo", "copy", "--quiet", skopeo_ref, f"oci:{tmp_path / 'copy'}:x"], capture_output=True)
    assert copy.returncode == 0, copy.stderr


def test_save_without_attachment_adds_no_entry(registry_plain, tmp_path):
    repo = "sigstore/saved-none"
    lay, manifest, _ = disk_image(tmp_path / "image", 9)
    registry_plain.push(lay.path, "v1", repo, "v1")
    dest = tmp_path / "saved"
    res = run_vmpull("save", "-q", "--tls-verify=false", registry_plain.ref(repo, "v1"), f"oci-dir://{dest}:v1",
                     env=isolated_env(tmp_path))
    assert res.rc == 0, res
    names = [m.get("annotations", {}).get("org.opencontainers.image.ref.name")
             for m in json.loads((dest / "index.json").read_text())["manifests"]]
    assert names == ["v1"], names


def test_offline_reads_the_attachment_from_the_cache(registry_plain, keys, tmp_path):
    """With a cache, the attachment manifest is kept under its tag's reference and the payloads by
    digest: --offline then verifies from the cache without a request."""
    repo = "sigstore/offline"
    lay, manifest, index = disk_image(tmp_path / "image", 10)
    registry_plain.push(lay.path, "v1", repo, "v1")
    data = sa.payload(f"{registry_plain.host}/{repo}:v1", manifest)
    tag, desc = sa.push_attachment(registry_plain, repo, tmp_path / "att", manifest,
                                   [(data, sa.sign(keys["good"][0], data))])
    cache = tmp_path / "cache"
    got = probe("-k", "-C", cache, "-K", keys["good"][1], registry_plain.ref(repo, "v1"))
    assert got["rc"] == 0 and got["verified"] == {0: sa.key_id(keys["good"][1])}, got
    before = len(requests(registry_plain, repo))
    got = probe("-O", "-C", cache, "-K", keys["good"][1], registry_plain.ref(repo, "v1"))
    assert got["rc"] == 0 and got["attachment"] == desc["digest"], got
    assert got["verified"] == {0: sa.key_id(keys["good"][1])}, got
    assert requests(registry_plain, repo)[before:] == []
    # An attachment never asked for is not in the cache: an error naming its tag, not "no signatures".
    got = probe("-O", "-C", cache, "-d", index, registry_plain.ref(repo, "v1"))
    assert got["rc"] == 1 and got["code"] == "not_found", got
    assert sa.attachment_tag(index) in got["message"] and "--offline" in got["message"], got
