"""containers-policy.json for docker:// (issue 16): GPG "simple signing" signatures made by skopeo 1.9
(`skopeo copy --sign-by` into a lookaside folder, `skopeo standalone-sign` for signatures of other
digests), served by nginx as an http(s) lookaside that registries.d names; and, for each case,
`skopeo copy --policy P` on the same image must reach the same verdict as vmpull (the independent
check of the policy reading). A rejected pull fails with `signature`, leaves nothing behind and never
asks for the layer."""
import json
import lzma
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from conftest import leftovers, run_vmpull
from servers.oci_layout import TAR, Layout, digest_of, make_tar

RAW = b"signed disk" * 4096 + bytes(64 << 10) + b"tail"


def gpg(home, *args, input=None):
    return subprocess.run(["gpg", "--batch", "--homedir", str(home), *args], input=input, capture_output=True,
                          check=True)


def make_key(home, name):
    gpg(home, "--passphrase", "", "--quick-gen-key", f"{name} <{name}@test.invalid>", "ed25519", "sign", "never")
    out = gpg(home, "--with-colons", "--list-secret-keys", f"{name}@test.invalid").stdout.decode()
    fpr = next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))
    pub = Path(home).parent / f"{name}.pub"
    pub.write_bytes(gpg(home, "--export", fpr).stdout)
    return fpr, pub


@pytest.fixture(scope="module")
def signers():
    """Two GPG keys in a short-path home of their own (gpg-agent's socket path must fit)."""
    top = Path(tempfile.mkdtemp(prefix="vmpg"))
    home = top / "h"
    try:  # the agent gpg (and skopeo, through GPGME) starts in home goes with it, however setup ends
        home.mkdir(mode=0o700)
        keys = {name: make_key(home, name) for name in ("alice", "mallory")}
        yield {"home": home, "keys": keys}
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)
        shutil.rmtree(top, ignore_errors=True)


def build_layout(path, label):
    """A lone manifest (the reference names it) whose tar layer holds an xz disk."""
    lay = Layout(path)
    raw = RAW + label.encode()
    layer = lay.blob(make_tar([("disk.raw.xz", lzma.compress(raw, preset=0))]), TAR)
    man = lay.manifest([layer], config=lay.config("amd64"))
    lay.write_index([(man, "1")])
    body = lay.blob_path(man).read_bytes()
    return {"layout": path, "raw": raw, "manifest": man["digest"], "manifest_bytes": body, "layer": layer["digest"]}


def write_registries_d(folder, lookaside):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "default.yaml").write_text(f"default-docker:\n  lookaside: {lookaside}\n")
    return folder


@pytest.fixture(scope="module")
def world(signers, registry_plain, nginx, tmp_path_factory):
    """Images in the registry: signed/good:1 (skopeo copy --sign-by alice), signed/none:1 (no
    signature), signed/swap:1 (alice's signature of signed/good's manifest, for this identity),
    signed/tampered:1 (a copy of a good signature with one byte changed)."""
    tmp = tmp_path_factory.mktemp("sigworld")
    sigdir = nginx.root / f"sigs-{os.getpid()}"
    sigdir.mkdir()
    write_rd = write_registries_d(tmp / "rd-write", f"file://{sigdir}")
    read_rd = write_registries_d(tmp / "rd-read", nginx.url(sigdir.name))
    host = registry_plain.host
    env = dict(os.environ, GNUPGHOME=str(signers["home"]), REGISTRY_AUTH_FILE=str(tmp / "none.json"))
    images = {}
    for name in ("good", "none", "swap", "tampered"):
        img = build_layout(tmp / name, name)
        cmd = ["skopeo", "copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false", "--registries.d",
               str(write_rd)]
        if name in ("good", "tampered"):
            cmd += ["--sign-by", signers["keys"]["alice"][0]]
        cmd += [f"oci:{img['layout']}:1", f"docker://{host}/signed/{name}:1"]
        subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=120)
        images[name] = img
    good_sig = sigdir / "signed" / f"good@sha256={images['good']['manifest'].split(':')[1]}" / "signature-1"
    assert good_sig.is_file()  # where containers/image's lookaside layout puts it
    # signed/swap:1 carries a signature for its own identity, but of signed/good's manifest digest
    man = tmp / "good-manifest.json"
    man.write_bytes(images["good"]["manifest_bytes"])
    out = tmp / "swap.sig"
    subprocess.run(["skopeo", "standalone-sign", "-o", str(out), str(man), f"{host}/signed/swap:1",
                    signers["keys"]["alice"][0]], check=True, capture_output=True, env=env)
    swap = sigdir / "signed" / f"swap@sha256={images['swap']['manifest'].split(':')[1]}"
    swap.mkdir(parents=True)
    shutil.copy(out, swap / "signature-1")
    tampered = sigdir / "signed" / f"tampered@sha256={images['tampered']['manifest'].split(':')[1]}" / "signature-1"
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    return {"host": host, "images": images, "read_rd": read_rd, "sigdir": sigdir, "tmp": tmp,
            "registry": registry_plain, "nginx": nginx}


def policy(tmp, scope_reqs, default=None):
    p = tmp / "policy.json"
    doc = {"default": default or [{"type": "reject"}], "transports": {"docker": scope_reqs}}
    p.write_text(json.dumps(doc))
    return p


def signed_by(pub, **extra):
    return dict({"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(pub)}, **extra)


def isolated_env(tmp_path):
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "XDG_CACHE_HOME": str(tmp_path / "cache"), "REGISTRY_AUTH_FILE": "",
            "XDG_RUNTIME_DIR": str(tmp_path / "run")}


def vm_pull(world, tmp_path, name, pol, *extra):
    out = tmp_path / "out"
    return run_vmpull("pull", "--json", "-q", "--no-cache", "--tls-verify=false", "--data-dir", out,
                      "--signature-policy", pol, "--registries.d", world["read_rd"], *extra,
                      f"docker://{world['host']}/signed/{name}:1", env=isolated_env(tmp_path))


def skopeo_verdict(world, tmp_path, name, pol):
    dest = tmp_path / "skopeo-dest"
    shutil.rmtree(dest, ignore_errors=True)
    proc = subprocess.run(["skopeo", "copy", "--quiet", "--remove-signatures", "--src-tls-verify=false", "--policy", str(pol),
                           "--registries.d", str(world["read_rd"]), f"docker://{world['host']}/signed/{name}:1",
                           f"oci:{dest}:x"], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, REGISTRY_AUTH_FILE=str(tmp_path / "none.json")))
    return proc.returncode == 0, proc.stderr


def lookaside_requests(world, name):
    return [line for line in world["nginx"].access_log().splitlines()
            if f"/{world['sigdir'].name}/signed/{name}@" in line]


def layer_requests(world, img):
    log = world["registry"].tmp / "registry.log"
    return log.read_text(errors="replace").count(img["layer"]) if log.exists() else 0


def assert_rejected(world, tmp_path, res, img, *needles):
    assert res.rc == 1, res
    err = res.json["error"]
    assert err["code"] == "signature", res
    for n in needles:
        assert n in err["message"], (n, err["message"])
    out = tmp_path / "out"
    assert not out.exists() or leftovers(out) == []


def test_good_signature_passes(world, signers, tmp_path):
    fpr, pub = signers["keys"]["alice"]
    host = world["host"]
    pol = policy(tmp_path, {f"{host}/signed": [signed_by(pub)]})
    before = len(lookaside_requests(world, "good"))
    res = vm_pull(world, tmp_path, "good", pol)
    assert res.rc == 0, res
    assert Path(res.json["path"]).read_bytes() == world["images"]["good"]["raw"]
    assert res.json["signature"] == {"type": "simple-signing", "key": fpr}
    # one request per signature, plus the one that ends the list (signature-2: 404)
    assert len(lookaside_requests(world, "good")) - before == 2
    ok, why = skopeo_verdict(world, tmp_path, "good", pol)
    assert ok, why
    # inspect judges and reports the same
    res = run_vmpull("inspect", "--tls-verify=false", "--signature-policy", pol, "--registries.d", world["read_rd"],
                     f"docker://{host}/signed/good:1", env=isolated_env(tmp_path))
    assert res.rc == 0, res
    assert json.loads(res.stdout)["signature"] == {"type": "simple-signing", "key": fpr}


@pytest.mark.parametrize("case", ["other_key", "other_digest", "missing", "tampered", "reject", "wrong_identity"])
def test_rejections_match_skopeo(world, signers, tmp_path, case):
    host = world["host"]
    alice, mallory = signers["keys"]["alice"][1], signers["keys"]["mallory"][1]
    name, reqs, needle = {
        "other_key": ("good", [signed_by(mallory)], "signedBy"),
        "other_digest": ("swap", [signed_by(alice)], "does not match"),
        "missing": ("none", [signed_by(alice)], "no simple-signing signature exists"),
        "tampered": ("tampered", [signed_by(alice)], "signedBy"),
        "reject": ("good", [{"type": "reject"}], "reject"),
        "wrong_identity": ("good", [signed_by(alice, signedIdentity={"type": "exactReference",
                                                                      "dockerReference": f"{host}/other:1"})],
                           "identity"),
    }[case]
    img = world["images"][name]
    pol = policy(tmp_path, {f"{host}/signed/{name}": reqs})
    layer_before = layer_requests(world, img)
    res = vm_pull(world, tmp_path, name, pol)
    assert_rejected(world, tmp_path, res, img, needle, f'docker scope "{host}/signed/{name}"')
    assert layer_requests(world, img) == layer_before  # the layer was never asked for
    ok, err = skopeo_verdict(world, tmp_path, name, pol)
    assert not ok, f"skopeo accepted what vmpull rejected ({case})"
    assert "Source image rejected" in err, err


def test_accept_anything_asks_for_no_signature(world, tmp_path):
    pol = policy(tmp_path, {}, default=[{"type": "insecureAcceptAnything"}])
    before = len(lookaside_requests(world, "none"))
    res = vm_pull(world, tmp_path, "none", pol)
    assert res.rc == 0, res
    assert res.json["signature"] is None
    assert len(lookaside_requests(world, "none")) == before
    assert skopeo_verdict(world, tmp_path, "none", pol)[0]


def test_scopes_most_specific_first(world, signers, tmp_path):
    """The repository's scope wins over its namespace's, which wins over the transport's "" and
    the default: the same verdicts as skopeo."""
    host = world["host"]
    alice = signers["keys"]["alice"][1]
    scopes = {f"{host}/signed/none": [{"type": "insecureAcceptAnything"}], f"{host}/signed": [signed_by(alice)],
              "": [{"type": "reject"}]}
    pol = policy(tmp_path, scopes, default=[{"type": "reject"}])
    for name, passes in (("none", True), ("good", True), ("swap", False)):
        res = vm_pull(world, tmp_path / name, name, pol)
        assert (res.rc == 0) == passes, (name, res)
        assert skopeo_verdict(world, tmp_path, name, pol)[0] == passes, name


@pytest.mark.parametrize("identity,passes", [
    ({"type": "matchRepository"}, True),
    ({"type": "matchExact"}, True),
    ({"type": "exactRepository", "dockerRepository": "HOST/signed/good"}, True),
    ({"type": "exactRepository", "dockerRepository": "HOST/signed/other"}, False),
    ({"type": "remapIdentity", "prefix": "HOST/signed", "signedPrefix": "HOST/signed"}, True),
    ({"type": "remapIdentity", "prefix": "HOST/signed", "signedPrefix": "elsewhere.example/x"}, False),
])
def test_signed_identity_matches_skopeo(world, signers, tmp_path, identity, passes):
    host = world["host"]
    ident = json.loads(json.dumps(identity).replace("HOST", host))
    pol = policy(tmp_path, {"": [signed_by(signers["keys"]["alice"][1], signedIdentity=ident)]})
    res = vm_pull(world, tmp_path, "good", pol)
    assert (res.rc == 0) == passes, res
    if not passes:
        assert res.json["error"]["code"] == "signature"
    assert skopeo_verdict(world, tmp_path, "good", pol)[0] == passes


def test_key_data_and_key_paths(world, signers, tmp_path):
    import base64

    alice, mallory = signers["keys"]["alice"][1], signers["keys"]["mallory"][1]
    for req in ({"type": "signedBy", "keyType": "GPGKeys", "keyData": base64.b64encode(alice.read_bytes()).decode()},
                {"type": "signedBy", "keyType": "GPGKeys", "keyPaths": [str(mallory), str(alice)]}):
        pol = policy(tmp_path, {"": [req]})
        res = vm_pull(world, tmp_path, "good", pol, "--replace")
        assert res.rc == 0, res
        ok, why = skopeo_verdict(world, tmp_path, "good", pol)
    assert ok, why


@pytest.mark.parametrize("doc,needle", [
    ({"default": [{"type": "insecureAcceptAnything", "extra": 1}]}, 'unknown field "extra"'),
    ({"default": []}, "must not be empty"),
    ({"transports": {}}, "default policy is missing"),
    ({"default": [{"type": "signedBy", "keyType": "GPGKeys"}]}, "exactly one of keyPath"),
    ({"default": [{"type": "signedBy", "keyType": "nope", "keyPath": "/k"}]}, "unrecognized keyType"),
    ({"default": [{"type": "whatever"}]}, "unknown policy requirement type"),
    ({"default": [{"type": "reject"}], "transports": {"oci": {"relative/path": [{"type": "reject"}]}}},
     "not an absolute clean path"),
])
def test_malformed_policy_is_refused(world, tmp_path, doc, needle):
    p = tmp_path / "policy.json"
    p.write_text(json.dumps(doc))
    res = vm_pull(world, tmp_path, "none", p)
    assert res.rc == 1 and res.json["error"]["code"] == "config", res
    assert needle in res.json["error"]["message"] and str(p) in res.json["error"]["message"], res
    assert not (tmp_path / "out").exists() or leftovers(tmp_path / "out") == []
    proc = subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--policy", str(p),
                           f"docker://{world['host']}/signed/none:1", f"oci:{tmp_path / 'sk'}:x"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0  # skopeo refuses the same file


@pytest.mark.parametrize("text,key", [
    # json-c alone would keep the last value of each: a policy that accepts anything
    ('{"default": [{"type": "reject", "type": "insecureAcceptAnything"}]}', "type"),
    ('{"default": [{"type": "reject"}], "default": [{"type": "insecureAcceptAnything"}]}', "default"),
    ('{"default": [{"type": "reject"}], "transports": {"docker": {"HOST/signed/none": [{"type": "reject"}], '
     '"HOST/signed/none": [{"type": "insecureAcceptAnything"}]}}}', "HOST/signed/none"),
], ids=["requirement", "top", "scope"])
def test_duplicate_key_in_policy_is_refused(world, tmp_path, text, key):
    """containers/image refuses a policy.json with a key twice in one object, at any depth."""
    p = tmp_path / "policy.json"
    p.write_text(text.replace("HOST", world["host"]))
    res = vm_pull(world, tmp_path, "none", p)
    assert res.rc == 1 and res.json["error"]["code"] == "config", res
    assert res.json["error"]["message"].endswith(f'policy {p}: duplicate key "{key.replace("HOST", world["host"])}"'), res
    assert not (tmp_path / "out").exists() or leftovers(tmp_path / "out") == []
    proc = subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--policy", str(p),
                           f"docker://{world['host']}/signed/none:1", f"oci:{tmp_path / 'sk'}:x"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "Duplicate key" in proc.stderr, proc.stderr


def test_duplicate_key_in_signed_payload_is_refused(world, signers, nginx, tmp_path):
    """A simple-signing payload alice signed that names docker-manifest-digest twice, another
    manifest's first and the image's last: json-c alone would read the last and accept;
    containers/image refuses the payload, and so does vmpull."""
    host, img = world["host"], world["images"]["good"]
    other = "sha256:" + "0" * 64
    payload = ('{"critical": {"identity": {"docker-reference": "%s/signed/good:1"}, "image": '
               '{"docker-manifest-digest": "%s", "docker-manifest-digest": "%s"}, '
               '"type": "atomic container signature"}, "optional": {"creator": "test"}}'
               % (host, other, img["manifest"])).encode()
    fpr, pub = signers["keys"]["alice"]
    sig = gpg(signers["home"], "--sign", "--local-user", fpr, input=payload).stdout
    sigdir = nginx.root / f"sigs-dup-{os.getpid()}"
    alg, hexd = img["manifest"].split(":")
    (sigdir / "signed" / f"good@{alg}={hexd}").mkdir(parents=True, exist_ok=True)
    (sigdir / "signed" / f"good@{alg}={hexd}" / "signature-1").write_bytes(sig)
    rd = write_registries_d(tmp_path / "rd", nginx.url(sigdir.name))
    pol = policy(tmp_path, {f"{host}/signed/good": [signed_by(pub)]})
    res = run_vmpull("pull", "--json", "-q", "--no-cache", "--tls-verify=false", "--data-dir", tmp_path / "out",
                     "--signature-policy", pol, "--registries.d", rd, f"docker://{host}/signed/good:1",
                     env=isolated_env(tmp_path))
    assert_rejected(world, tmp_path, res, img, 'invalid signature payload: duplicate key "docker-manifest-digest"',
                    f'docker scope "{host}/signed/good"')
    proc = subprocess.run(["skopeo", "copy", "--quiet", "--remove-signatures", "--src-tls-verify=false", "--policy",
                           str(pol), "--registries.d", str(rd), f"docker://{host}/signed/good:1",
                           f"oci:{tmp_path / 'sk'}:x"], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, REGISTRY_AUTH_FILE=str(tmp_path / "none.json")))
    assert proc.returncode != 0 and "Source image rejected" in proc.stderr, proc.stderr


def test_keyless_sigstore_is_not_supported(world, tmp_path):
    req = {"type": "sigstoreSigned", "fulcio": {"caPath": "/x", "oidcIssuer": "https://x", "subjectEmail": "a@b"},
           "rekorPublicKeyPath": "/y"}
    pol = policy(tmp_path, {"": [req]})
    res = vm_pull(world, tmp_path, "good", pol)
    assert_rejected(world, tmp_path, res, world["images"]["good"], "fulcio", "not supported")


def test_no_policy_anywhere_accepts(world, tmp_path):
    """Without --signature-policy, ~/.config/containers/policy.json wins over /etc's."""
    env = isolated_env(tmp_path)
    conf = Path(env["HOME"]) / ".config" / "containers"
    conf.mkdir(parents=True)
    (conf / "policy.json").write_text(json.dumps({"default": [{"type": "reject"}]}))
    res = run_vmpull("pull", "--json", "-q", "--no-cache", "--tls-verify=false", "--data-dir", tmp_path / "out",
                     f"docker://{world['host']}/signed/none:1", env=env)
    assert_rejected(world, tmp_path, res, world["images"]["none"], str(conf / "policy.json"), "reject")


@pytest.mark.parametrize("ref,passes", [("HOST/signed/good:1", True), ("HOST/signed/other:1", False)])
def test_layout_reads_lookaside_copies(world, signers, tmp_path, ref, passes):
    """An oci-dir:// layout keeps simple-signing signatures in signatures/<alg>-<hex>/signature-N; the
    oci transport's path scope judges them, naming the identity with exactReference."""
    img = world["images"]["good"]
    lay = tmp_path / "layout"
    shutil.copytree(img["layout"], lay)
    alg, hexd = img["manifest"].split(":")
    src = world["sigdir"] / "signed" / f"good@{alg}={hexd}" / "signature-1"
    (lay / "signatures" / f"{alg}-{hexd}").mkdir(parents=True)
    shutil.copy(src, lay / "signatures" / f"{alg}-{hexd}" / "signature-1")
    ident = {"type": "exactReference", "dockerReference": ref.replace("HOST", world["host"])}
    p = tmp_path / "policy.json"
    p.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {
        "oci": {str(lay.resolve()): [signed_by(signers["keys"]["alice"][1], signedIdentity=ident)]}}}))
    res = run_vmpull("pull", "--json", "-q", "--data-dir", tmp_path / "out", "--signature-policy", p,
                     f"oci-dir://{lay}:1", env=isolated_env(tmp_path))
    if passes:
        assert res.rc == 0, res
        assert res.json["signature"] == {"type": "simple-signing", "key": signers["keys"]["alice"][0]}
    else:
        assert_rejected(world, tmp_path, res, img, "identity", f'oci scope "{lay.resolve()}"')


def test_inspect_all_obeys_the_policy(world, signers, tmp_path):
    """inspect --all judges each listed manifest before it peeks at a layer, as inspect (single) judges
    the one pull would take and save --all each one it saves: a rejecting policy fails both with the
    same reason, and no layer byte is asked for."""
    host = world["host"]
    alice, mallory = signers["keys"]["alice"][1], signers["keys"]["mallory"][1]
    # the passing case last: its layer peeks would otherwise reach the registry's log during the others'
    for name, reqs, passes in (("good", [signed_by(mallory)], False), ("none", [signed_by(alice)], False),
                               ("good", [{"type": "reject"}], False), ("good", [signed_by(alice)], True)):
        pol = policy(tmp_path, {f"{host}/signed": reqs})
        img = world["images"][name]
        verdicts = []
        for extra in ([], ["--all"]):
            layer_before = layer_requests(world, img)
            res = run_vmpull("inspect", "--json", "--tls-verify=false", "--signature-policy", pol, "--registries.d",
                             world["read_rd"], *extra, f"docker://{host}/signed/{name}:1", env=isolated_env(tmp_path))
            if passes:
                assert res.rc == 0, res
                continue
            assert res.rc == 1 and res.json["error"]["code"] == "signature", (extra, res)
            assert layer_requests(world, img) == layer_before, extra  # judged before the layer is peeked at
            verdicts.append(res.json["error"]["message"])
        if not passes:
            assert verdicts[0] == verdicts[1] and f'docker scope "{host}/signed"' in verdicts[0], verdicts


def test_save_obeys_the_policy(world, signers, tmp_path):
    """vmpull save judges the manifest it saves, as skopeo copy does: a rejected image writes no layout."""
    host = world["host"]
    pol = policy(tmp_path, {f"{host}/signed": [signed_by(signers["keys"]["alice"][1])]})
    for name, passes in (("good", True), ("none", False)):
        dest = tmp_path / f"saved-{name}"
        res = run_vmpull("save", "-q", "--tls-verify=false", "--signature-policy", pol, "--registries.d",
                         world["read_rd"], f"docker://{host}/signed/{name}:1", f"oci-dir://{dest}:1",
                         env=isolated_env(tmp_path))
        assert (res.rc == 0) == passes, res
        if not passes:
            assert "signature" in res.stderr and not dest.exists(), res


def test_save_keeps_lookaside_signatures(world, signers, tmp_path):
    """vmpull save copies the saved manifest's lookaside signatures into the layout's
    signatures/<alg>-<hex>/signature-N, and an air-gapped pull from the layout verifies them."""
    host, img = world["host"], world["images"]["good"]
    dest = tmp_path / "saved"
    res = run_vmpull("save", "-q", "--tls-verify=false", "--registries.d", world["read_rd"],
                     f"docker://{host}/signed/good:1", f"oci-dir://{dest}:1", env=isolated_env(tmp_path))
    assert res.rc == 0, res
    alg, hexd = img["manifest"].split(":")
    kept = dest / "signatures" / f"{alg}-{hexd}"
    original = world["sigdir"] / "signed" / f"good@{alg}={hexd}" / "signature-1"
    assert sorted(p.name for p in kept.iterdir()) == ["signature-1"]
    assert (kept / "signature-1").read_bytes() == original.read_bytes()
    ident = {"type": "exactReference", "dockerReference": f"{host}/signed/good:1"}
    p = tmp_path / "policy.json"
    p.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {
        "oci": {str(dest.resolve()): [signed_by(signers["keys"]["alice"][1], signedIdentity=ident)]}}}))
    res = run_vmpull("pull", "--json", "-q", "--data-dir", tmp_path / "out", "--signature-policy", p,
                     f"oci-dir://{dest}:1", env=isolated_env(tmp_path))
    assert res.rc == 0, res
    assert res.json["signature"] == {"type": "simple-signing", "key": signers["keys"]["alice"][0]}
    assert Path(res.json["path"]).read_bytes() == img["raw"]
    # a second save of a layout carries them on
    again = tmp_path / "again"
    res = run_vmpull("save", "-q", f"oci-dir://{dest}:1", f"oci-dir://{again}:1", env=isolated_env(tmp_path))
    assert res.rc == 0, res
    assert (again / "signatures" / f"{alg}-{hexd}" / "signature-1").read_bytes() == original.read_bytes()


def test_archive_reads_lookaside_copies(world, signers, tmp_path):
    """vmpull save into an oci-archive:// keeps the lookaside signatures as members
    signatures/<alg>-<hex>/signature-N, and an oci-archive:// pull reads them: the oci-archive
    transport's path scope with signedBy passes; the same archive without that member fails with
    `signature` and leaves nothing behind."""
    host, img = world["host"], world["images"]["good"]
    archive = tmp_path / "saved.tar"
    res = run_vmpull("save", "-q", "--tls-verify=false", "--registries.d", world["read_rd"],
                     f"docker://{host}/signed/good:1", f"oci-archive://{archive}:1", env=isolated_env(tmp_path))
    assert res.rc == 0, res
    alg, hexd = img["manifest"].split(":")
    member = f"signatures/{alg}-{hexd}/signature-1"
    original = world["sigdir"] / "signed" / f"good@{alg}={hexd}" / "signature-1"
    with tarfile.open(archive) as t:
        assert t.extractfile(member).read() == original.read_bytes()
    unsigned = tmp_path / "unsigned.tar"
    with tarfile.open(archive) as t, tarfile.open(unsigned, "w") as out:
        for m in t.getmembers():
            if m.name != member:
                out.addfile(m, t.extractfile(m) if m.isfile() else None)
    ident = {"type": "exactReference", "dockerReference": f"{host}/signed/good:1"}
    p = tmp_path / "policy.json"
    p.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"oci-archive": {
        str(path.resolve()): [signed_by(signers["keys"]["alice"][1], signedIdentity=ident)]
        for path in (archive, unsigned)}}}))
    res = run_vmpull("pull", "--json", "-q", "--data-dir", tmp_path / "out", "--signature-policy", p,
                     f"oci-archive://{archive}:1", env=isolated_env(tmp_path))
    assert res.rc == 0, res
    assert res.json["signature"] == {"type": "simple-signing", "key": signers["keys"]["alice"][0]}
    assert Path(res.json["path"]).read_bytes() == img["raw"]
    shutil.rmtree(tmp_path / "out")
    res = run_vmpull("pull", "--json", "-q", "--data-dir", tmp_path / "out", "--signature-policy", p,
                     f"oci-archive://{unsigned}:1", env=isolated_env(tmp_path))
    assert_rejected(world, tmp_path, res, img, f'oci-archive scope "{unsigned.resolve()}"')
    # a save of the archive carries them on, into a folder
    again = tmp_path / "again"
    res = run_vmpull("save", "-q", f"oci-archive://{archive}:1", f"oci-dir://{again}:1", env=isolated_env(tmp_path))
    assert res.rc == 0, res
    assert (again / "signatures" / f"{alg}-{hexd}" / "signature-1").read_bytes() == original.read_bytes()


def kept_pull(world, tmp_path, source, pol, name, *extra):
    """A pull through one cache (a kept disk reused or made), with the policy and lookaside."""
    return run_vmpull("pull", "--json", "-q", "--cache-dir", tmp_path / "cache", "--tls-verify=false",
                      "--data-dir", tmp_path / "out", "-n", name, "--signature-policy", pol,
                      "--registries.d", world["read_rd"], *extra, source, env=isolated_env(tmp_path))


def kept_source(world, signers, tmp_path, kind, key="alice"):
    """docker://signed/good:1, or a layout copy of it with its lookaside signature, and a policy that
    requires key's signature for it."""
    img = world["images"]["good"]
    pub = signers["keys"][key][1]
    if kind == "docker":
        return f"docker://{world['host']}/signed/good:1", policy(tmp_path, {f"{world['host']}/signed": [signed_by(pub)]})
    lay = tmp_path / "layout"
    if not lay.exists():
        shutil.copytree(img["layout"], lay)
        alg, hexd = img["manifest"].split(":")
        (lay / "signatures" / f"{alg}-{hexd}").mkdir(parents=True)
        shutil.copy(world["sigdir"] / "signed" / f"good@{alg}={hexd}" / "signature-1",
                    lay / "signatures" / f"{alg}-{hexd}" / "signature-1")
    ident = {"type": "exactReference", "dockerReference": f"{world['host']}/signed/good:1"}
    p = tmp_path / "policy.json"
    p.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {
        "oci": {str(lay.resolve()): [signed_by(pub, signedIdentity=ident)]}}}))
    return f"oci-dir://{lay}:1", p


def kept_disk_path(tmp_path, img):
    return tmp_path / "cache" / "disks" / "sha256" / img["layer"].split(":")[1]


@pytest.mark.parametrize("kind", ["docker", "oci-dir"])
def test_kept_disk_is_reused_under_a_signature_policy(world, signers, tmp_path, kind):
    """The policy judges the manifest every pull (its signatures read again); the manifest it
    accepted names the layer, whose kept disk is copied: the layer is neither asked for nor read."""
    img = world["images"]["good"]
    source, pol = kept_source(world, signers, tmp_path, kind)
    r1 = kept_pull(world, tmp_path, source, pol, "one", "--keep-uncompressed")
    assert r1.rc == 0, r1
    assert kept_disk_path(tmp_path, img).is_file()
    layer_before, sigs_before = layer_requests(world, img), len(lookaside_requests(world, "good"))
    r2 = kept_pull(world, tmp_path, source, pol, "two")
    assert r2.rc == 0, r2
    assert r2.json["cache"] == "kept-disk" and r2.json["bytes_transferred"] == 0, r2.json
    assert r2.json["signature"] == {"type": "simple-signing", "key": signers["keys"]["alice"][0]}
    assert Path(r2.json["path"]).read_bytes() == img["raw"]
    assert layer_requests(world, img) == layer_before
    if kind == "docker":
        assert len(lookaside_requests(world, "good")) - sigs_before == 2  # signature-1, and signature-2's 404


@pytest.mark.parametrize("change", ["other-key", "reject"])
@pytest.mark.parametrize("kind", ["docker", "oci-dir"])
def test_changed_policy_refuses_the_image_of_a_kept_disk(world, signers, tmp_path, kind, change):
    """The disk is kept, but the policy of this pull does not accept the manifest: it fails before
    the kept disk is looked at, and publishes nothing."""
    img = world["images"]["good"]
    source, pol = kept_source(world, signers, tmp_path, kind)
    r1 = kept_pull(world, tmp_path, source, pol, "one", "--keep-uncompressed")
    assert r1.rc == 0, r1
    if change == "other-key":
        _, pol = kept_source(world, signers, tmp_path, kind, key="mallory")
    else:
        doc = json.loads(pol.read_text())
        for scopes in doc["transports"].values():
            for scope in scopes:
                scopes[scope] = [{"type": "reject"}]
        pol.write_text(json.dumps(doc))
    layer_before = layer_requests(world, img)
    r2 = kept_pull(world, tmp_path, source, pol, "two")
    assert r2.rc == 1 and r2.json["error"]["code"] == "signature", r2
    assert ("reject" if change == "reject" else "signedBy") in r2.json["error"]["message"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [Path(r1.json["path"]).name]
    assert layer_requests(world, img) == layer_before
    assert kept_disk_path(tmp_path, img).is_file()


def test_tampered_kept_disk_under_a_signature_policy_is_caught(world, signers, tmp_path):
    """A kept disk changed after it was kept is caught by its record's map, removed, and the layer
    the accepted manifest names decoded again from the cached blob."""
    img = world["images"]["good"]
    source, pol = kept_source(world, signers, tmp_path, "docker")
    r1 = kept_pull(world, tmp_path, source, pol, "one", "--keep-uncompressed")
    assert r1.rc == 0, r1
    with open(kept_disk_path(tmp_path, img), "r+b") as f:
        f.seek(100)
        f.write(b"tampered")
    r2 = run_vmpull("pull", "--json", "--cache-dir", tmp_path / "cache", "--tls-verify=false", "--data-dir",
                    tmp_path / "out", "-n", "two", "--signature-policy", pol, "--registries.d", world["read_rd"],
                    source, env=isolated_env(tmp_path))
    assert r2.rc == 0, r2
    assert "does not match its record" in r2.stderr, r2.stderr
    assert r2.json["cache"] == "hit" and r2.json["signature"]["key"] == signers["keys"]["alice"][0]
    assert Path(r2.json["path"]).read_bytes() == img["raw"]
    assert not kept_disk_path(tmp_path, img).exists()
