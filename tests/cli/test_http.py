"""vmpull pull http(s)://...: nginx on loopback (every codec, TLS, redirects, statuses), a
fault-injecting server (broken bodies, stalls), checksum lists, credentials, proxies, Ctrl-C."""
import hashlib
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import VMPULL, check_sanitizer_report, leftovers, run_vmpull
from servers.fixture_nginx import NGINX_PASSWORD, NGINX_USER

# Every failure must be final on the first attempt: retries would hide what is tested.
NO_RETRY = ["--retries", "0"]

CODECS = {
    "xz": ["xz", "-T1", "-c"],
    "lzma": ["xz", "--format=lzma", "-c"],
    "lz": ["lzip", "-c"],
    "gz": ["gzip", "-c"],
    "zst": ["zstd", "-q", "-c"],
    "bz2": ["bzip2", "-c"],
    "zip": None,
    "none": None,
}


def disk_bytes():
    """Disk-like content: incompressible data, a zero run (a hole in the output), data. 1.5 MiB,
    so every compressed form is still ~512 KiB and the fault cases cut it mid-body."""
    data = random.Random(1).randbytes(512 << 10)
    return data[: 256 << 10] + bytes(1 << 20) + data[256 << 10:]


@pytest.fixture(scope="module")
def images(nginx, faults, tmp_path_factory):
    """images/disk.raw.<codec> under nginx's root, the same bytes registered with the fault server."""
    raw = disk_bytes()
    folder = nginx.root / "images"
    folder.mkdir(exist_ok=True)
    (folder / "disk.raw").write_bytes(raw)
    names = {"none": "disk.raw"}
    for ext, cmd in CODECS.items():
        if ext == "none":
            continue
        name = f"disk.raw.{ext}"
        if ext == "zip":
            subprocess.run(["zip", "-q", "-j", str(folder / name), str(folder / "disk.raw")], check=True)
        else:
            with open(folder / name, "wb") as out:
                subprocess.run([*cmd, str(folder / "disk.raw")], stdout=out, check=True)
        names[ext] = name
    (folder / "my disk.raw.xz").write_bytes((folder / "disk.raw.xz").read_bytes())
    for name in names.values():
        faults.serve(name, (folder / name).read_bytes())
    # A larger, incompressible image for the rate-limited and cancel cases.
    (folder / "big.raw").write_bytes(os.urandom(8 << 20))
    xz = (folder / "disk.raw.xz").read_bytes()
    return {"raw": raw, "names": names, "folder": folder, "xz": xz,
            "xz_digest": "sha256:" + hashlib.sha256(xz).hexdigest()}


def pull(url, out, *args, **kw):
    return run_vmpull("pull", "-q", "-o", out, *args, url, **kw)


def one_line_error(res, code, *needles):
    """A failed pull: exit 1, exactly one stderr line, the --json code, and each needle in the message."""
    assert res.rc == 1, res
    lines = [l for l in res.stderr.strip().splitlines() if not l.startswith("vmpull: warning:")]
    assert len(lines) == 1, res.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    if res.stdout.strip():
        assert res.json["error"]["code"] == code, res.stdout


def assert_nothing_left(folder):
    assert leftovers(folder) == [], leftovers(folder)


# ---- nginx: codecs, http and https ----

@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("codec", list(CODECS))
def test_every_codec(nginx, images, tmp_path, codec, scheme):
    name = images["names"][codec]
    out = tmp_path / "disk.raw"
    extra = ["--ca-cert", nginx.ca] if scheme == "https" else []
    res = pull(nginx.url(f"images/{name}", https=scheme == "https"), out, "--json", *extra)
    assert res.rc == 0, res
    assert out.read_bytes() == images["raw"]
    j = res.json
    assert j["image_name"] == name
    assert j["fetched"] == (images["folder"] / name).stat().st_size
    assert j["digest"] == "sha256:" + hashlib.sha256((images["folder"] / name).read_bytes()).hexdigest()
    assert j["source"].startswith(scheme + "://")


def test_naming_rule_from_url_without_query(nginx, images, tmp_path):
    res = run_vmpull("pull", "-q", "--data-dir", tmp_path, "--json", nginx.url("images/disk.raw.xz?token=abc&x=1#frag"))
    assert res.rc == 0, res
    assert res.json["image_name"] == "disk.raw.xz"
    assert Path(res.json["path"]) == tmp_path / "podman-machine-default_disk.raw"
    assert (tmp_path / "podman-machine-default_disk.raw").read_bytes() == images["raw"]


def test_percent_decoded_name(nginx, images, tmp_path):
    res = run_vmpull("pull", "-q", "--data-dir", tmp_path, "--json", nginx.url("images/my%20disk.raw.xz"))
    assert res.rc == 0, res
    assert res.json["image_name"] == "my disk.raw.xz"
    assert (tmp_path / "podman-machine-default_my disk.raw").exists()


def test_url_without_file_name_needs_output(nginx, images, tmp_path):
    res = run_vmpull("pull", "-q", "--data-dir", tmp_path, "--json", nginx.url("latest/"))
    assert res.rc == 2, res
    assert res.json["error"]["code"] == "usage"
    assert "-o" in res.stderr
    assert_nothing_left(tmp_path)
    out = tmp_path / "disk.raw"
    res = pull(nginx.url("latest/"), out)
    assert res.rc == 0, res
    assert out.read_bytes() == images["raw"]


def test_encoded_slash_is_not_a_usable_name(nginx, images, tmp_path):
    res = run_vmpull("pull", "-q", "--data-dir", tmp_path, nginx.url("images/..%2Fdisk.raw.xz"))
    assert res.rc == 2, res
    assert_nothing_left(tmp_path)


def test_content_disposition_reported_not_used(nginx, images, tmp_path):
    res = run_vmpull("pull", "-q", "--data-dir", tmp_path, "--json", nginx.url("disposition/images/disk.raw.xz"))
    assert res.rc == 0, res
    assert res.json["content_disposition"] == "served-name.raw.xz"
    assert res.json["image_name"] == "disk.raw.xz"
    assert leftovers(tmp_path) == ["podman-machine-default_disk.raw"]


def test_user_agent(nginx, images, tmp_path):
    version = subprocess.run([VMPULL, "--version"], capture_output=True, text=True).stdout.split()[-1]
    assert pull(nginx.url("images/disk.raw.gz?ua=default"), tmp_path / "a").rc == 0
    assert pull(nginx.url("images/disk.raw.gz?ua=custom"), tmp_path / "b", "--user-agent", "probe/9").rc == 0
    log = nginx.access_log().splitlines()
    assert any("ua=default" in l and f'"vmpull/{version}"' in l for l in log), log[-3:]
    assert any("ua=custom" in l and '"probe/9"' in l for l in log), log[-3:]


# ---- statuses and redirects ----

def test_404(nginx, images, tmp_path):
    res = pull(nginx.url("images/missing.raw.xz"), tmp_path / "o", "--json", *NO_RETRY)
    one_line_error(res, "not_found", "HTTP 404 Not Found", nginx.url("images/missing.raw.xz"))
    assert_nothing_left(tmp_path)


def test_500(nginx, images, tmp_path):
    res = pull(nginx.url("status500/disk.raw.xz"), tmp_path / "o", "--json", *NO_RETRY)
    one_line_error(res, "http", "HTTP 500 Internal Server Error")
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("https", [False, True])
def test_redirect_followed(nginx, images, tmp_path, https):
    out = tmp_path / "disk.raw"
    res = pull(nginx.url("redirect/images/disk.raw.xz", https), out, "--ca-cert", nginx.ca)
    assert res.rc == 0, res
    assert out.read_bytes() == images["raw"]


def test_redirect_loop(nginx, images, tmp_path):
    res = pull(nginx.url("loop/disk.raw.xz"), tmp_path / "o", "--json", *NO_RETRY)
    one_line_error(res, "http", "redirect")
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("where,target", [("to-ftp", "ftp://"), ("to-file", "file://")])
def test_redirect_to_other_scheme_refused(nginx, images, tmp_path, where, target):
    res = pull(nginx.url(f"{where}/disk.raw.xz"), tmp_path / "o", "--json", *NO_RETRY)
    one_line_error(res, "http", "refused", target)
    assert_nothing_left(tmp_path)


def test_https_to_http_redirect(nginx, images, tmp_path):
    url = nginx.url("to-http/images/disk.raw.xz", https=True)
    res = pull(url, tmp_path / "o", "--json", "--ca-cert", nginx.ca, *NO_RETRY)
    one_line_error(res, "tls", "refused", "http://")
    assert_nothing_left(tmp_path)
    out = tmp_path / "disk.raw"
    res = pull(url, out, "--tls-verify=false")
    assert res.rc == 0, res
    assert out.read_bytes() == images["raw"]


# ---- TLS ----

def test_https_needs_the_ca(nginx, images, tmp_path):
    res = pull(nginx.url("images/disk.raw.xz", https=True), tmp_path / "o", "--json", *NO_RETRY)
    one_line_error(res, "tls", "certificate")
    assert_nothing_left(tmp_path)


def test_tls_verify_false_warns_once(nginx, images, tmp_path):
    out = tmp_path / "disk.raw"
    res = pull(nginx.url("images/disk.raw.xz", https=True), out, "--tls-verify=false")
    assert res.rc == 0, res
    assert res.stderr.count("verification is disabled") == 1, res.stderr
    assert out.read_bytes() == images["raw"]


def test_ca_cert_missing_file(nginx, images, tmp_path):
    res = pull(nginx.url("images/disk.raw.xz", https=True), tmp_path / "o", "--json", "--ca-cert",
               tmp_path / "nope.pem", *NO_RETRY)
    one_line_error(res, "not_found", "nope.pem")


# ---- fault injection: each a one-line error and no output ----

@pytest.mark.parametrize("behaviour,code,needle", [
    ("close-after/4096", "network", "shorter than Content-Length"),
    ("short", "network", "shorter than Content-Length"),
    ("long", "http", "longer than its Content-Length"),
    ("chunked-cut/70000", "network", "connection closed"),
    ("corrupt", "corrupt", ""),
    ("empty-reply", "network", "Empty reply"),
])
def test_broken_bodies(faults, images, tmp_path, behaviour, code, needle):
    res = pull(faults.url(behaviour, "disk.raw.xz"), tmp_path / "o", "--json", *NO_RETRY)
    one_line_error(res, code, needle)
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("codec", ["xz", "gz", "none"])
def test_chunked_body(faults, images, tmp_path, codec):
    out = tmp_path / "disk.raw"
    res = pull(faults.url("chunked", images["names"][codec]), out, "--json")
    assert res.rc == 0, res
    assert out.read_bytes() == images["raw"]


def test_corrupt_body_caught_by_digest(faults, images, tmp_path):
    # Uncompressed: only the digest can tell.
    digest = "sha256:" + hashlib.sha256(images["raw"]).hexdigest()
    res = pull(faults.url("corrupt", "disk.raw"), tmp_path / "o", "--json", "--digest", digest, *NO_RETRY)
    one_line_error(res, "digest_mismatch", digest)
    assert_nothing_left(tmp_path)


def test_stall_timeout(faults, images, tmp_path):
    res = pull(faults.url("stall/1000", "disk.raw.xz"), tmp_path / "o", "--json", "--stall-timeout", "2",
               *NO_RETRY, timeout=60)
    one_line_error(res, "network", "too slow")
    assert_nothing_left(tmp_path)


def test_connect_timeout_covers_the_tls_handshake(faults, tmp_path):
    # The fault server accepts the TCP connection and never answers the TLS ClientHello.
    url = f"https://127.0.0.1:{faults.port}/no-answer/disk.raw.xz"
    res = pull(url, tmp_path / "o", "--json", "--connect-timeout", "1", *NO_RETRY, timeout=30)
    one_line_error(res, "network", "timed out")
    assert_nothing_left(tmp_path)


# ---- verification ----

def test_digest_match_and_mismatch(nginx, images, tmp_path):
    out = tmp_path / "disk.raw"
    assert pull(nginx.url("images/disk.raw.xz"), out, "--digest", images["xz_digest"]).rc == 0
    wrong = "sha256:" + "0" * 64
    res = pull(nginx.url("images/disk.raw.xz"), tmp_path / "o", "--json", "--digest", wrong)
    one_line_error(res, "digest_mismatch", f"expected {wrong}", images["xz_digest"])
    assert not (tmp_path / "o").exists()


def checksum_lists(hexdigest, name="disk.raw.xz"):
    other = "1" * 64
    return {
        "gnu-text": f"{other}  disk.raw.gz\n{hexdigest}  {name}\n",
        "gnu-binary": f"{other} *disk.raw.gz\n{hexdigest} *{name}\n",
        "single-space": f"{hexdigest} {name}\n{other} disk.raw.gz\n",
        "bsd-clearsigned": (
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
            f"# {name}: 1234 bytes\nSHA256 ({name}) = {hexdigest.upper()}\n"
            f"SHA256 (disk.raw.gz) = {other}\n"
            "-----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n"),
    }


@pytest.mark.parametrize("form", ["gnu-text", "gnu-binary", "single-space", "bsd-clearsigned"])
def test_checksums_file(nginx, images, tmp_path, form):
    good = images["xz_digest"].split(":")[1]
    listing = tmp_path / "SHA256SUMS"
    listing.write_text(checksum_lists(good)[form])
    out = tmp_path / "out" / "disk.raw"
    out.parent.mkdir()
    # (the clearsigned form's signature is made up: its signature is not what this test is about,
    # test_checksums_signed.py has real ones)
    skip = ["--insecure-skip-signature"] if "clearsigned" in form else []
    res = pull(nginx.url("images/disk.raw.xz"), out, "--checksums", listing, *skip)
    assert res.rc == 0, res
    assert out.read_bytes() == images["raw"]
    bad = "2" * 64
    listing.write_text(checksum_lists(bad)[form])
    out.unlink()
    res = pull(nginx.url("images/disk.raw.xz"), out, "--json", "--checksums", listing, *skip)
    one_line_error(res, "digest_mismatch", f"sha256:{bad}", images["xz_digest"], "checksums")
    assert leftovers(out.parent) == []


def test_checksums_url_and_missing_entry(nginx, images, tmp_path):
    good = images["xz_digest"].split(":")[1]
    (nginx.root / "images" / "SHA256SUMS").write_text(checksum_lists(good)["gnu-text"])
    (nginx.root / "images" / "OTHER.SUMS").write_text(f"{good}  something-else.xz\n")
    out = tmp_path / "disk.raw"
    res = pull(nginx.url("images/disk.raw.xz"), out, "--checksums", nginx.url("images/SHA256SUMS"))
    assert res.rc == 0, res
    res = pull(nginx.url("images/disk.raw.xz"), tmp_path / "o", "--json", "--checksums",
               nginx.url("images/OTHER.SUMS"))
    one_line_error(res, "not_found", "disk.raw.xz", "OTHER.SUMS")
    assert not (tmp_path / "o").exists()
    res = pull(nginx.url("images/disk.raw.xz"), tmp_path / "o", "--json", "--checksums",
               nginx.url("images/NOPE.SUMS"))
    one_line_error(res, "not_found", "HTTP 404")


# ---- credentials ----

def test_credentials_never_shown(nginx, images, tmp_path):
    def creds_url(path, https=False):
        return nginx.url(path, https).replace("://", f"://{NGINX_USER}:{NGINX_PASSWORD}@", 1)

    out = tmp_path / "disk.raw"
    res = pull(creds_url("private/images/disk.raw.xz"), out, "--json")
    assert res.rc == 0, res
    assert out.read_bytes() == images["raw"]
    assert NGINX_PASSWORD not in res.stdout + res.stderr
    assert f"{NGINX_USER}:***@" in res.json["source"]
    assert "unencrypted" in res.stderr  # plain http: warned, still redacted
    res = pull(creds_url("private/images/disk.raw.xz", https=True), tmp_path / "b", "--json", "--ca-cert", nginx.ca)
    assert res.rc == 0, res
    assert "unencrypted" not in res.stderr and NGINX_PASSWORD not in res.stdout + res.stderr
    res = pull(creds_url("private/images/missing.xz"), tmp_path / "o", "--json", *NO_RETRY)
    one_line_error(res, "not_found", "HTTP 404", f"{NGINX_USER}:***@")
    assert NGINX_PASSWORD not in res.stdout + res.stderr
    res = pull(nginx.url("private/images/disk.raw.xz"), tmp_path / "o", "--json", *NO_RETRY)
    one_line_error(res, "auth", "HTTP 401")


def test_credentials_not_sent_to_another_host(nginx, images, tmp_path):
    # 127.0.0.1 redirects to localhost: the same server, but another host, which must not get them.
    url = nginx.url("to-localhost/private/images/disk.raw.xz").replace("://", f"://{NGINX_USER}:{NGINX_PASSWORD}@", 1)
    res = pull(url, tmp_path / "o", "--json", *NO_RETRY)
    one_line_error(res, "auth", "HTTP 401")
    assert NGINX_PASSWORD not in res.stdout + res.stderr


# ---- proxies ----

CLEAN_PROXY_ENV = {k: "" for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy",
                                    "NO_PROXY", "all_proxy", "ALL_PROXY")}


@pytest.mark.parametrize("var", ["http_proxy", "HTTP_PROXY"])
def test_forward_proxy(nginx, images, forward_proxy, tmp_path, var):
    host = f"vmpull-{var.lower().replace('_', '-')}.invalid"  # resolvable only by the proxy
    forward_proxy.aliases[host] = ("127.0.0.1", nginx.http_port)
    url = f"http://{host}/images/disk.raw.xz"
    out = tmp_path / "disk.raw"
    res = pull(url, out, env={**CLEAN_PROXY_ENV, var: forward_proxy.url})
    assert res.rc == 0, res
    assert out.read_bytes() == images["raw"]
    assert f"GET {url} HTTP/1.1" in forward_proxy.requests


def test_no_proxy_bypasses(nginx, images, tmp_path):
    dead = "http://127.0.0.1:9"  # discard port: nothing listens, a request through it fails
    env = {**CLEAN_PROXY_ENV, "HTTP_PROXY": dead, "NO_PROXY": "127.0.0.1"}
    assert pull(nginx.url("images/disk.raw.gz"), tmp_path / "a", env=env).rc == 0
    env = {**CLEAN_PROXY_ENV, "HTTP_PROXY": dead}
    # (--refresh: the copy the first pull cached would otherwise stand in for the dead proxy)
    res = pull(nginx.url("images/disk.raw.gz"), tmp_path / "b", "--json", "--refresh", *NO_RETRY, env=env)
    one_line_error(res, "network")


# ---- Ctrl-C ----

@pytest.mark.parametrize("where", ["stalled", "flowing"])
def test_sigint_mid_download(nginx, faults, images, tmp_path, where):
    if where == "stalled":
        url = faults.url("stall/300000", "disk.raw.xz")
    else:
        url = nginx.rate_url("512k", "images/big.raw")
    out = tmp_path / "disk.raw"
    proc = subprocess.Popen([VMPULL, "pull", "--progress", "never", "-o", str(out), *NO_RETRY, url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # connected and bytes flowing (or stalled) by now
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=3)  # "within a second", with slack for a loaded machine
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("vmpull did not stop within 3 s of SIGINT")
    stderr = proc.stderr.read()
    check_sanitizer_report(stderr)
    assert proc.returncode == 130, stderr
    assert_nothing_left(tmp_path)
