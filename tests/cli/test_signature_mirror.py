"""Signatures when a mirror serves the image, as containers/image reads them (docker_image_src.go:
newImageSourceAttempt opens the client on the mirror's own reference, its "physicalRef"): the policy
scope and the identity a signature must name stay the reference's registry, but the registries.d
scope that chooses the lookaside, the repository path under it, and use-sigstore-attachments are the
mirror's. The mirror is Debian's docker-registry under a namespace of its own (cache/...), so that
its repository path differs from the registry's; skopeo 1.9, pulling through the same
registries.conf mirror, must reach the same verdict on each simple-signing case."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import isolated_env, run_vmpull
from servers import sigstore_attach as sa
from servers.common import running, start_or_fail
from servers.fixture_registry import Registry
from test_signature_policy import build_layout, signed_by, signers  # noqa: F401 (signers: a fixture)
from test_signature_policy_sigstore import disk_image

REPO = "signed-mirror/disk"
NS = "signed-mirror"


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    yield from running(start_or_fail(Registry(tmp_path_factory.mktemp("sigmirror"))))


@pytest.fixture(scope="module")
def signed(signers, registry_plain, mirror, nginx, tmp_path_factory):  # noqa: F811
    """REPO:1 at the registry, signed by alice (skopeo copy --sign-by), and the same manifest at the
    mirror as cache/REPO:1. Its one signature is put in three nginx folders: under the registry's
    repository path (origin/signed-mirror/disk@...), under the mirror's (mirror/cache/signed-mirror/
    disk@...), and none at all (empty/)."""
    tmp = tmp_path_factory.mktemp("sigmirror-world")
    top = nginx.root / f"sigs-mirror-{os.getpid()}"
    written = tmp / "written"
    write_rd = tmp / "rd-write"
    write_rd.mkdir()
    (write_rd / "default.yaml").write_text(f"default-docker:\n  lookaside: file://{written}\n")
    img = build_layout(tmp / "layout", "mirror")
    env = dict(os.environ, GNUPGHOME=str(signers["home"]), REGISTRY_AUTH_FILE=str(tmp / "none.json"))
    subprocess.run(["skopeo", "copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false", "--registries.d",
                    str(write_rd), "--sign-by", signers["keys"]["alice"][0], f"oci:{img['layout']}:1",
                    f"docker://{registry_plain.host}/{REPO}:1"], check=True, capture_output=True, env=env, timeout=120)
    mirror.push(img["layout"], "1", f"cache/{REPO}", "1")
    alg, hexd = img["manifest"].split(":")
    sig = written / f"{REPO}@{alg}={hexd}" / "signature-1"
    assert sig.is_file()
    for where in (f"origin/{REPO}", f"mirror/cache/{REPO}"):
        folder = top / f"{where}@{alg}={hexd}"
        folder.mkdir(parents=True)
        shutil.copy(sig, folder / "signature-1")
    (top / "empty").mkdir()
    return {"origin": registry_plain.host, "mirror": mirror.host, "image": img, "top": top, "nginx": nginx,
            "url": lambda name: nginx.url(f"{top.name}/{name}")}


def registries_d(tmp_path, scopes):
    """A registries.d whose docker scopes give these lookasides ({scope: URL})."""
    d = tmp_path / "registries.d"
    d.mkdir(exist_ok=True)
    (d / "scopes.yaml").write_text("docker:\n" + "".join(f"  {s}:\n    lookaside: {u}\n" for s, u in scopes.items()))
    return d


def registries_conf(tmp_path, w):
    """The registry's namespace NS mirrored at the mirror's cache/NS (plain http: insecure)."""
    conf = tmp_path / "registries.conf"
    conf.write_text(f'[[registry]]\nprefix = "{w["origin"]}/{NS}"\nlocation = "{w["origin"]}/{NS}"\ninsecure = true\n'
                    f'[[registry.mirror]]\nlocation = "{w["mirror"]}/cache/{NS}"\ninsecure = true\n')
    return conf


def policy(tmp_path, w, pub):
    p = tmp_path / "policy.json"
    p.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"docker": {
        f"{w['origin']}/{NS}": [signed_by(pub)]}}}))
    return p


def lookaside_gets(w, folder):
    return [line for line in w["nginx"].access_log().splitlines() if f"/{w['top'].name}/{folder}/" in line]


# (registry's scope, mirror's scope) -> passes: upstream reads the mirror's scope, under the mirror's path
CASES = {
    "mirror_scope": (("empty", "mirror"), True),
    "origin_scope_only": (("origin", "empty"), False),
    "mirror_scope_logical_path": (("empty", "origin"), False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_lookaside_is_the_serving_mirrors(signed, signers, tmp_path, case):
    w = signed
    (at_origin, at_mirror), passes = CASES[case]
    rd = registries_d(tmp_path, {w["origin"]: w["url"](at_origin), w["mirror"]: w["url"](at_mirror)})
    conf = registries_conf(tmp_path, w)
    fpr, pub = signers["keys"]["alice"]
    pol = policy(tmp_path, w, pub)
    ref = f"docker://{w['origin']}/{REPO}:1"
    # skopeo, through the same registries.conf mirror: the verdict containers/image gives
    proc = subprocess.run(["skopeo", "--registries-conf", str(conf), "copy", "--quiet", "--remove-signatures",
                           "--policy", str(pol), "--registries.d", str(rd), ref, f"oci:{tmp_path / 'skopeo'}:x"],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, REGISTRY_AUTH_FILE=str(tmp_path / "none.json")))
    assert (proc.returncode == 0) == passes, proc.stderr
    before = len(lookaside_gets(w, at_mirror))
    # the mirror from registries.conf, then as --mirror
    for how in (["--registries-conf", conf],
                ["--no-registries-conf", "--mirror", f"{w['origin']}/{NS}={w['mirror']}/cache/{NS}"]):
        out = tmp_path / "out"
        shutil.rmtree(out, ignore_errors=True)
        res = run_vmpull("pull", "--json", "-v", "--no-cache", "--tls-verify=false", "--data-dir", out,
                         "--signature-policy", pol, "--registries.d", rd, *how, ref, env=isolated_env(tmp_path))
        if passes:
            assert res.rc == 0, res
            assert res.json["mirror"] == f"{w['mirror']}/cache/{NS}"
            assert res.json["signature"] == {"type": "simple-signing", "key": fpr}
            assert res.json["reference"] == f"docker://{w['origin']}/{REPO}@{w['image']['manifest']}"
        else:
            assert res.rc == 1 and res.json["error"]["code"] == "signature", res
            assert "no simple-signing signature exists" in res.json["error"]["message"], res
            assert f'docker scope "{w["origin"]}/{NS}"' in res.json["error"]["message"], res
        # -v says where the signatures were looked for: the mirror's lookaside, its repository path
        alg, hexd = w["image"]["manifest"].split(":")
        where = f"{w['url'](at_mirror)}/cache/{REPO}@{alg}={hexd}"
        assert (f"vmpull: info: signatures of {w['image']['manifest']} from lookaside {where} (registries.d scope "
                f"of {w['mirror']}/cache/{REPO}, which served the image)") in res.stderr, res.stderr
    # one request per signature and the one that ends the list, or the one that finds none; per pull
    assert len(lookaside_gets(w, at_mirror)) - before == 2 * (2 if passes else 1)
    # save (no policy) keeps what the serving mirror's lookaside holds, as skopeo copy does
    dest = tmp_path / "saved"
    res = run_vmpull("save", "-q", "--tls-verify=false", "--registries.d", rd, "--registries-conf", conf, ref,
                     f"oci-dir://{dest}:1", env=isolated_env(tmp_path))
    assert res.rc == 0, res
    alg, hexd = w["image"]["manifest"].split(":")
    kept = dest / "signatures" / f"{alg}-{hexd}"
    assert (sorted(p.name for p in kept.iterdir()) if kept.exists() else []) == (["signature-1"] if passes else [])


@pytest.mark.parametrize("scope,passes", [("mirror", True), ("origin", False)])
def test_use_sigstore_attachments_is_the_serving_mirrors(registry_plain, mirror, tmp_path, scope, passes):
    """use-sigstore-attachments is read from the mirror's registries.d scope (containers/image's
    useSigstoreAttachments(physicalRef)); the attachment is the mirror's, the identity the registry's."""
    repo = f"sigstore-mirror/{scope}"
    keys = sa.make_key(tmp_path, "k")
    lay, raw, instance, _ = disk_image(tmp_path / "image", len(scope))
    mirror.push(lay.path, "v1", repo, "v1")
    data = sa.payload(f"{registry_plain.host}/{repo}:v1", instance)
    sa.push_attachment(mirror, repo, tmp_path / "att", instance, [(data, sa.sign(keys[0], data))])
    rd = tmp_path / "registries.d"
    rd.mkdir()
    on = mirror.host if scope == "mirror" else registry_plain.host
    (rd / "sigstore.yaml").write_text(f"docker:\n  {on}:\n    use-sigstore-attachments: true\n")
    pol = tmp_path / "policy.json"
    pol.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"docker": {
        registry_plain.host: [{"type": "sigstoreSigned", "keyPath": str(keys[1])}]}}}))
    res = run_vmpull("pull", "--json", "-v", "--no-cache", "--tls-verify=false", "--arch", "x86_64", "--data-dir",
                     tmp_path / "out", "--signature-policy", pol, "--registries.d", rd, "--no-registries-conf",
                     "--mirror", f"{registry_plain.host}={mirror.host}", f"docker://{registry_plain.host}/{repo}:v1",
                     env=isolated_env(tmp_path))
    if passes:
        assert res.rc == 0, res
        assert res.json["mirror"] == mirror.host
        assert res.json["signature"]["type"] == "sigstore"
        assert f"vmpull: info: sigstore attachments of {instance} from {mirror.host}/{repo}" in res.stderr, res.stderr
    else:
        assert res.rc == 1 and res.json["error"]["code"] == "signature", res
        assert "no sigstore signature" in res.json["error"]["message"], res
        assert (f"vmpull: info: sigstore attachments of {instance} not read: the registries.d scope of "
                f"{mirror.host}/{repo} does not say use-sigstore-attachments") in res.stderr, res.stderr
