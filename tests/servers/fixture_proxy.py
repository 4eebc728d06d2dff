"""A tiny CONNECT-less forward HTTP proxy (Python stdlib) on a free loopback port.

The session fixture `forward_proxy` relays absolute-form requests ("GET http://host:port/path")
to the origin, over a fresh connection, and records each request line in `.requests`. Host names
in `.aliases` are sent to another address, so a test can use a URL whose host does not resolve
(which only works when the request really goes through the proxy). CONNECT is refused (405).
"""
import socket
import socketserver
import threading
from urllib.parse import urlsplit

import pytest


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = (lines[0].split(" ") + ["", "", ""])[:3]
        owner = self.server.owner
        owner.requests.append(lines[0])
        if method == "CONNECT" or not target.startswith("http://"):
            sock.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        url = urlsplit(target)
        host, port = owner.aliases.get(url.hostname, (url.hostname, url.port or 80))
        path = url.path or "/"
        if url.query:
            path += "?" + url.query
        out = [f"{method} {path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"]
        for line in lines[1:]:
            name = line.split(":", 1)[0].strip().lower()
            if name not in ("host", "connection", "proxy-connection", "proxy-authorization"):
                out.append(line)
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


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ForwardProxy:
    def __init__(self):
        self.requests = []
        self.aliases = {}
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.owner = self
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def forward_proxy():
    proxy = ForwardProxy()
    yield proxy
    proxy.stop()
