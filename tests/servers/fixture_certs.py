"""TLS fronts with certificates of the test's own CAs, for the certs.d tests (tests/cli/test_certs_d.py):
nginx servers in front of a plain-http docker-registry (registry_plain), each speaking https with a
server certificate issued by CA B, and asking for client certificates in two ways.

    certs_pki       (session) a folder made with the openssl CLI: CA A and CA B (a.pem, b.pem, with
                    their keys), the server's certificate for 127.0.0.1 issued by B (server.pem/.key),
                    and client certificates made on demand: certs_pki.client(name, ca) writes
                    client-NAME-CA.cert/.key (subject "CN=client NAME", issued by CA "a" or "b") and returns
                    the two paths
    mtls_fronts     (session) nginx with two servers, both proxying to registry_plain:
                    .asks_b      "127.0.0.1:PORT": requires a client certificate and names only CA B
                                 in its certificate request (ssl_client_certificate), though it also
                                 trusts certificates of A (ssl_trusted_certificate: not named)
                    .names_none  "127.0.0.1:PORT": asks for a client certificate naming no CA and
                                 does not verify it (optional_no_ca); a client may send none
                    .presented(host) [(status, subject, issuer)] of the requests that server logged
                    ($ssl_client_s_dn, $ssl_client_i_dn; "" when no certificate was sent)
"""
import re
from pathlib import Path

import pytest

from servers.common import _openssl, running, start_nginx, start_or_fail, stop_process


class Pki:
    def __init__(self, folder):
        self.dir = Path(folder)
        for ca in ("a", "b"):
            _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "3", "-subj", f"/CN=test CA {ca.upper()}",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.dir)
        (self.dir / "server.ext").write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        (self.dir / "client.ext").write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n")
        self._issue("server", "b", "/CN=127.0.0.1", "server.ext", "server.pem")

    def _issue(self, name, ca, subject, ext, out):
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=self.dir)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                 "-CAcreateserial", "-out", out, "-days", "3", "-extfile", ext, cwd=self.dir)

    def ca(self, name):
        return self.dir / f"{name}.pem"

    def client(self, name, ca):
        stem = f"client-{name}-{ca}"  # apart from the CAs' own a.key, b.key
        cert = self.dir / f"{stem}.cert"
        if not cert.exists():
            self._issue(stem, ca, f"/CN=client {name}", "client.ext", f"{stem}.cert")
        return cert, self.dir / f"{stem}.key"


@pytest.fixture(scope="session")
def certs_pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("certs-pki"))


MTLS_HTTP = """\
  log_format mtls '$server_port $status s="$ssl_client_s_dn" i="$ssl_client_i_dn" $request_uri';
  access_log {tmp}/access.log mtls;
  server {{
    listen 127.0.0.1:{asks_b} ssl;
    ssl_certificate {pki}/server.pem;
    ssl_certificate_key {pki}/server.key;
    ssl_client_certificate {pki}/b.pem;
    ssl_trusted_certificate {pki}/a.pem;
    ssl_verify_client on;
    location / {{
      proxy_pass http://127.0.0.1:{upstream};
      proxy_set_header Host $http_host;
    }}
  }}
  server {{
    listen 127.0.0.1:{names_none} ssl;
    ssl_certificate {pki}/server.pem;
    ssl_certificate_key {pki}/server.key;
    ssl_verify_client optional_no_ca;
    location / {{
      proxy_pass http://127.0.0.1:{upstream};
      proxy_set_header Host $http_host;
    }}
  }}
"""

LOG_LINE = re.compile(r'^(\d+) (\d{3}) s="([^"]*)" i="([^"]*)" ')


class MtlsFronts:
    def __init__(self, folder, pki, upstream):
        self.tmp = Path(folder)
        self.pki = pki
        self.upstream = upstream
        self.proc = None

    def start(self):
        def render(asks_b, names_none):
            return MTLS_HTTP.format(tmp=self.tmp, pki=self.pki.dir, upstream=self.upstream.port, asks_b=asks_b,
                                    names_none=names_none)

        self.proc, (asks_b, names_none) = start_nginx(self.tmp, 2, render, what="nginx (client certificates)")
        self.asks_b, self.names_none = f"127.0.0.1:{asks_b}", f"127.0.0.1:{names_none}"
        return self

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def presented(self, host):
        port = host.rsplit(":", 1)[1]
        log = self.tmp / "access.log"
        out = []
        for line in (log.read_text(errors="replace").splitlines() if log.exists() else []):
            m = LOG_LINE.match(line)
            if m and m.group(1) == port:
                subject, issuer = (v if v != "-" else "" for v in (m.group(3), m.group(4)))
                out.append((int(m.group(2)), subject, issuer))
        return out


@pytest.fixture(scope="session")
def mtls_fronts(tmp_path_factory, certs_pki, registry_plain):
    yield from running(start_or_fail(MtlsFronts(tmp_path_factory.mktemp("mtls-fronts"), certs_pki, registry_plain)))
