"""Credentials are wiped before libvmpull frees memory that held them: passwords, Basic and Bearer
Authorization headers (and every copy of them: header lists, retry state), URLs with a password,
auth-file entries and token answers.

A checker preloaded into vmpull (secret_free_check.c, compiled here) searches every block libvmpull
frees for the test's secrets and reports where it was freed; the pulls run against the real servers
(docker-registry with htpasswd and with bearer tokens, nginx with basic auth)."""
import base64
import gzip
import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import VMPULL, run_vmpull
from servers.fixture_nginx import NGINX_PASSWORD, NGINX_USER
from servers.fixture_registry import REGISTRY_PASSWORD, REGISTRY_USER
from servers.oci_layout import Layout

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def checker(tmp_path_factory):
    deps = subprocess.run(["ldd", VMPULL], capture_output=True, text=True).stdout
    if "libasan" in deps or "libvmpull" not in deps:
        pytest.skip(f"the free() checker needs a plain vmpull linked with libvmpull.so ({VMPULL} is not)")
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "no C compiler (build-essential) to build the free() checker"
    so = tmp_path_factory.mktemp("secret-check") / "secret_free_check.so"
    subprocess.run([cc, "-O1", "-g", "-shared", "-fPIC", "-o", str(so), str(HERE / "secret_free_check.c"), "-ldl"],
                   check=True)
    return so


def libvmpull_path():
    m = re.search(r"libvmpull\.so\.\d+ => (\S+)", subprocess.run(["ldd", VMPULL], capture_output=True,
                                                                  text=True).stdout)
    return m.group(1) if m else None


def symbolized(lines):
    """The report with libvmpull's frames as function (file:line), for whoever reads a failure."""
    lib = libvmpull_path()
    if not lines or not lib or not shutil.which("addr2line"):
        return lines

    def name(m):
        out = subprocess.run(["addr2line", "-f", "-s", "-e", lib, m.group(1)], capture_output=True, text=True).stdout
        return "%s(%s)" % tuple(out.split("\n")[:2]) if out.count("\n") >= 2 else m.group(0)
    return [re.sub(r"libvmpull\.so\.\d+\+(0x[0-9a-f]+)", name, line) for line in lines]


def basic_b64(user, password):
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def checked_pull(checker, tmp_path, secrets, *args, env=None):
    """vmpull pull under the checker: the result and the checker's report lines."""
    report = tmp_path / "secret-report.txt"
    e = {"LD_PRELOAD": str(checker), "VMPULL_TEST_SECRETS": "\n".join(secrets),
         "VMPULL_TEST_SECRET_REPORT": str(report), "HOME": str(tmp_path), "REGISTRY_AUTH_FILE": "",
         "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    e.update(env or {})
    r = run_vmpull("pull", "-q", "--json", "--no-cache", "--replace", "-o", tmp_path / "disk.raw", *args, env=e)
    lines = report.read_text().splitlines() if report.exists() else []
    report.unlink(missing_ok=True)
    return r, symbolized(lines)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    raw = random.Random(9).randbytes(96 << 10) + bytes(160 << 10)
    blob = gzip.compress(raw, compresslevel=1)
    lay = Layout(tmp_path_factory.mktemp("wipe-layout") / "layout")
    entry = lay.disk_artifact(blob, "machine.x86_64.raw.gz", media_type="application/gzip", arch="x86_64",
                              disktype="qemu")
    lay.write_index([(lay.index([entry]), "v1")])
    return {"raw": raw, "blob": blob, "layout": lay}


def test_checker_sees_an_unwiped_secret(checker, tmp_path, image):
    """The checker itself: a secret in a block libvmpull frees is reported (here the source path,
    which libvmpull copies and frees like any string), a harmless string is not."""
    src = tmp_path / "NOT-A-SECRET-BUT-A-MARKER.raw.gz"
    src.write_bytes(image["blob"])
    r, report = checked_pull(checker, tmp_path, ["NOT-A-SECRET-BUT-A-MARKER"], src)
    assert r.rc == 0, r
    # (a frame symbolized as "function(file.c:line)" is libvmpull's: only its frames are symbolized)
    assert report and all("libvmpull" in line or re.search(r"\(\w+\.c:\d+\)", line) for line in report), report
    r, report = checked_pull(checker, tmp_path, ["nowhere-to-be-found"], src)
    assert r.rc == 0 and report == []


def test_registry_basic_auth(checker, tmp_path, image, registry_basic):
    registry_basic.push(image["layout"].path, "v1", "wipe/machine", "v1")
    r, report = checked_pull(checker, tmp_path, [REGISTRY_PASSWORD, basic_b64(REGISTRY_USER, REGISTRY_PASSWORD)],
                             "--ca-cert", registry_basic.ca, "--creds", f"{REGISTRY_USER}:{REGISTRY_PASSWORD}",
                             registry_basic.ref("wipe/machine", "v1"))
    assert r.rc == 0, r
    assert (tmp_path / "disk.raw").read_bytes() == image["raw"]
    assert report == [], "\n".join(report)


def test_registry_auth_file(checker, tmp_path, image, registry_basic):
    registry_basic.push(image["layout"].path, "v1", "wipe/machine", "v1")
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"auths": {registry_basic.host: {"auth": basic_b64(REGISTRY_USER,
                                                                                   REGISTRY_PASSWORD)}}}))
    r, report = checked_pull(checker, tmp_path, [REGISTRY_PASSWORD, basic_b64(REGISTRY_USER, REGISTRY_PASSWORD)],
                             "--ca-cert", registry_basic.ca, "--authfile", auth,
                             registry_basic.ref("wipe/machine", "v1"))
    assert r.rc == 0, r
    assert report == [], "\n".join(report)


def test_registry_bearer_token(checker, tmp_path, image, registry_token):
    registry_token.push(image["layout"].path, "v1", "wipe/machine", "v1")
    # Every token the issuer signs starts with the same JWT header: it stands for "a token".
    header = {"typ": "JWT", "alg": "RS256", "x5c": [registry_token.issuer.x5c]}
    token_mark = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()[:200]
    r, report = checked_pull(checker, tmp_path,
                             [REGISTRY_PASSWORD, basic_b64(REGISTRY_USER, REGISTRY_PASSWORD), token_mark],
                             "--ca-cert", registry_token.ca, "--creds", f"{REGISTRY_USER}:{REGISTRY_PASSWORD}",
                             registry_token.ref("wipe/machine", "v1"))
    assert r.rc == 0, r
    assert (tmp_path / "disk.raw").read_bytes() == image["raw"]
    assert report == [], "\n".join(report)


@pytest.mark.parametrize("https", [False, True])
def test_url_with_a_password(checker, tmp_path, image, nginx, https):
    (Path(nginx.root) / "wipe").mkdir(exist_ok=True)
    (Path(nginx.root) / "wipe" / "disk.raw.gz").write_bytes(image["blob"])
    url = nginx.url("private/wipe/disk.raw.gz", https).replace("://", f"://{NGINX_USER}:{NGINX_PASSWORD}@", 1)
    r, report = checked_pull(checker, tmp_path, [NGINX_PASSWORD, basic_b64(NGINX_USER, NGINX_PASSWORD)],
                             "--ca-cert", nginx.ca, url)
    assert r.rc == 0, r
    assert (tmp_path / "disk.raw").read_bytes() == image["raw"]
    assert report == [], "\n".join(report)
