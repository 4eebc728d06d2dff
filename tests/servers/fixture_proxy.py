"""A tiny CONNECT-less forward HTTP proxy (Python stdlib) on a free loopback port.

The session fixture `forward_proxy` relays absolute-form requests ("GET http://host:port/path")
to the origin, over a fresh connection, and records each request line in `.requests`. Host names
in `.aliases` are sent to another address, so a test can use a URL whose host does not resolve
(which only works when the request really goes through the proxy). CONNECT is refused (405).
"""
import socket
from urllib.parse import urlsplit

import pytest

from servers.common import LoopbackServer, running


class ForwardProxy(LoopbackServer):
    def __init__(self):
        self.requests = []
        self.aliases = {}
        super().__init__()
        self.url = self.base_url

    def on_request(self, sock, line, _headers, header_lines, rest):
        method, target, version = (line.split(" ") + ["", "", ""])[:3]
        self.requests.append(line)
        if method == "CONNECT" or not target.startswith("http://"):
            sock.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        url = urlsplit(target)
        host, port = self.aliases.get(url.hostname, (url.hostname, url.port or 80))
        path = url.path or "/"
        if url.query:
            path += "?" + url.query
        out = [f"{method} {path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"]
        for h in header_lines:
            name = h.split(":", 1)[0].strip().lower()
            if name not in ("host", "connection", "proxy-connection", "proxy-authorization"):
                out.append(h)
        try:
            upstream = socket.create_connection((host, port), timeout=30)
        except OSError:
            sock.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        with upstream:
            upstream.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + rest)
            while True:
                chunk = upstream.recv(262144)
                if not chunk:
                    break
                sock.sendall(chunk)


@pytest.fixture(scope="session")
def forward_proxy():
    yield from running(ForwardProxy())
