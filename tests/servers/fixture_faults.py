"""A misbehaving HTTP/1.1 server (Python stdlib, raw sockets), for what no real server does on purpose.

The session fixture `faults` serves byte strings registered with `faults.serve(name, data)` at
`faults.url(behaviour, name)`:

    ok/<name>                 200 with Content-Length, the whole body
    close-after/<N>/<name>    Content-Length of the whole body, N bytes, then the connection closes
    short/<name>              Content-Length 1000 more than the body, the body, then close
    long/<name>               Content-Length of the body, the body and 1000 bytes more, then close
    stall/<N>/<name>          N bytes, then nothing until the client goes away
    chunked/<name>            Transfer-Encoding: chunked, the whole body in 64 KiB chunks
    chunked-cut/<N>/<name>    chunked, cut (connection closed) after N body bytes
    corrupt/<name>            Content-Length of the body, one byte in the middle flipped
    empty-reply/<x>           the connection closes without a response
    no-answer/<x>             the request is read and never answered

`faults.requests` records (request line, headers dict) of every request.
"""
import select
import socket
import socketserver
import threading

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
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        self.server.owner.requests.append((head[0], headers))
        parts = head[0].split(" ")
        path = parts[1] if len(parts) > 1 else "/"
        try:
            self.server.owner.respond(sock, path.split("?", 1)[0].lstrip("/").split("/"))
        except OSError:
            pass

    @staticmethod
    def wait_gone(sock, limit=120):
        """Block until the client closes its end (or limit seconds)."""
        sock.setblocking(False)
        end = limit
        while end > 0:
            r, _, _ = select.select([sock], [], [], 0.5)
            end -= 0.5
            if r:
                try:
                    if not sock.recv(65536):
                        return
                except BlockingIOError:
                    continue
                except OSError:
                    return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class FaultServer:
    def __init__(self):
        self.files = {}
        self.requests = []
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.owner = self
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, name, data):
        self.files[name] = bytes(data)

    def url(self, behaviour, name):
        return f"{self.base_url}/{behaviour}/{name}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def _head(sock, length=None, chunked=False):
        h = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n"
        if chunked:
            h += "Transfer-Encoding: chunked\r\n"
        elif length is not None:
            h += f"Content-Length: {length}\r\n"
        sock.sendall((h + "\r\n").encode())

    def respond(self, sock, parts):
        behaviour = parts[0]
        if behaviour == "empty-reply":
            return
        if behaviour == "no-answer":
            _Handler.wait_gone(sock)
            return
        name = parts[-1]
        body = self.files.get(name)
        if body is None:
            sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        if behaviour == "ok":
            self._head(sock, len(body))
            sock.sendall(body)
        elif behaviour == "close-after":
            self._head(sock, len(body))
            sock.sendall(body[: int(parts[1])])
        elif behaviour == "short":
            self._head(sock, len(body) + 1000)
            sock.sendall(body)
        elif behaviour == "long":
            self._head(sock, len(body))
            sock.sendall(body + b"X" * 1000)  # one write: the excess arrives with the last body bytes
        elif behaviour == "stall":
            self._head(sock, len(body))
            sock.sendall(body[: int(parts[1])])
            _Handler.wait_gone(sock)
        elif behaviour in ("chunked", "chunked-cut"):
            self._head(sock, chunked=True)
            limit = int(parts[1]) if behaviour == "chunked-cut" else len(body)
            sent = 0
            for off in range(0, len(body), 65536):
                chunk = body[off:off + 65536]
                if sent + len(chunk) > limit:
                    sock.sendall(b"%x\r\n" % len(chunk) + chunk[: limit - sent])
                    return
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        elif behaviour == "corrupt":
            bad = bytearray(body)
            bad[len(bad) // 2] ^= 0x55
            self._head(sock, len(bad))
            sock.sendall(bytes(bad))
        else:
            sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


@pytest.fixture(scope="session")
def faults():
    server = FaultServer()
    yield server
    server.stop()
