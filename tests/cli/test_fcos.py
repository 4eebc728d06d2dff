"""fcos://<stream>: the Fedora CoreOS stream metadata is read (here from a stream file served on
loopback), the disk for the provider and architecture is chosen and pulled, verified against the
sha256 the metadata gives and its detached OpenPGP signature (here made by gpg with a test key,
trusted with --keyring)."""
import gzip
import hashlib
import io
import json
import lzma
import random
import zipfile

import pytest

from conftest import leftovers, run_vmpull

RELEASE = "40.20240416.3.1"
KEYRING = []  # the test key's public key file, once the stream fixture made it


def vhdx_zip(raw):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"fedora-coreos-{RELEASE}-hyperv.x86_64.vhdx", raw)
    return buf.getvalue()


# (arch, platform, format) -> how to compress
KINDS = {
    ("x86_64", "qemu", "qcow2.xz"): lambda raw: lzma.compress(raw, preset=0),
    ("aarch64", "qemu", "qcow2.xz"): lambda raw: lzma.compress(raw, preset=0),
    ("x86_64", "applehv", "raw.gz"): lambda raw: gzip.compress(raw, compresslevel=1),
    ("aarch64", "applehv", "raw.gz"): lambda raw: gzip.compress(raw, compresslevel=1),
    ("x86_64", "hyperv", "vhdx.zip"): vhdx_zip,
}


@pytest.fixture(scope="module")
def stream(flaky, openpgp):
    """A stream file with one distinct disk per (arch, platform), each signed by the test key as
    Fedora signs them (a detached binary signature beside it); names are unique to this module."""
    KEYRING[:] = [openpgp.pub["signer"]]
    rnd = random.Random(40)
    disks = {}
    doc = {"stream": "stable", "metadata": {"last-modified": "2024-04-29T18:11:22Z"}, "architectures": {}}
    for (arch, platform, fmt), compress in KINDS.items():
        raw = rnd.randbytes(64 << 10) + bytes(256 << 10) + arch.encode() + platform.encode()
        blob = compress(raw)
        name = f"fcos-{RELEASE}-{platform}.{arch}.{fmt}"
        flaky.serve(name, blob)
        flaky.serve(name + ".sig", openpgp.detach(blob))
        disks[(arch, platform)] = (raw, blob, name)
        art = doc["architectures"].setdefault(arch, {"artifacts": {}})["artifacts"]
        art[platform] = {"release": RELEASE, "formats": {fmt: {"disk": {
            "location": flaky.url(name),
            "signature": flaky.url(name + ".sig"),
            "sha256": hashlib.sha256(blob).hexdigest(),
            "uncompressed-sha256": hashlib.sha256(raw).hexdigest()}}}}
    # decoys the selection must not take
    doc["architectures"]["x86_64"]["artifacts"]["metal"] = {"release": RELEASE, "formats": {"raw.xz": {"disk": {
        "location": flaky.url("metal.raw.xz"), "sha256": "0" * 64}}}}
    doc["architectures"]["s390x"] = {"artifacts": {"qemu": {"formats": {}}}}
    flaky.serve("fcos-stable.json", json.dumps(doc).encode())
    return {"url": flaky.url("fcos-stable.json"), "disks": disks, "doc": doc}


def pull(tmp_path, stream_url, *args, keyring=True):
    trust = ["--keyring", KEYRING[0]] if keyring and KEYRING else []
    return run_vmpull("pull", "-q", "--json", "--cache-dir", tmp_path / "cache", "--stream-url", stream_url,
                      "--data-dir", tmp_path / "machines", *trust, *args, "fcos://stable")


@pytest.mark.parametrize("provider,arch,platform", [
    ("qemu", "x86_64", "qemu"),
    ("qemu", "arm64", "qemu"),
    ("applehv", "aarch64", "applehv"),
    ("libkrun", "amd64", "applehv"),
    ("hyperv", "x86_64", "hyperv"),
])
def test_the_right_disk_for_provider_and_arch(flaky, stream, tmp_path, provider, arch, platform):
    norm = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)
    raw, blob, name = stream["disks"][(norm, platform)]
    r = pull(tmp_path, stream["url"], "--provider", provider, "--arch", arch)
    assert r.rc == 0, r
    out = r.json
    assert open(out["path"], "rb").read() == raw
    assert out["digest"] == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert RELEASE in out["reference"] and "stable" in out["reference"]
    assert out["source"] == "fcos://stable"
    assert flaky.requests(name)


def test_second_pull_needs_only_the_stream_file(flaky, stream, tmp_path):
    raw, blob, name = stream["disks"][("x86_64", "qemu")]
    before = len(flaky.requests(name))
    r1 = pull(tmp_path, stream["url"], "--arch", "x86_64", "-n", "one")
    assert r1.rc == 0, r1
    assert len(flaky.requests(name)) == before + 1
    n_stream = len(flaky.requests("fcos-stable.json"))
    r2 = pull(tmp_path, stream["url"], "--arch", "x86_64", "-n", "two")
    assert r2.rc == 0, r2
    # the disk is known by its sha256: no request for it; the stream file is revalidated (304)
    assert len(flaky.requests(name)) == before + 1
    assert [e["status"] for e in flaky.requests("fcos-stable.json")[n_stream:]] == [304]
    assert open(r2.json["path"], "rb").read() == raw
    # and --offline needs no network at all
    total = len(flaky.log)
    r3 = pull(tmp_path, stream["url"], "--arch", "x86_64", "-n", "three", "--offline")
    assert r3.rc == 0, r3
    assert len(flaky.log) == total


def broken_stream(flaky, stream, name, change):
    doc = json.loads(json.dumps(stream["doc"]))
    change(doc)
    flaky.serve(name, json.dumps(doc).encode())
    return flaky.url(name)


def test_sha256_mismatch_is_an_error(flaky, stream, tmp_path):
    def wrong(doc):
        doc["architectures"]["x86_64"]["artifacts"]["qemu"]["formats"]["qcow2.xz"]["disk"]["sha256"] = "ab" * 32
    url = broken_stream(flaky, stream, "fcos-wrong-sha.json", wrong)
    r = pull(tmp_path, url, "--arch", "x86_64")
    assert r.rc == 1
    assert r.json["error"]["code"] == "digest_mismatch"
    assert "ab" * 32 in r.json["error"]["message"]
    machines = tmp_path / "machines"
    assert not machines.exists() or leftovers(machines) == []
    # the bytes that failed are not kept: neither as a blob nor as a partial
    blob = stream["disks"][("x86_64", "qemu")][1]
    assert not (tmp_path / "cache" / "blobs" / "sha256" / hashlib.sha256(blob).hexdigest()).exists()
    assert leftovers(tmp_path / "cache" / "partial") == []


@pytest.mark.parametrize("args,code,message", [
    (["--arch", "s390x"], "no_match", "no qemu qcow2.xz disk for s390x (formats: nothing)"),
    (["--arch", "riscv64"], "no_match", "has no riscv64 disks (it has x86_64, aarch64, s390x)"),
    (["--arch", "aarch64", "--provider", "hyperv"], "no_match", "no hyperv artifact for aarch64 (it has qemu, applehv)"),
    (["--provider", "wsl"], "no_match", "no disk for provider 'wsl'"),
])
def test_no_disk_for_the_choice(stream, tmp_path, args, code, message):
    r = pull(tmp_path, stream["url"], *args)
    assert r.rc == 1
    assert r.json["error"]["code"] == code
    assert message in r.json["error"]["message"]
    assert r.json["error"]["message"].startswith("pull fcos://stable: stream metadata " + stream["url"])


@pytest.mark.parametrize("body,message", [
    (b"<html>not json</html>", "not valid JSON"),
    (b'{"architectures": []}', "no \\\"architectures\\\" object".replace("\\", "")),
    (b'{"architectures": {"x86_64": {"artifacts": {"qemu": {"formats": {"qcow2.xz": {"disk": '
     b'{"location": "file:///etc/passwd", "sha256": "' + b"a" * 64 + b'"}}}}}}}}', "not an http(s) URL"),
    (b'{"architectures": {"x86_64": {"artifacts": {"qemu": {"formats": {"qcow2.xz": {"disk": '
     b'{"location": "http://127.0.0.1:1/x.qcow2.xz", "sha256": "abc"}}}}}}}}', "not 64 hex digits"),
    (b'{"architectures": {}} trailing', "not valid JSON"),
])
def test_malformed_stream_metadata(flaky, tmp_path, body, message):
    name = "bad-%s.json" % hashlib.sha256(body).hexdigest()[:8]
    flaky.serve(name, body)
    r = pull(tmp_path, flaky.url(name), "--arch", "x86_64")
    assert r.rc == 1
    assert r.json["error"]["code"] == "manifest"
    assert message in r.json["error"]["message"]


def test_stream_metadata_http_error(flaky, tmp_path):
    r = pull(tmp_path, flaky.url("no-such-stream.json"), "--arch", "x86_64")
    assert r.rc == 1
    assert r.json["error"]["code"] == "not_found"
    assert "stream metadata" in r.json["error"]["message"] and "HTTP 404" in r.json["error"]["message"]


@pytest.mark.parametrize("source", ["fcos://", "fcos://Stable", "fcos://stable/x", "fcos://../etc"])
def test_bad_stream_names(tmp_path, source):
    r = run_vmpull("pull", "-q", "--json", "--cache-dir", tmp_path / "c", "-o", tmp_path / "o", source)
    assert r.rc == 2, r
    assert r.json["error"]["code"] == "usage"


def test_kept_disk_of_a_stream_entry_needs_no_request_for_the_disk(flaky, stream, tmp_path):
    """The stream entry's sha256 names the disk's bytes: with their decoded disk kept, the pull
    copies it and asks for nothing but the stream file, even with the blob gone from the cache (an
    older vmpull started the disk's download here and threw it away). That is when no signature is
    checked: a signature needs the bytes (test_fcos_signature.py)."""
    raw, blob, name = stream["disks"][("x86_64", "qemu")]
    r1 = pull(tmp_path, stream["url"], "--arch", "x86_64", "-n", "one", "--keep-uncompressed")
    assert r1.rc == 0, r1
    (tmp_path / "cache" / "blobs" / "sha256" / hashlib.sha256(blob).hexdigest()).unlink()
    before = len(flaky.requests(name))
    r2 = pull(tmp_path, stream["url"], "--arch", "x86_64", "-n", "two", "--insecure-skip-signature")
    assert r2.rc == 0, r2
    assert open(r2.json["path"], "rb").read() == raw
    assert len(flaky.requests(name)) == before
