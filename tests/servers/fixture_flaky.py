"""An HTTP/1.1 server that does Range, If-Range and conditional requests right, and fails on
request in scripted ways: for the cache, resume and retry tests (Python stdlib, raw sockets).

The session fixture `flaky` serves byte strings registered with
`flaky.serve(name, data, etag=..., last_modified=..., rate=None)` at `flaky.url(name)`.
Each request for a name takes the next step of its script (`flaky.script(name, [...])`), or
"ok" when the script is used up:

    "ok"                  200 (or 206 for a satisfiable Range whose If-Range matches, 304 for a
                          matching If-None-Match / If-Modified-Since, 416 past the end)
    ("cut", N)            like "ok", but the connection closes (FIN) once the body reached
                          absolute offset N of the file: the client gets exactly those bytes
    ("reset", N)          the same, ending with a TCP reset (bytes in flight may be lost)
    ("status", S, hdrs)   status S with an empty body and extra headers (e.g. Retry-After)
    "ignore-range"        200 with the whole body whatever the request asked
    ("grown", N)          like "ok" for a file N bytes longer (N times "G" appended) under the same
                          ETag and Last-Modified: a server whose validators lie about a change
    "hang"                send nothing until the client goes away
    ("change", DATA, N)   the file changes on the server: from this request on it is DATA, under a
                          new ETag and Last-Modified; this response is like ("cut", N) of the new
                          file (N None: "ok"). One such step changes the file once mid-download;
                          one on every request makes a file that changes on every request

`ranges=True` adds `Accept-Ranges: bytes` (what makes vmpull split a large download). A Range may
be open (`bytes=A-`) or closed (`bytes=A-B`). `flaky.script_range(name, start, [...])` scripts
the requests whose Range starts at byte `start` (taken before the name's script), with the steps
above and:

    "bad-range"           206 for a range one byte later than asked (Content-Range and body agree)

`rate` (bytes/s) slows the body down (each response on its own: a per-connection cap). `flaky.log` holds one dict per request: path, headers
(lower-case names), status, sent (body bytes written), start and end (time.monotonic()). `flaky.bodies(name)` counts responses that
carried body bytes, `flaky.sent(name)` sums them.
"""
import email.utils
import hashlib
import socket
import threading
import time

import pytest

from servers.common import LoopbackServer, finish_response, request_path, running, wait_gone


class FlakyServer(LoopbackServer):
    def __init__(self):
        self.files = {}
        self.scripts = {}
        self.log = []
        self.lock = threading.Lock()
        super().__init__()

    def on_request(self, sock, line, headers, _lines, _rest):
        path = request_path(line)
        entry = {"path": path, "headers": headers, "status": None, "sent": 0, "start": time.monotonic(), "end": None}
        with self.lock:
            self.log.append(entry)
        try:
            self.respond(sock, path.split("?", 1)[0].lstrip("/"), headers, entry)
        finally:
            entry["end"] = time.monotonic()

    def serve(self, name, data, etag="auto", last_modified="auto", rate=None, ranges=False):
        data = bytes(data)
        if etag == "auto":
            etag = '"%s"' % hashlib.sha256(data).hexdigest()[:16]
        if last_modified == "auto":
            last_modified = email.utils.formatdate(1700000000 + len(data) % 100000, usegmt=True)
        with self.lock:
            self.files[name] = {"data": data, "etag": etag, "last_modified": last_modified, "rate": rate,
                                "ranges": ranges}
            self.scripts.pop(name, None)
            for key in [k for k in self.scripts if isinstance(k, tuple) and k[0] == name]:
                self.scripts.pop(key)

    def script_range(self, name, start, steps):
        with self.lock:
            self.scripts[(name, start)] = list(steps)

    def script(self, name, steps):
        with self.lock:
            self.scripts[name] = list(steps)

    def url(self, name):
        return f"{self.base_url}/{name}"

    def requests(self, name):
        with self.lock:
            return [e for e in self.log if e["path"].lstrip("/").split("?")[0] == name]

    def bodies(self, name):
        return sum(1 for e in self.requests(name) if e["sent"] > 0)

    def sent(self, name):
        return sum(e["sent"] for e in self.requests(name))

    def respond(self, sock, name, headers, entry):
        rng = headers.get("range", "")
        asked = None  # (first, last or None) of a Range header
        if rng.startswith("bytes=") and "-" in rng and "," not in rng:
            a, _, b = rng[6:].partition("-")
            if a.isdigit() and (b == "" or b.isdigit()):
                asked = (int(a), int(b) if b else None)
        with self.lock:
            f = self.files.get(name)
            steps = self.scripts.get((name, asked[0])) if asked else None
            if not steps:
                steps = self.scripts.get(name)
            step = steps.pop(0) if steps else "ok"
            if f is not None and isinstance(step, tuple) and step[0] == "change":
                data = bytes(step[1])
                f.update(data=data, etag='"%s"' % hashlib.sha256(data).hexdigest()[:16],
                         last_modified=email.utils.formatdate(1710000000 + len(self.log), usegmt=True))
                step = ("cut", step[2]) if step[2] is not None else "ok"
        if f is None:
            entry["status"] = 404
            sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        if step == "hang":
            wait_gone(sock)
            return
        if isinstance(step, tuple) and step[0] == "status":
            extra = step[2] if len(step) > 2 else {}
            entry["status"] = step[1]
            h = f"HTTP/1.1 {step[1]} Scripted\r\nContent-Length: 0\r\nConnection: close\r\n"
            h += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
            sock.sendall((h + "\r\n").encode())
            return
        data, etag, lm = f["data"], f["etag"], f["last_modified"]
        if isinstance(step, tuple) and step[0] == "grown":
            data += b"G" * step[1]
        validators = ""
        if etag:
            validators += f"ETag: {etag}\r\n"
        if lm:
            validators += f"Last-Modified: {lm}\r\n"
        inm, ims = headers.get("if-none-match"), headers.get("if-modified-since")
        if step != "ignore-range" and ((inm and etag and inm == etag) or (not inm and ims and lm and ims == lm)):
            entry["status"] = 304
            sock.sendall(("HTTP/1.1 304 Not Modified\r\nConnection: close\r\n" + validators + "\r\n").encode())
            return
        if f["ranges"]:
            validators += "Accept-Ranges: bytes\r\n"
        start = 0
        end = len(data)
        status = "200 OK"
        if asked and step != "ignore-range":
            want = asked[0]
            if_range = headers.get("if-range")
            if if_range is None or if_range in (etag, lm):
                if want >= len(data):
                    entry["status"] = 416
                    sock.sendall(("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\n"
                                  f"Content-Range: bytes */{len(data)}\r\nConnection: close\r\n\r\n").encode())
                    return
                start = want
                if asked[1] is not None:
                    end = min(asked[1] + 1, len(data))
                if step == "bad-range":
                    start, end = start + 1, min(end + 1, len(data))
                status = "206 Partial Content"
        entry["status"] = int(status[:3])
        h = f"HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n"
        h += f"Content-Length: {end - start}\r\n" + validators
        if status.startswith("206"):
            h += f"Content-Range: bytes {start}-{end - 1}/{len(data)}\r\n"
        sock.sendall((h + "\r\n").encode())
        if isinstance(step, tuple) and step[0] in ("cut", "reset"):
            end = max(start, min(end, step[1]))
        rate = f["rate"]
        off = start
        t0 = time.monotonic()
        while off < end:
            n = min(65536 if not rate else max(1, min(65536, rate // 20)), end - off)
            sock.sendall(data[off:off + n])
            off += n
            entry["sent"] += n
            if rate:
                ahead = (off - start) / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        if end < len(data) and step[0] == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.close()
            return
        finish_response(sock)


@pytest.fixture(scope="session")
def flaky():
    yield from running(FlakyServer())
