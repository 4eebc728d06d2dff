"""Registries for the save and mirror tests (tests/cli/test_save.py, test_mirrors.py): Debian's
docker-registry (fixture_registry.Registry) in the roles a site gives it, and nginx in front of one
for what a registry does not do on its own.

    new_registry(name, **kw)   (fixture, a factory) a started plain-http docker-registry of the
                               test's own, stopped at the end of the test; kw go to Registry
                               (extra_config="proxy:\\n  remoteurl: ..." makes a pull-through cache)
    access_log(reg)            the registry's access log lines (method, path, status), e.g. to
                               count the blob requests an origin answered
    Fronts(folder, upstream)   nginx with two servers: .failing ("HOST:PORT") answers 503 to
                               everything, as a broken mirror would; .slow proxies to upstream
                               (a registry) and sends blobs at `rate` bytes/s (limit_rate), so a
                               save can be interrupted halfway through one
"""
import re
import subprocess
from pathlib import Path

import pytest

from servers.common import start_nginx, start_or_fail, stop_process


ACCESS = re.compile(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[0-9.]+" (\d{3})')


def access_log(reg):
    """[(method, path, status)] from the registry's access log, oldest first."""
    log = Path(reg.tmp) / "registry.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return [(m.group(1), m.group(2), int(m.group(3))) for m in ACCESS.finditer(text)]


@pytest.fixture
def new_registry(tmp_path_factory):
    from servers.fixture_registry import Registry

    started = []

    def make(name, **kw):
        reg = start_or_fail(Registry(tmp_path_factory.mktemp(name), **kw))
        started.append(reg)
        return reg

    yield make
    for reg in started:
        reg.stop()


FRONTS_HTTP = """\
  access_log {tmp}/access.log;
  server {{
    listen 127.0.0.1:{failing};
    location / {{ return 503; }}
  }}
  server {{
    listen 127.0.0.1:{slow};
    location / {{
      proxy_pass http://127.0.0.1:{upstream};
      proxy_set_header Host $http_host;
      proxy_buffering off;
    }}
    location ~ /blobs/ {{
      proxy_pass http://127.0.0.1:{upstream};
      proxy_set_header Host $http_host;
      limit_rate {rate};
      sendfile_max_chunk 16k;
    }}
  }}
"""


class Fronts:
    def __init__(self, folder, upstream, rate=262144):
        self.tmp = Path(folder)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.upstream = upstream
        self.rate = rate
        self.proc = None

    def start(self):
        def render(failing, slow):
            return FRONTS_HTTP.format(tmp=self.tmp, failing=failing, slow=slow, upstream=self.upstream.port,
                                      rate=self.rate)

        self.proc, (failing, slow) = start_nginx(self.tmp, 2, render, what="nginx (registry fronts)")
        self.failing, self.slow = f"127.0.0.1:{failing}", f"127.0.0.1:{slow}"
        return self

    def stop(self):
        stop_process(self.proc)
        self.proc = None


def raw_disk(label, size=96 << 10):
    """Disk-like bytes unique to label: data, a hole's worth of zeros, data."""
    import hashlib

    head = hashlib.sha256(label.encode()).digest() * 256
    return head + bytes(size) + head[::-1]


def machine_image(path, label, arches=("x86_64", "aarch64"), disktypes=("qemu", "applehv")):
    """A machine-OS index in a new layout at path (ref name "src"): a container image entry (not a
    disk) and one disk per arch x disktype (qemu zstd, applehv xz). Returns {"layout", "index",
    "disks": {(arch, disktype): {"raw", "title", "manifest", "layer", "blob"}}}."""
    import json
    import lzma

    from servers.oci_layout import Layout, digest_of, make_tar

    lay = Layout(path)
    entries = [lay.tar_image(make_tar([("etc/os-release", b"ID=test\n")]), arch="amd64")]
    disks = {}
    for arch in arches:
        for dt in disktypes:
            raw = raw_disk(f"{label}-{arch}-{dt}")
            if dt == "qemu":
                blob = subprocess.run(["zstd", "-q", "-c", "-1"], input=raw, capture_output=True, check=True).stdout
                title = f"{label}.{arch}.{dt}.raw.zst"
            else:
                blob = lzma.compress(raw, preset=0)
                title = f"{label}.{arch}.{dt}.raw.xz"
            entry = lay.disk_artifact(blob, title, media_type="application/zstd" if dt == "qemu" else "application/x-xz",
                                      arch=arch, disktype=dt)
            layer = json.loads(lay.blob_path(entry).read_bytes())["layers"][0]["digest"]
            disks[(arch, dt)] = {"raw": raw, "title": title, "manifest": entry["digest"], "layer": layer,
                                 "blob": blob}
            assert digest_of(blob) == layer
            entries.append(entry)
    index = lay.index(entries)
    lay.write_index([(index, "src")])
    return {"layout": lay, "index": index["digest"], "disks": disks}
