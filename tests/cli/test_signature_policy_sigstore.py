"""policy.json's sigstoreSigned (issue 16), against attachments written exactly as containers/image
writes them and signed by openssl (tests/servers/sigstore_attach.py; Debian's skopeo has sigstore
disabled, so openssl's `dgst -verify` is the independent check of each payload). The signature must
name the chosen instance's manifest: one on the index alone does not cover it. Layouts (oci-dir://,
oci-archive://) are judged by the oci / oci-archive transports' path scopes, where only
exactReference and exactRepository can name an identity."""
import gzip
import hashlib
import json
import random
import re
import tarfile
from pathlib import Path

import pytest

from conftest import leftovers, run_vmpull
from servers import sigstore_attach as sa
from servers.oci_layout import OCI_INDEX, Layout


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sigstore-policy-keys")
    return {"good": sa.make_key(folder, "good"), "other": sa.make_key(folder, "other")}


def disk_image(folder, seed):
    """An index over one x86_64 qemu disk artifact: (layout, raw disk, instance digest, index digest)."""
    raw = random.Random(seed).randbytes(64 << 10)
    lay = Layout(folder)
    entry = lay.disk_artifact(gzip.compress(raw, compresslevel=1), "disk.x86_64.raw.gz", media_type="application/gzip")
    index = lay.index([entry])
    lay.write_index([(index, "v1")])
    return lay, raw, entry["digest"], index["digest"]


def env_for(tmp_path):
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "XDG_RUNTIME_DIR": str(tmp_path / "run"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "REGISTRY_AUTH_FILE": "", "VMPULL_MIRRORS": "", "VMPULL_DEFAULT_IMAGE": ""}


def write_policy(tmp_path, transports, default=None):
    p = tmp_path / "policy.json"
    p.write_text(json.dumps({"default": default or [{"type": "reject"}], "transports": transports}))
    return p


def registries_d(tmp_path, use=True):
    d = tmp_path / "registries.d"
    d.mkdir(exist_ok=True)
    (d / "sigstore.yaml").write_text(f"default-docker:\n  use-sigstore-attachments: {'true' if use else 'false'}\n")
    return d


def pull(tmp_path, source, pol, *extra):
    return run_vmpull("pull", "--json", "-q", "--no-cache", "--tls-verify=false", "--arch", "x86_64",
                      "--data-dir", tmp_path / "out", "--signature-policy", pol, *extra, source,
                      env=env_for(tmp_path))


def sigstore_req(pub, **extra):
    return dict({"type": "sigstoreSigned", "keyPath": str(pub)}, **extra)


def requests(registry, repo):
    text = (registry.tmp / "registry.log").read_text(errors="replace")
    return re.findall(rf'"GET /v2/{re.escape(repo)}/(manifests|blobs)/([^ "?]+)', text)


def assert_rejected(res, tmp_path, *needles):
    assert res.rc == 1, res
    assert res.json["error"]["code"] == "signature", res
    for n in needles:
        assert n in res.json["error"]["message"], (n, res.json["error"]["message"])
    out = tmp_path / "out"
    assert not out.exists() or leftovers(out) == []


@pytest.mark.parametrize("case", ["good", "other_key", "other_digest", "index_only", "tampered", "missing",
                                  "attachments_off"])
def test_registry_sigstore(registry_plain, keys, tmp_path, case):
    repo = f"policy-sigstore/{case.replace('_', '-')}"
    lay, raw, instance, index = disk_image(tmp_path / "image", sum(map(ord, case)))
    registry_plain.push(lay.path, "v1", repo, "v1")
    ref = f"{registry_plain.host}/{repo}:v1"
    key, pub = keys["good"]
    signed = sa.payload(ref, instance)
    sigs, target = {
        "good": ([(signed, sa.sign(key, signed))], instance),
        "attachments_off": ([(signed, sa.sign(key, signed))], instance),
        "other_key": ([(signed, sa.sign(keys["other"][0], signed))], instance),
        # the index's digest, attached where the instance's signatures live
        "other_digest": ([(sa.payload(ref, index), sa.sign(key, sa.payload(ref, index)))], instance),
        # a correct signature of the index, at the index's own tag: it does not cover the instance
        "index_only": ([(sa.payload(ref, index), sa.sign(key, sa.payload(ref, index)))], index),
        "tampered": ([(signed.replace(b"v1", b"v2"), sa.sign(key, signed))], instance),
        "missing": ([], None),
    }[case]
    if target:
        sa.push_attachment(registry_plain, repo, tmp_path / "att", target, sigs)
    for data, sig in sigs:  # the independent check of what was attached
        assert sa.openssl_verifies(keys["good"][1], data, sig, tmp_path / "chk") == (case in ("good", "attachments_off",
                                                                                             "other_digest",
                                                                                             "index_only"))
    pol = write_policy(tmp_path, {"docker": {registry_plain.host: [sigstore_req(pub)]}})
    rd = registries_d(tmp_path, use=case != "attachments_off")
    before = len(requests(registry_plain, repo))
    res = pull(tmp_path, registry_plain.ref(repo, "v1"), pol, "--registries.d", rd)
    seen = requests(registry_plain, repo)[before:]
    layer_gets = [r for r in seen if r[0] == "blobs" and r[1] not in {sa.attachment_tag(instance)}]
    if case == "good":
        assert res.rc == 0, res
        assert Path(res.json["path"]).read_bytes() == raw
        assert res.json["signature"] == {"type": "sigstore", "key": sa.key_id(pub)}
        return
    needle = {"other_key": "not made by", "other_digest": "does not match", "index_only": "no sigstore signature",
              "tampered": "not made by", "missing": "no sigstore signature",
              "attachments_off": "no sigstore signature"}[case]
    assert_rejected(res, tmp_path, needle, f'docker scope "{registry_plain.host}"', "sigstoreSigned")
    # the disk layer was never asked for: the only blobs fetched are the payloads
    payload_digests = {f"sha256:{__import__('hashlib').sha256(d).hexdigest()}" for d, _ in sigs}
    assert {r[1] for r in layer_gets} <= payload_digests, seen
    if case == "attachments_off":
        assert not [r for r in seen if r[1].endswith(".sig")], seen


def test_sigstore_from_the_mirror_that_served(registry_plain, registry_tls, keys, tmp_path):
    """The mirror serves the image and its attachment; the policy scope is the reference's registry."""
    repo = "policy-sigstore/mirrored"
    lay, raw, instance, _ = disk_image(tmp_path / "image", 77)
    registry_tls.push(lay.path, "v1", repo, "v1")
    ref = f"{registry_plain.host}/{repo}:v1"
    data = sa.payload(ref, instance)
    sa.push_attachment(registry_tls, repo, tmp_path / "att", instance, [(data, sa.sign(keys["good"][0], data))])
    pol = write_policy(tmp_path, {"docker": {f"{registry_plain.host}/{repo}": [sigstore_req(keys["good"][1])]}})
    res = pull(tmp_path, registry_plain.ref(repo, "v1"), pol, "--registries.d", registries_d(tmp_path),
               "--mirror", f"{registry_plain.host}={registry_tls.host}")
    assert res.rc == 0, res
    assert res.json["mirror"] == registry_tls.host
    assert res.json["signature"]["type"] == "sigstore"


def test_duplicate_key_in_payload_is_refused(registry_plain, keys, tmp_path):
    """A payload the key signed that names docker-manifest-digest twice, the index's first and the
    instance's last: json-c alone would read the last and accept; containers/image's paranoid
    decoder refuses the payload, and so does vmpull."""
    repo = "policy-sigstore/duplicate-key"
    lay, raw, instance, index = disk_image(tmp_path / "image", 4242)
    registry_plain.push(lay.path, "v1", repo, "v1")
    ref = f"{registry_plain.host}/{repo}:v1"
    one = sa.payload(ref, instance).decode()
    needle = f'"docker-manifest-digest":"{instance}"'
    assert one.count(needle) == 1
    data = one.replace(needle, f'"docker-manifest-digest":"{index}",{needle}').encode()
    key, pub = keys["good"]
    sa.push_attachment(registry_plain, repo, tmp_path / "att", instance, [(data, sa.sign(key, data))])
    assert sa.openssl_verifies(pub, data, sa.sign(key, data), tmp_path / "chk")
    pol = write_policy(tmp_path, {"docker": {registry_plain.host: [sigstore_req(pub)]}})
    res = pull(tmp_path, registry_plain.ref(repo, "v1"), pol, "--registries.d", registries_d(tmp_path))
    assert_rejected(res, tmp_path, 'invalid signature payload: duplicate key "docker-manifest-digest"',
                    f'docker scope "{registry_plain.host}"', "sigstoreSigned")


def layout_with_attachment(tmp_path, keys, identity="registry.example/vm/disk:v1"):
    lay, raw, instance, index = disk_image(tmp_path / "layout", 99)
    good = sa.payload(identity, instance)
    tag, desc = sa.add_attachment(lay, instance, [(good, sa.sign(keys["good"][0], good))])
    index_desc = {"mediaType": OCI_INDEX, "digest": index,
                  "size": (lay.path / "blobs" / "sha256" / index.split(":")[1]).stat().st_size}
    lay.write_index([(index_desc, "v1"), (desc, tag)])
    return lay, raw


@pytest.mark.parametrize("identity,passes", [
    ({"type": "exactReference", "dockerReference": "registry.example/vm/disk:v1"}, True),
    ({"type": "exactRepository", "dockerRepository": "registry.example/vm/disk"}, True),
    ({"type": "exactReference", "dockerReference": "registry.example/vm/disk:v2"}, False),
    (None, False),  # matchRepoDigestOrExact: a layout has no docker reference to match
    ({"type": "remapIdentity", "prefix": "registry.example", "signedPrefix": "registry.example"}, False),
])
def test_layout_identities(keys, tmp_path, identity, passes):
    lay, raw = layout_with_attachment(tmp_path, keys)
    req = sigstore_req(keys["good"][1], **({"signedIdentity": identity} if identity else {}))
    pol = write_policy(tmp_path, {"oci": {str(lay.path.resolve()): [req]}})
    res = pull(tmp_path, f"oci-dir://{lay.path}:v1", pol)
    if passes:
        assert res.rc == 0, res
        assert Path(res.json["path"]).read_bytes() == raw
        assert res.json["signature"] == {"type": "sigstore", "key": sa.key_id(keys["good"][1])}
    else:
        assert_rejected(res, tmp_path, f'oci scope "{lay.path.resolve()}"')


def test_layout_scopes_are_paths(keys, tmp_path):
    """The most specific path scope wins; a parent folder's scope covers the layouts below it; the
    transport's "" scope, then "default", come last; oci-archive has scopes of its own."""
    lay, raw = layout_with_attachment(tmp_path, keys)
    ok = sigstore_req(keys["good"][1], signedIdentity={"type": "exactRepository",
                                                       "dockerRepository": "registry.example/vm/disk"})
    parent = str(lay.path.resolve().parent)
    pol = write_policy(tmp_path, {"oci": {parent: [ok], "": [{"type": "reject"}]}})
    assert pull(tmp_path, f"oci-dir://{lay.path}:v1", pol).rc == 0
    pol = write_policy(tmp_path, {"oci": {parent: [{"type": "reject"}], str(lay.path.resolve()): [ok]}})
    assert pull(tmp_path, f"oci-dir://{lay.path}:v1", pol, "--replace").rc == 0
    pol = write_policy(tmp_path, {"oci": {"": [{"type": "reject"}]}}, default=[{"type": "insecureAcceptAnything"}])
    assert_rejected(pull(tmp_path / "r", f"oci-dir://{lay.path}:v1", pol), tmp_path / "r", 'oci scope ""')

    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tf:
        for p in sorted(lay.path.rglob("*")):
            tf.add(p, arcname=str(p.relative_to(lay.path)), recursive=False)
    pol = write_policy(tmp_path, {"oci-archive": {str(archive.resolve()): [ok]}, "oci": {"": [{"type": "reject"}]}})
    res = pull(tmp_path / "a", f"oci-archive://{archive}:v1", pol)
    assert res.rc == 0, res
    assert res.json["signature"]["type"] == "sigstore"


def test_kept_disk_is_reused_and_the_policy_still_judges(registry_plain, keys, tmp_path):
    """sigstoreSigned over a registry image whose disk is kept: the attachment is read and verified
    every pull, and the kept disk is copied only for a manifest the policy of this pull accepts (the
    layer is not asked for); with another key in the policy the pull fails though the disk is kept."""
    repo = "policy-sigstore/kept"
    lay, raw, instance, _ = disk_image(tmp_path / "image", 4242)
    registry_plain.push(lay.path, "v1", repo, "v1")
    ref = f"{registry_plain.host}/{repo}:v1"
    data = sa.payload(ref, instance)
    sa.push_attachment(registry_plain, repo, tmp_path / "att", instance, [(data, sa.sign(keys["good"][0], data))])
    rd = registries_d(tmp_path)

    def cached_pull(pub, name, *extra):
        pol = write_policy(tmp_path, {"docker": {registry_plain.host: [sigstore_req(pub)]}})
        return run_vmpull("pull", "--json", "-q", "--cache-dir", tmp_path / "cache", "--tls-verify=false", "--arch",
                          "x86_64", "--data-dir", tmp_path / "out", "-n", name, "--signature-policy", pol,
                          "--registries.d", rd, *extra, registry_plain.ref(repo, "v1"), env=env_for(tmp_path))

    r1 = cached_pull(keys["good"][1], "one", "--keep-uncompressed")
    assert r1.rc == 0, r1
    before = len(requests(registry_plain, repo))
    r2 = cached_pull(keys["good"][1], "two")
    assert r2.rc == 0, r2
    assert r2.json["cache"] == "kept-disk" and r2.json["signature"]["type"] == "sigstore", r2.json
    assert Path(r2.json["path"]).read_bytes() == raw
    seen = requests(registry_plain, repo)[before:]
    assert ("manifests", sa.attachment_tag(instance)) in seen, seen  # the attachment, read again
    payload = "sha256:" + hashlib.sha256(data).hexdigest()
    assert {d for kind, d in seen if kind == "blobs"} <= {payload}, seen  # and not the disk layer
    r3 = cached_pull(keys["other"][1], "three")
    assert r3.rc == 1 and r3.json["error"]["code"] == "signature", r3
    assert "not made by" in r3.json["error"]["message"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        Path(r.json["path"]).name for r in (r1, r2))
