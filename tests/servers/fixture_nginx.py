"""nginx (Debian's nginx-light) on free loopback ports, http and https, for the HTTP tests.

The session fixture `nginx` starts one server for the whole run:

    nginx.root                a folder served as / (drop files in it; images/ holds the test images)
    nginx.http_url / .https_url   "http://127.0.0.1:PORT" (no trailing slash)
    nginx.ca                  the test CA (PEM) that signed the https certificate (for --ca-cert)
    nginx.url(path, https=False)
    nginx.rate_url(rate, path)    the same file, sent at most `rate` per second ("50m", "200k")
    nginx.access_log()        the access log text (user agents, paths)
    nginx.range_log()         each request's (uri, Range header, status, body bytes sent, connection)

Fixed locations (both schemes): /redirect/<p> -> /<p>; /loop/<x> redirects to itself forever;
/to-ftp/<x>, /to-file/<x> redirect to ftp:// and file:// URLs; /to-http/<p> redirects to the
plain-http port; /to-localhost/<p> redirects to http://localhost:PORT/<p> (another host name); /status500/<x> answers 500; /disposition/<p> serves /<p> with
Content-Disposition "served-name.raw.xz"; /private/<p> needs basic auth (NGINX_USER:NGINX_PASSWORD);
/latest/ serves images/disk.raw.xz under a URL with no file name; /rate/<rate>/<p> serves /<p>
rate-limited (nginx limit_rate).

Nginx can also be used outside pytest (bench/): `with Nginx(folder) as n: ...`.
"""
import subprocess
from pathlib import Path

import pytest

from servers.common import make_test_ca, running, start_nginx, start_or_fail, stop_process

NGINX_USER = "puller"
NGINX_PASSWORD = "s3cr3t-pa55"

HTTP_BLOCK = """\
  access_log {tmp}/access.log;
  log_format ranges '$request_uri "$http_range" $status $body_bytes_sent $connection';
  access_log {tmp}/ranges.log ranges;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 10;
  server {{
    listen 127.0.0.1:{http_port};
    listen 127.0.0.1:{https_port} ssl;
    ssl_certificate {tmp}/server.pem;
    ssl_certificate_key {tmp}/server.key;
    root {root};
    location / {{ }}
    location ~ ^/redirect/(?<rest>.*)$ {{ return 302 /$rest$is_args$args; }}
    location /loop/ {{ return 302 /loop/again; }}
    location /to-ftp/ {{ return 302 ftp://127.0.0.1/disk.raw.xz; }}
    location /to-file/ {{ return 302 file:///etc/passwd; }}
    location ~ ^/to-http/(?<rest>.*)$ {{ return 302 http://127.0.0.1:{http_port}/$rest; }}
    location ~ ^/to-localhost/(?<rest>.*)$ {{ return 302 http://localhost:{http_port}/$rest; }}
    location /status500/ {{ return 500; }}
    location /disposition/ {{
      alias {root}/;
      add_header Content-Disposition 'attachment; filename="served-name.raw.xz"';
    }}
    location /private/ {{
      alias {root}/;
      auth_basic "vmpull tests";
      auth_basic_user_file {tmp}/htpasswd;
    }}
    location = /latest/ {{ try_files /images/disk.raw.xz =404; }}
    location ~ ^/rate/(?<rate>[0-9]+[kmKM]?)/(?<rest>.*)$ {{
      alias {root}/$rest;
      limit_rate $rate;
      # Small sendfile chunks: without them nginx sends a whole second's worth at once and
      # then sleeps, and a "slow link" arrives in one-second bursts.
      sendfile_max_chunk 16k;
    }}
  }}
"""


class Nginx:
    def __init__(self, folder, root=None):
        self.tmp = Path(folder)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.root = Path(root) if root else self.tmp / "root"
        self.root.mkdir(parents=True, exist_ok=True)
        self.proc = None

    def start(self):
        self.ca = make_test_ca(self.tmp)
        hashed = subprocess.run(["openssl", "passwd", "-apr1", NGINX_PASSWORD], check=True, capture_output=True,
                                text=True).stdout.strip()
        (self.tmp / "htpasswd").write_text(f"{NGINX_USER}:{hashed}\n")
        self.stderr = open(self.tmp / "stderr.log", "wb")

        def render(http_port, https_port):
            return HTTP_BLOCK.format(tmp=self.tmp, root=self.root, http_port=http_port, https_port=https_port)

        self.proc, (self.http_port, self.https_port) = start_nginx(self.tmp, 2, render, output=self.stderr,
                                                                   worker_connections=256)
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        self.https_url = f"https://127.0.0.1:{self.https_port}"
        return self

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def url(self, path, https=False):
        return (self.https_url if https else self.http_url) + "/" + path.lstrip("/")

    def rate_url(self, rate, path, https=False):
        return self.url(f"rate/{rate}/{path.lstrip('/')}", https)

    def access_log(self):
        log = self.tmp / "access.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def range_log(self):
        """The requests as (uri, Range header or "", status, body bytes sent, connection number)."""
        log = self.tmp / "ranges.log"
        rows = []
        for line in (log.read_text(errors="replace") if log.exists() else "").splitlines():
            uri, rng, tail = line.split('"')
            status, sent, conn = tail.split()
            rows.append((uri.strip(), "" if rng == "-" else rng, int(status), int(sent), int(conn)))
        return rows

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture(scope="session")
def nginx(tmp_path_factory):
    yield from running(start_or_fail(Nginx(tmp_path_factory.mktemp("nginx"))))
