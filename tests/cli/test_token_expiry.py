"""A registry blob GET answered 401 gets a new bearer token once: when the token of the manifests
expired before the blob was asked for (here: a long wait for another pull's lock on the blob in the
cache), and when the manifests came from the cache so no token was asked for at all. The registry is
Debian's docker-registry; it checks the token's expiry itself (registry_token's issuer hands out
tokens that live .token_ttl seconds)."""
import fcntl
import gzip
import hashlib
import os
import random
import socket
import subprocess
import threading
import time

import pytest

from conftest import VMPULL, check_sanitizer_report, run_vmpull
from servers.fixture_registry import REGISTRY_PASSWORD, REGISTRY_USER
from servers.oci_layout import Layout, digest_of

REPO = "private/token-expiry"
TTL = 3


@pytest.fixture(scope="module")
def image(tmp_path_factory, registry_token):
    raw = random.Random(5).randbytes(512 << 10) + bytes(512 << 10)
    blob = gzip.compress(raw, compresslevel=1)
    lay = Layout(tmp_path_factory.mktemp("token-layout") / "layout")
    entry = lay.disk_artifact(blob, "machine.x86_64.raw.gz", media_type="application/gzip", arch="x86_64",
                              disktype="qemu")
    index = lay.index([entry])
    lay.write_index([(index, "v1")])
    registry_token.push(lay.path, "v1", REPO, "v1")
    return {"raw": raw, "blob": blob, "index": index["digest"]}


def args(registry, cache, out):
    return ["pull", "-q", "--json", "--ca-cert", registry.ca, "--arch", "x86_64", "--cache-dir", cache,
            "--creds", f"{REGISTRY_USER}:{REGISTRY_PASSWORD}", "-o", out]


def token_requests(registry):
    return [r for r in registry.issuer.requests if r["path"] == "/token"]


def blob_entry(cache, digest):
    """The cache's lock file for a blob (partial/<sha256 of "blob <digest>">)."""
    return cache / "partial" / hashlib.sha256(f"blob {digest}".encode()).hexdigest()


def test_token_expired_while_waiting_for_the_blob(registry_token, image, tmp_path):
    reg = registry_token
    cache = tmp_path / "cache"
    entry = blob_entry(cache, digest_of(image["blob"]))
    entry.parent.mkdir(parents=True)
    out = tmp_path / "disk.raw"
    before = len(token_requests(reg))
    reg.issuer.token_ttl = TTL
    # "Another pull" holds the blob's entry: this one resolves the manifests with a fresh token,
    # then waits for the lock; when it gets it the token has expired.
    with open(entry, "wb") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        proc = subprocess.Popen([VMPULL, *map(str, args(reg, cache, out)), reg.ref(REPO, "v1")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while len(token_requests(reg)) == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(TTL + 1.5)
        finally:
            fcntl.flock(holder, fcntl.LOCK_UN)
    try:
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        reg.issuer.token_ttl = None
    check_sanitizer_report(stderr)
    assert proc.returncode == 0, stderr
    assert "waiting for another vmpull" in stderr
    assert out.read_bytes() == image["raw"]
    assert len(token_requests(reg)) == before + 2
    assert all(r["user"] == REGISTRY_USER for r in token_requests(reg)[before:])


def test_blob_of_cached_manifests_gets_a_token(registry_token, image, tmp_path):
    reg = registry_token
    cache = tmp_path / "cache"
    ref = f"docker://{reg.host}/{REPO}@{image['index']}"
    r = run_vmpull(*args(reg, cache, tmp_path / "one.raw"), ref)
    assert r.rc == 0, r
    # The manifests stay in the cache (named by digest), the disk's blob goes: the next pull asks
    # the registry for the blob only, and that first request has no token yet.
    os.remove(cache / "blobs" / "sha256" / digest_of(image["blob"]).split(":")[1])
    before = len(token_requests(reg))
    r = run_vmpull(*args(reg, cache, tmp_path / "two.raw"), ref)
    assert r.rc == 0, r
    assert (tmp_path / "two.raw").read_bytes() == image["raw"]
    assert len(token_requests(reg)) == before + 1


def test_blob_401_with_refused_credentials_still_fails_cleanly(registry_token, image, tmp_path):
    reg = registry_token
    cache = tmp_path / "cache"
    ref = f"docker://{reg.host}/{REPO}@{image['index']}"
    assert run_vmpull(*args(reg, cache, tmp_path / "one.raw"), ref).rc == 0
    os.remove(cache / "blobs" / "sha256" / digest_of(image["blob"]).split(":")[1])
    out = tmp_path / "out"
    out.mkdir()
    a = args(reg, cache, out / "two.raw")
    a[a.index("--creds") + 1] = f"{REGISTRY_USER}:wrong-password"
    r = run_vmpull(*a, ref)
    assert r.rc == 1
    assert r.json["error"]["code"] == "auth"
    assert "the token service refused the credentials from --creds" in r.stderr
    assert "wrong-password" not in r.stderr and "wrong-password" not in r.stdout
    assert list(out.iterdir()) == []


class CuttingRelay:
    """A TCP relay in front of the registry (TLS passes through untouched). The first connection
    that carries more than `cut_after` bytes towards vmpull is held silent for `hold` seconds, then
    closed: the blob's transfer breaks off after its bearer token has expired. Later connections
    pass through whole."""

    def __init__(self, upstream_port, cut_after, hold):
        self.upstream_port, self.cut_after, self.hold = upstream_port, cut_after, hold
        self.cut = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self.pump, args=(down, up, False), daemon=True).start()
            threading.Thread(target=self.pump, args=(up, down, True), daemon=True).start()

    def pump(self, src, dst, towards_client):
        sent = 0
        try:
            while data := src.recv(65536):
                if towards_client and not self.cut.is_set() and sent + len(data) > self.cut_after:
                    self.cut.set()
                    time.sleep(self.hold)
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.listener.close()


def test_transfer_resumed_after_the_token_expired_gets_a_new_one(registry_token, image, tmp_path):
    reg = registry_token
    relay = CuttingRelay(int(reg.host.rsplit(":", 1)[1]), cut_after=len(image["blob"]) // 2, hold=TTL + 1.5)
    before = len(token_requests(reg))
    reg.issuer.token_ttl = TTL
    try:
        r = run_vmpull(*args(reg, tmp_path / "cache", tmp_path / "disk.raw"),
                       f"docker://127.0.0.1:{relay.port}/{REPO}@{image['index']}")
    finally:
        reg.issuer.token_ttl = None
        relay.close()
    assert relay.cut.is_set()
    assert r.rc == 0, r
    # One retry line (the broken body), then the resumed request's 401 answered with a new token.
    assert "retry 1 of 5" in r.stderr, r.stderr
    assert (tmp_path / "disk.raw").read_bytes() == image["raw"]
    assert len(token_requests(reg)) == before + 2
