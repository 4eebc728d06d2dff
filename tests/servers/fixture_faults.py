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
import pytest

from servers.common import LoopbackServer, finish_response, request_path, running, wait_gone


class FaultServer(LoopbackServer):
    def __init__(self):
        self.files = {}
        self.requests = []
        super().__init__()

    def on_request(self, sock, line, headers, _lines, _rest):
        self.requests.append((line, headers))
        self.respond(sock, request_path(line).split("?", 1)[0].lstrip("/").split("/"))

    def serve(self, name, data):
        self.files[name] = bytes(data)

    def url(self, behaviour, name):
        return f"{self.base_url}/{behaviour}/{name}"

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
            wait_gone(sock)
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
            wait_gone(sock)
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
        finish_response(sock)


@pytest.fixture(scope="session")
def faults():
    yield from running(FaultServer())
