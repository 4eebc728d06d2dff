"""certs.d as containers/image reads it (containers-certs.d(5); docker_client.go dockerCertDir,
pkg/tlsclientconfig): a registry's folder is --cert-dir, else the first of
$HOME/.config/containers/certs.d/<host:port>, /etc/containers/certs.d/<host:port> and
/etc/docker/certs.d/<host:port> that exists; every *.crt in it is a CA added to the system's, every
X.cert with X.key a client certificate, and the one presented is the first by file name whose issuer
the server names in its certificate request. Mirrors get their own folder.

Real servers: nginx fronts (fixture_certs) with a server certificate of the test's CA B, in front of
docker-registry, logging the client certificate each request came with. The /etc folders are written
(under a name holding the front's port, removed afterwards) only when the tests run as root; otherwise
those tests skip and say so."""
import contextlib
import itertools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import run_vmpull
from servers.common import free_port
from servers.fixture_mirrors import machine_image

REPO = "certs/os"
ETC_CONTAINERS = "/etc/containers/certs.d"
ETC_DOCKER = "/etc/docker/certs.d"
_outs = itertools.count()


@pytest.fixture(scope="module")
def raw(tmp_path_factory, registry_plain):
    """The disk's bytes; the image is in registry_plain, behind the fronts, as certs/os:1."""
    img = machine_image(tmp_path_factory.mktemp("certs-image") / "layout", "certs", arches=("x86_64",),
                        disktypes=("qemu",))
    registry_plain.push(img["layout"].path, "src", REPO, "1")
    return img["disks"][("x86_64", "qemu")]["raw"]


def env_for(tmp_path):
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "XDG_RUNTIME_DIR": str(tmp_path / "run"), "XDG_DATA_HOME": str(tmp_path / "data"),
            "REGISTRY_AUTH_FILE": "", "VMPULL_DEFAULT_IMAGE": "", "VMPULL_MIRRORS": ""}


def home_folder(tmp_path, host):
    return tmp_path / "home" / ".config" / "containers" / "certs.d" / host


def pull(tmp_path, host, *args):
    out = tmp_path / f"out-{next(_outs)}"
    return run_vmpull("pull", "--json", "-q", "--no-cache", "--arch", "x86_64", "--data-dir", out, *args,
                      f"docker://{host}/{REPO}:1", env=env_for(tmp_path))


def assert_pulled(res, raw):
    assert res.rc == 0, res
    assert Path(res.json["path"]).read_bytes() == raw


def fill(folder, pki, crts=(), pairs=()):
    """folder with the CA files crts [(file name, "a" or "b")] and the client pairs
    pairs [(file stem, client name, issuing CA)]."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, ca in crts:
        shutil.copy(pki.ca(ca), folder / name)
    for stem, client, ca in pairs:
        cert, key = pki.client(client, ca)
        shutil.copy(cert, folder / f"{stem}.cert")
        shutil.copy(key, folder / f"{stem}.key")
    return folder


@contextlib.contextmanager
def system_folder(base, host):
    """base/host, made for the test and removed afterwards with whatever parents it needed."""
    if os.geteuid() != 0:
        pytest.skip(f"writing {base}/{host} needs root (these tests run as uid {os.geteuid()})")
    path = Path(base) / host
    if path.exists():
        pytest.skip(f"{path} exists already: it is not the test's to change")
    missing = [p for p in [Path(base), *Path(base).parents] if not p.exists()]
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        for p in missing:  # deepest first
            with contextlib.suppress(OSError):
                p.rmdir()


def presented_by(fronts, host, res_before):
    """The client subjects the front logged since res_before entries, one per request."""
    return {subject for _, subject, _ in fronts.presented(host)[res_before:]}


# ---------------------------------------------------------------- where the folder is


def test_home_certs_d(tmp_path, raw, certs_pki, mtls_fronts):
    host = mtls_fronts.names_none
    fill(home_folder(tmp_path, host), certs_pki, crts=[("ca.crt", "b")], pairs=[("client", "home", "a")])
    seen = len(mtls_fronts.presented(host))
    assert_pulled(pull(tmp_path, host), raw)
    assert presented_by(mtls_fronts, host, seen) == {"CN=client home"}


@pytest.mark.parametrize("base", [ETC_CONTAINERS, ETC_DOCKER])
def test_system_certs_d(tmp_path, raw, certs_pki, mtls_fronts, base):
    host = mtls_fronts.names_none
    with system_folder(base, host) as folder:
        fill(folder, certs_pki, crts=[("ca.crt", "b")], pairs=[("client", "system", "a")])
        seen = len(mtls_fronts.presented(host))
        assert_pulled(pull(tmp_path, host), raw)
        assert presented_by(mtls_fronts, host, seen) == {"CN=client system"}


def test_certs_d_order(tmp_path, raw, certs_pki, mtls_fronts):
    """$HOME's folder over /etc/containers' over /etc/docker's, the first that exists alone (none
    merged); --cert-dir over all three. Each folder's client certificate tells which was read."""
    host = mtls_fronts.names_none
    with system_folder(ETC_CONTAINERS, host) as etc_containers, system_folder(ETC_DOCKER, host) as etc_docker:
        fill(etc_containers, certs_pki, crts=[("ca.crt", "b")], pairs=[("client", "etcc", "a")])
        fill(etc_docker, certs_pki, crts=[("ca.crt", "b")], pairs=[("client", "etcd", "a")])
        home = fill(home_folder(tmp_path, host), certs_pki, crts=[("ca.crt", "b")], pairs=[("client", "home", "a")])
        given = fill(tmp_path / "given", certs_pki, crts=[("ca.crt", "b")], pairs=[("client", "certdir", "a")])
        seen = len(mtls_fronts.presented(host))
        assert_pulled(pull(tmp_path, host, "--cert-dir", given), raw)
        assert presented_by(mtls_fronts, host, seen) == {"CN=client certdir"}
        for expected, then_remove in (("home", home), ("etcc", etc_containers), ("etcd", None)):
            seen = len(mtls_fronts.presented(host))
            assert_pulled(pull(tmp_path, host), raw)
            assert presented_by(mtls_fronts, host, seen) == {f"CN=client {expected}"}
            if shutil.which("skopeo"):  # the independent reader picks the same folder
                seen = len(mtls_fronts.presented(host))
                proc = skopeo_inspect(tmp_path, host)
                assert proc.returncode == 0, proc.stderr
                assert presented_by(mtls_fronts, host, seen) == {f"CN=client {expected}"}
            if then_remove:
                shutil.rmtree(then_remove)


# ---------------------------------------------------------------- what is in it


def test_every_crt_is_a_ca(tmp_path, raw, certs_pki, mtls_fronts):
    """ca.crt holds CA A, which did not issue the server's certificate; site.crt holds B, which did."""
    host = mtls_fronts.names_none
    fill(home_folder(tmp_path, host), certs_pki, crts=[("ca.crt", "a"), ("site.crt", "b")])
    assert_pulled(pull(tmp_path, host), raw)
    # Still added to the system's CAs, not in their place: the folder alone does not make a
    # certificate it does not vouch for trusted.
    shutil.rmtree(home_folder(tmp_path, host))
    fill(home_folder(tmp_path, host), certs_pki, crts=[("ca.crt", "a")])
    res = pull(tmp_path, host)
    assert res.rc == 1 and res.json["error"]["code"] == "tls", res
    # --ca-cert adds too: both the folder's CAs and its own.
    assert_pulled(pull(tmp_path, host, "--ca-cert", certs_pki.ca("b")), raw)


def test_client_certificate_the_server_asks_for(tmp_path, raw, certs_pki, mtls_fronts):
    """Two pairs, a (issued by A) first by name, b (issued by B): the server that names CA B in its
    request gets b; the one that names no CA gets the first, a."""
    folder = tmp_path / "pairs"
    # b is written first: the order is the file names', not the folder's.
    fill(folder, certs_pki, crts=[("ca.crt", "b")], pairs=[("b", "b", "b"), ("a", "a", "a")])
    seen = len(mtls_fronts.presented(mtls_fronts.asks_b))
    assert_pulled(pull(tmp_path, mtls_fronts.asks_b, "--cert-dir", folder), raw)
    got = mtls_fronts.presented(mtls_fronts.asks_b)[seen:]
    assert got and {(s, i) for _, s, i in got} == {("CN=client b", "CN=test CA B")}, got
    seen = len(mtls_fronts.presented(mtls_fronts.names_none))
    assert_pulled(pull(tmp_path, mtls_fronts.names_none, "--cert-dir", folder), raw)
    assert presented_by(mtls_fronts, mtls_fronts.names_none, seen) == {"CN=client a"}


def test_no_client_certificate_the_server_names(tmp_path, raw, certs_pki, mtls_fronts):
    """Only a pair of CA A, and the server names B: none is sent (Go's rule), and this server
    refuses the request."""
    host = mtls_fronts.asks_b
    folder = fill(tmp_path / "only-a", certs_pki, crts=[("ca.crt", "b")], pairs=[("a", "a", "a")])
    seen = len(mtls_fronts.presented(host))
    res = pull(tmp_path, host, "--cert-dir", folder)
    assert res.rc == 1, res
    got = mtls_fronts.presented(host)[seen:]
    assert got and all(status == 400 and subject == "" for status, subject, _ in got), got


def test_folder_errors(tmp_path, raw, certs_pki, mtls_fronts):
    """A key without its certificate, a key of another certificate, a *.crt with no certificate in it
    and a folder of too many names are errors naming the file or folder."""
    host = mtls_fronts.names_none
    lone = fill(tmp_path / "lone", certs_pki, crts=[("ca.crt", "b")])
    shutil.copy(certs_pki.client("a", "a")[1], lone / "client.key")
    res = pull(tmp_path, host, "--cert-dir", lone)
    assert res.rc == 2 and res.json["error"]["code"] == "usage", res
    assert "key client.key has no client certificate client.cert" in res.json["error"]["message"]
    crossed = fill(tmp_path / "crossed", certs_pki, crts=[("ca.crt", "b")])
    shutil.copy(certs_pki.client("a", "a")[0], crossed / "client.cert")
    shutil.copy(certs_pki.client("b", "b")[1], crossed / "client.key")
    res = pull(tmp_path, host, "--cert-dir", crossed)
    assert res.rc == 1 and res.json["error"]["code"] == "tls", res
    assert f"client key {crossed}/client.key does not match certificate {crossed}/client.cert" in \
        res.json["error"]["message"]
    junk = fill(tmp_path / "junk", certs_pki, crts=[("ca.crt", "b")])
    (junk / "notes.crt").write_text("not a certificate\n")
    res = pull(tmp_path, host, "--cert-dir", junk)
    assert res.rc == 1 and res.json["error"]["code"] == "tls", res
    assert f"{junk}/notes.crt holds no PEM certificate" in res.json["error"]["message"]
    crowded = fill(tmp_path / "crowded", certs_pki, crts=[("ca.crt", "b")])
    for i in range(256):
        (crowded / f"readme-{i}.txt").write_text("")
    res = pull(tmp_path, host, "--cert-dir", crowded)
    assert res.rc == 1 and res.json["error"]["code"] == "limit", res
    assert f"certificate folder {crowded} holds more than 256 names" in res.json["error"]["message"]


# ---------------------------------------------------------------- mirrors


def test_mirror_has_its_own_certs_d(tmp_path, raw, certs_pki, mtls_fronts):
    """The registry named is down; its mirror is found through the mirror's own host:port folder
    (and gets the client certificate it asks for), then through --cert-dir, which serves every host."""
    origin = f"127.0.0.1:{free_port()}"  # nothing listens there
    mirror = mtls_fronts.asks_b
    fill(home_folder(tmp_path, mirror), certs_pki, crts=[("ca.crt", "b")], pairs=[("a", "a", "a"), ("b", "b", "b")])
    seen = len(mtls_fronts.presented(mirror))
    assert_pulled(pull(tmp_path, origin, "--retries", "0", "--mirror", f"{origin}={mirror}"), raw)
    assert presented_by(mtls_fronts, mirror, seen) == {"CN=client b"}
    given = fill(tmp_path / "given", certs_pki, crts=[("ca.crt", "b")], pairs=[("client", "certdir", "b")])
    seen = len(mtls_fronts.presented(mirror))
    assert_pulled(pull(tmp_path, origin, "--retries", "0", "--mirror", f"{origin}={mirror}", "--cert-dir", given), raw)
    assert presented_by(mtls_fronts, mirror, seen) == {"CN=client certdir"}


# ---------------------------------------------------------------- skopeo, the independent reader


def skopeo_inspect(tmp_path, host):
    env = dict(os.environ, **env_for(tmp_path))
    env["REGISTRY_AUTH_FILE"] = str(tmp_path / "no-auth.json")
    return subprocess.run(["skopeo", "inspect", "--raw", "--retry-times", "0", f"docker://{host}/{REPO}:1"],
                          capture_output=True, text=True, timeout=60, env=env)


def test_skopeo_presents_what_vmpull_presents(tmp_path, raw, certs_pki, mtls_fronts):
    """The same $HOME folder, read by skopeo and by vmpull: the same client certificate reaches each
    server (b where B is asked for, the first by name, a, where no CA is named)."""
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed")
    for host, expected in ((mtls_fronts.asks_b, "CN=client b"), (mtls_fronts.names_none, "CN=client a")):
        fill(home_folder(tmp_path, host), certs_pki, crts=[("ca.crt", "b")], pairs=[("b", "b", "b"), ("a", "a", "a")])
        seen = len(mtls_fronts.presented(host))
        proc = skopeo_inspect(tmp_path, host)
        assert proc.returncode == 0, proc.stderr
        assert presented_by(mtls_fronts, host, seen) == {expected}
        seen = len(mtls_fronts.presented(host))
        assert_pulled(pull(tmp_path, host), raw)
        assert presented_by(mtls_fronts, host, seen) == {expected}
