"""A registry that misbehaves on purpose (Python stdlib), for what Debian's docker-registry
never does: auth loops and oversized token answers.

The session fixture `hostile_registry` (plain http on a free loopback port; pull with
--tls-verify=false) has .host ("127.0.0.1:PORT"), .ref(repo) ("docker://HOST/REPO:1") and
.count(path_prefix) (requests seen so far). Repositories:

    loop401/disk     every /v2/ request answers 401 with a Bearer challenge whose realm (ours)
                     hands out a token, which is then refused again: a client must give up
    basicloop/disk   401 with a Basic challenge, whatever credentials come
    bigtoken/disk    401 with a Bearer challenge whose realm answers a 10 MiB token document
    rawmessage/disk  404 whose error JSON message holds ESC, a newline, a C1 control (U+009B) and a
                     byte that is not UTF-8: none of it may reach a terminal or a --json consumer raw
and one plain file, /files/disposition.raw (RAW_DISK), whose Content-Disposition names it with
ESC, a newline and U+009B (HOSTILE_DISPOSITION).
"""
import http.server
import json

import pytest

from servers.common import LoopbackServer, running

TOKEN_BODY_SIZE = 10 << 20
HOSTILE_MESSAGE = 'gone\x1b[31m\nvmpull: forged line\u009b2J end'
RAW_DISK = b"raw disk bytes\n" * 100
HOSTILE_DISPOSITION = "attachment; filename*=UTF-8''evil%1b%5b31m%0a%c2%9bname.raw"


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client hanging up mid-answer (the 10 MiB token) is the point, not a server failure


class HostileRegistry(LoopbackServer):
    def __init__(self):
        self.paths = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def challenge(self, repo, realm_path):
                realm = f"http://{owner.host}{realm_path}"
                value = f'Bearer realm="{realm}",service="hostile",scope="repository:{repo}:pull"'
                body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
                self.answer(401, body.encode(), [("WWW-Authenticate", value), ("Content-Type", "application/json")])

            def do_GET(self):
                owner.paths.append(self.path)
                p = self.path
                if p in ("/v2/", "/v2"):
                    self.answer(200, b"{}", [("Content-Type", "application/json")])
                elif p.startswith("/v2/loop401/"):
                    self.challenge("loop401/disk", "/token")
                elif p.startswith("/v2/bigtoken/"):
                    self.challenge("bigtoken/disk", "/bigtoken")
                elif p.startswith("/v2/basicloop/"):
                    self.answer(401, b"{}", [("WWW-Authenticate", 'Basic realm="hostile"')])
                elif p.startswith("/token"):
                    self.answer(200, json.dumps({"token": "refused-anyway", "expires_in": 300}).encode(),
                                [("Content-Type", "application/json")])
                elif p.startswith("/v2/rawmessage/"):
                    body = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": HOSTILE_MESSAGE}]})
                    # json.dumps writes \u001b and \n; a byte that is not UTF-8 goes in raw.
                    body = body.encode().replace(b" end", b" \xff end")
                    self.answer(404, body, [("Content-Type", "application/json")])
                elif p == "/files/disposition.raw":
                    self.answer(200, RAW_DISK, [("Content-Disposition", HOSTILE_DISPOSITION)])
                elif p.startswith("/bigtoken"):
                    pad = TOKEN_BODY_SIZE - len('{"token":""}')
                    self.answer(200, b'{"token":"' + b"t" * pad + b'"}', [("Content-Type", "application/json")])
                else:
                    self.answer(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"no such thing"}]}')

            do_HEAD = do_GET

        super().__init__(Handler, _Server)
        self.host = f"127.0.0.1:{self.port}"

    def ref(self, repo):
        return f"docker://{self.host}/{repo}:1"

    def url(self, path):
        return f"http://{self.host}/{path}"

    def count(self, prefix):
        return sum(1 for p in self.paths if p.startswith(prefix))


@pytest.fixture(scope="session")
def hostile_registry():
    yield from running(HostileRegistry())
