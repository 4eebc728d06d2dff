"""Debian's docker-registry (the CNCF distribution registry) on free loopback ports, with
generated configs and storage in a tmp dir, in four variants (session fixtures):

    registry_plain   plain http, no auth
    registry_tls     https with a CA made at test time (registry.ca), no auth
    registry_basic   https + htpasswd basic auth (bcrypt entry from `htpasswd -B`)
    registry_token   https + bearer tokens from a small token issuer of ours (TokenIssuer below,
                     https too), which signs RS256 JWTs with the openssl CLI
    registry_redirect  nginx in front of registry_basic (plain http): blob GETs are answered with a
                     307 to another host name (localhost) where a second nginx server hands out the
                     blob from the registry's storage, as object storage would; both log the
                     Authorization header they receive (.front_log(), .store_log())

Each has .host ("127.0.0.1:PORT"), .ref(repo, tag) ("docker://HOST/REPO:TAG"), .push(layout,
ref_name, repo, tag) (skopeo copy --all --preserve-digests from an OCI layout), .blob_file(digest)
(the blob's file in the registry's storage, to damage it), and .ca for --cert-dir/--ca-cert use.
Credentials: REGISTRY_USER / REGISTRY_PASSWORD for both auth variants.
"""
import base64
import http.server
import json
import os
import ssl
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from servers.common import (LoopbackServer, find_program, make_test_ca, running, start_listening, start_nginx,
                            start_or_fail, stop_process)

REGISTRY_USER = "machine-puller"
REGISTRY_PASSWORD = "Corr3ct-h0rse:battery"  # a colon in the password on purpose
TOKEN_SERVICE = "vmpull-test-registry"
TOKEN_ISSUER = "vmpull-test-issuer"

CONFIG = """version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  cache:
    blobdescriptor: ""
http:
  addr: 127.0.0.1:{port}
  secret: vmpull-test-secret
{tls}{auth}"""


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """The token endpoint of the Docker registry token spec: GET /token?service=&scope=, Basic
    auth optional. Good credentials get pull+push on what the scope names; anonymous callers get
    a token for repositories under public/ only; wrong credentials get 401. Every request's
    Authorization header (decoded user only) and query are kept in .requests.
    Tokens live 600 s; set .token_ttl (seconds) for short-lived ones, which the registry itself
    then refuses once they expired (it allows TOKEN_EXP_LEEWAY seconds past "exp" for clock skew,
    so "exp" is set that much earlier)."""

    TOKEN_EXP_LEEWAY = 60  # distribution's registry/auth/token Leeway

    def __init__(self, folder, ca_folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.requests = []
        self.token_ttl = None
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "signing.key",
                        "-out", "signing.pem", "-days", "3", "-subj", "/CN=vmpull token signer"],
                       cwd=self.folder, check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", "signing.pem", "-outform", "DER"], cwd=self.folder,
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.bundle = self.folder / "signing.pem"
        self.ca_folder = Path(ca_folder)

    def sign(self, claims):
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.folder / "signing.key")],
                             input=signing_input.encode(), check=True, capture_output=True).stdout
        return f"{signing_input}.{_b64url(sig)}"

    def start(self):
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = urllib.parse.parse_qs(url.query)
                user = None
                auth = self.headers.get("Authorization")
                ok_creds = False
                if auth and auth.startswith("Basic "):
                    raw = base64.b64decode(auth[6:]).decode()
                    user, _, password = raw.partition(":")
                    ok_creds = user == REGISTRY_USER and password == REGISTRY_PASSWORD
                issuer.requests.append({"path": url.path, "query": query, "user": user})
                if url.path != "/token":
                    self.send_error(404)
                    return
                if auth and not ok_creds:
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
                    return
                access = []
                for scope in query.get("scope", []):
                    kind, _, rest = scope.partition(":")
                    name, _, actions = rest.rpartition(":")
                    if ok_creds or name.startswith("public/"):
                        access.append({"type": kind, "name": name, "actions": actions.split(",")})
                now = int(time.time())
                ttl = issuer.token_ttl
                exp = now + ttl - issuer.TOKEN_EXP_LEEWAY if ttl else now + 600
                claims = {"iss": TOKEN_ISSUER, "sub": user or "", "aud": query.get("service", [""])[0],
                          "exp": exp, "nbf": now - 10, "iat": now, "jti": f"t{len(issuer.requests)}",
                          "access": access}
                body = json.dumps({"token": issuer.sign(claims), "expires_in": ttl or 600}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.ca_folder / "server.pem", self.ca_folder / "server.key")
        self.http = LoopbackServer(Handler, http.server.ThreadingHTTPServer, tls=ctx)
        self.port = self.http.port
        self.realm = f"{self.http.base_url}/token"
        return self

    def stop(self):
        self.http.stop()


class Registry:
    def __init__(self, folder, tls=False, auth=None, ca_folder=None, extra_config=""):
        self.tmp = Path(folder)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.storage = self.tmp / "storage"
        self.storage.mkdir(exist_ok=True)
        self.tls = tls
        self.auth = auth
        self.ca_folder = Path(ca_folder) if ca_folder else None
        self.proc = None
        self.issuer = None
        self.extra_config = extra_config  # top-level YAML added to the config (e.g. a proxy: section)

    def start(self):
        exe = find_program("docker-registry", "/usr/bin/docker-registry", "docker-registry")
        tls = ""
        if self.tls:
            tls = (f"  tls:\n    certificate: {self.ca_folder / 'server.pem'}\n"
                   f"    key: {self.ca_folder / 'server.key'}\n")
        auth = ""
        if self.auth == "htpasswd":
            line = subprocess.run(["htpasswd", "-nbB", REGISTRY_USER, REGISTRY_PASSWORD], check=True,
                                  capture_output=True, text=True).stdout.strip()
            (self.tmp / "htpasswd").write_text(line + "\n")
            auth = f"auth:\n  htpasswd:\n    realm: vmpull-tests\n    path: {self.tmp / 'htpasswd'}\n"
        elif self.auth == "token":
            self.issuer = TokenIssuer(self.tmp / "issuer", self.ca_folder).start()
            auth = (f"auth:\n  token:\n    realm: {self.issuer.realm}\n    service: {TOKEN_SERVICE}\n"
                    f"    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {self.issuer.bundle}\n")
        conf = self.tmp / "config.yml"

        def launch(port):
            conf.write_text(CONFIG.format(storage=self.storage, port=port, tls=tls, auth=auth) + self.extra_config)
            self.log = open(self.tmp / "registry.log", "ab")
            return subprocess.Popen([exe, "serve", str(conf)], stdin=subprocess.DEVNULL, stdout=self.log,
                                    stderr=self.log, env=dict(os.environ, OTEL_TRACES_EXPORTER="none"))

        self.proc, ports = start_listening(launch, 1, timeout=20)
        if self.proc is None:
            self.stop()
            raise RuntimeError("docker-registry did not start: " +
                               (self.tmp / "registry.log").read_text(errors="replace")[-2000:])
        self.port = ports[0]
        self.host = f"127.0.0.1:{self.port}"
        self.ca = self.ca_folder / "ca.pem" if self.tls else None
        return self

    def stop(self):
        stop_process(self.proc)
        self.proc = None
        if self.issuer:
            self.issuer.stop()
            self.issuer = None

    def ref(self, repo, tag=None, digest=None):
        return f"docker://{self.host}/{repo}" + (f"@{digest}" if digest else f":{tag or 'latest'}")

    def push(self, layout, ref_name, repo, tag):
        """skopeo copy --all: an independent client uploads the layout's image (index and all)."""
        cmd = ["skopeo", "copy", "--quiet", "--all", "--preserve-digests", "--dest-tls-verify=false"]
        if self.auth:
            cmd.append(f"--dest-creds={REGISTRY_USER}:{REGISTRY_PASSWORD}")
        cmd += [f"oci:{layout}:{ref_name}", f"docker://{self.host}/{repo}:{tag}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, REGISTRY_AUTH_FILE=str(self.tmp / "no-auth.json")))
        if proc.returncode != 0:
            raise RuntimeError(f"skopeo copy failed: {proc.stderr}")

    def plant_manifest(self, repo, tag, body):
        """Put a manifest straight into the storage (what the API refuses to take, e.g. one over
        its 4 MiB request limit), tagged, as the registry lays out what it stores."""
        import hashlib

        hexd = hashlib.sha256(body).hexdigest()
        blob = self.blob_file(f"sha256:{hexd}")
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(body)
        base = self.storage / "docker" / "registry" / "v2" / "repositories" / repo / "_manifests"
        for link in (base / "revisions" / "sha256" / hexd / "link", base / "tags" / tag / "current" / "link",
                     base / "tags" / tag / "index" / "sha256" / hexd / "link"):
            link.parent.mkdir(parents=True, exist_ok=True)
            link.write_text(f"sha256:{hexd}")
        return f"sha256:{hexd}"

    def blob_file(self, digest):
        alg, hexd = digest.split(":", 1)
        return self.storage / "docker" / "registry" / "v2" / "blobs" / alg / hexd[:2] / hexd / "data"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture(scope="session")
def registry_ca(tmp_path_factory):
    folder = tmp_path_factory.mktemp("registry-ca")
    make_test_ca(folder)
    return folder


def _registry(tmp_path_factory, name, ca, **kw):
    return start_or_fail(Registry(tmp_path_factory.mktemp(name), ca_folder=ca, **kw))


@pytest.fixture(scope="session")
def registry_plain(tmp_path_factory, registry_ca):
    yield from running(_registry(tmp_path_factory, "registry-plain", registry_ca))


@pytest.fixture(scope="session")
def registry_tls(tmp_path_factory, registry_ca):
    yield from running(_registry(tmp_path_factory, "registry-tls", registry_ca, tls=True))


@pytest.fixture(scope="session")
def registry_basic(tmp_path_factory, registry_ca):
    yield from running(_registry(tmp_path_factory, "registry-basic", registry_ca, tls=True, auth="htpasswd"))


@pytest.fixture(scope="session")
def registry_token(tmp_path_factory, registry_ca):
    yield from running(_registry(tmp_path_factory, "registry-token", registry_ca, tls=True, auth="token"))


def blob_redirect_servers(tmp, front, store, upstream, storage, log, store_limits=""):
    """nginx server blocks: a front at port front that passes everything to the registry (https, port
    upstream) but answers a blob's GET with a 307 to a storage host (localhost: another host name) at
    port store, which hands out the blob's file from the registry's storage as object storage would;
    each logs to tmp/front.log and tmp/store.log in the log_format named log. store_limits: nginx
    directives for the storage host (a rate cap)."""
    return f"""  server {{
    listen 127.0.0.1:{front};
    access_log {tmp}/front.log {log};
    location ~ "^/v2/.+/blobs/sha256:(?<hex>(?<h2>[0-9a-f]{{2}})[0-9a-f]{{62}})$" {{
      return 307 http://localhost:{store}/blobs/sha256/$h2/$hex/data;
    }}
    location / {{
      proxy_pass https://127.0.0.1:{upstream};
      proxy_ssl_verify off;
      proxy_set_header Host $http_host;
    }}
  }}
  server {{
    listen 127.0.0.1:{store};
    access_log {tmp}/store.log {log};
    root {storage};
    default_type application/octet-stream;
{store_limits}  }}
"""


class RedirectFront:
    def __init__(self, folder, upstream):
        self.tmp = Path(folder)
        self.upstream = upstream
        self.proc = None

    def start(self):
        def render(front, store):
            return ("  log_format auth '$host $request_uri $status auth=$http_authorization';\n" +
                    blob_redirect_servers(self.tmp, front, store, self.upstream.port,
                                          self.upstream.storage / "docker" / "registry" / "v2", "auth"))

        self.proc, (self.front, self.store) = start_nginx(self.tmp, 2, render, what="nginx (redirect front)")
        self.host = f"127.0.0.1:{self.front}"
        return self

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def ref(self, repo, tag):
        return f"docker://{self.host}/{repo}:{tag}"

    def front_log(self):
        f = self.tmp / "front.log"
        return f.read_text() if f.exists() else ""

    def store_log(self):
        f = self.tmp / "store.log"
        return f.read_text() if f.exists() else ""


@pytest.fixture(scope="session")
def registry_redirect(tmp_path_factory, registry_basic):
    yield from running(start_or_fail(RedirectFront(tmp_path_factory.mktemp("registry-redirect"), registry_basic)))
