"""What the server fixtures share: free loopback ports, a test CA, starting a real server
(nginx, docker-registry) until it listens and stopping it, and the base of our own stdlib servers.

Not a fixture file (conftest.py loads only fixture_*.py): the fixtures import from it.
"""
import os
import select
import shutil
import socket
import socketserver
import subprocess
import threading
import time
from pathlib import Path

import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_user_line():
    """As root, nginx would switch its workers to nobody, who cannot read a private tmp dir."""
    if os.geteuid() != 0:
        return ""
    import grp
    import pwd
    return f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_test_ca(folder):
    """A CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI."""
    folder = Path(folder)
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "ca.key", "-out", "ca.pem", "-days", "3", "-subj", "/CN=vmpull test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=folder)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=folder)
    (folder / "server.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.pem", "-days", "3", "-extfile", "server.ext", cwd=folder)
    return folder / "ca.pem"


def find_program(name, fallback, package):
    """The path of an installed server program; RuntimeError naming the package when it is missing."""
    exe = shutil.which(name) or fallback
    if not os.access(exe, os.X_OK):
        raise RuntimeError(f"{name} is not installed (scripts/install-deps test installs {package})")
    return exe


def wait_listening(proc, ports, timeout):
    """True once every port on 127.0.0.1 takes connections; False when proc exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            for port in ports:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def stop_process(proc):
    """Terminate proc if it still runs; kill it when it has not gone within 10 s."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_listening(launch, nports, timeout, attempts=5):
    """launch(*ports) -> Popen on nports free ports, until the server listens on all of them:
    a port picked here can be taken before the server binds it. (proc, ports), or (None, None)."""
    for _ in range(attempts):
        ports = [free_port() for _ in range(nports)]
        proc = launch(*ports)
        if wait_listening(proc, ports, timeout):
            return proc, ports
        stop_process(proc)
    return None, None


# nginx.conf around a test server's http block: in the foreground, pid, logs and temporaries in tmp.
NGINX_CONF = """
daemon off;
master_process on;
{user_line}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
{http}}}
"""


def start_nginx(tmp, nports, render_http, output=subprocess.DEVNULL, what="nginx", worker_connections=64):
    """nginx on nports free loopback ports, its http block render_http(*ports), config, prefix and
    error log in tmp. (proc, ports); RuntimeError naming what, with error.log, when it does not start."""
    tmp = Path(tmp)
    exe = find_program("nginx", "/usr/sbin/nginx", "nginx-light")
    conf = tmp / "nginx.conf"

    def launch(*ports):
        conf.write_text(NGINX_CONF.format(user_line=nginx_user_line(), tmp=tmp, worker_connections=worker_connections,
                                          http=render_http(*ports)))
        return subprocess.Popen([exe, "-c", str(conf), "-p", str(tmp), "-e", str(tmp / "error.log")],
                                stdin=subprocess.DEVNULL, stdout=output, stderr=output)

    proc, ports = start_listening(launch, nports, timeout=15)
    if proc is None:
        raise RuntimeError(f"{what} did not start: " + (tmp / "error.log").read_text(errors="replace")[-2000:])
    return proc, ports


def start_or_fail(server):
    """server.start() for a fixture: the test fails with the reason when the server does not start."""
    try:
        server.start()
    except RuntimeError as e:
        pytest.fail(str(e))
    return server


def running(server):
    """A fixture's body (`yield from running(server)`): the server for the fixture's scope, then stopped."""
    yield server
    server.stop()


# --- our own servers (Python stdlib), for what no real server does on purpose ---

class _ThreadingTCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class _RequestHandler(socketserver.BaseRequestHandler):
    def handle(self):
        head = read_request_head(self.request)
        if head is None:
            return
        try:
            self.server.owner.on_request(self.request, *head)
        except OSError:
            pass  # the client went away mid-answer


class LoopbackServer:
    """A socketserver on a free loopback port, serving from a daemon thread until stop(). The
    server's .owner is this object, so a handler reaches the fixture's state. Without a handler
    of its own, a subclass answers raw HTTP in on_request(sock, request line, headers (lower-case
    names), raw header lines, bytes after the head)."""

    def __init__(self, handler=_RequestHandler, server_class=_ThreadingTCPServer, tls=None):
        self.server = server_class(("127.0.0.1", 0), handler)
        self.server.owner = self
        if tls:  # an ssl.SSLContext: https
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def read_request_head(sock):
    """Read an HTTP request up to the end of its head: (request line, headers with lower-case
    names, the raw header lines, the bytes after the head), or None when the client hung up first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, lines[1:], rest


def request_path(request_line):
    """The target of "GET /a/b?q HTTP/1.1" ("/" when there is none)."""
    parts = request_line.split(" ")
    return parts[1] if len(parts) > 1 else "/"


def wait_gone(sock, limit=120):
    """Block until the client closes its end of sock (or limit seconds pass)."""
    sock.setblocking(False)
    end = time.monotonic() + limit
    while time.monotonic() < end:
        r, _, _ = select.select([sock], [], [], 0.2)
        if r:
            try:
                if not sock.recv(65536):
                    return
            except BlockingIOError:
                continue
            except OSError:
                return


def finish_response(sock):
    """Half-close: the client sees the end of the response (Connection: close)."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
