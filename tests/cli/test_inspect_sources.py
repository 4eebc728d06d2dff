"""`vmpull inspect` of the sources that hold no OCI image (a file, an http(s) URL, fcos://): what pull
would do, from the first bytes only. Over http that is one `Range: bytes=0-4095` request (nginx's
access log shows a 206 of 4096 bytes); a server that ignores the range has its body cut off after
the first bytes. Nothing is written and nothing cached."""
import hashlib
import json
import os
import re

from conftest import isolated_env, leftovers, run_vmpull

XZ_MAGIC = b"\xfd7zXZ\x00"


def inspect(tmp_path, *args):
    return run_vmpull("inspect", "--data-dir", tmp_path / "vms", *args, env=isolated_env(tmp_path))


def big_image(size):
    """What pull would detect as xz: the magic, then bytes nobody reads (inspect never decodes)."""
    return XZ_MAGIC + os.urandom(size - len(XZ_MAGIC))


def assert_nothing_written(tmp_path):
    assert not (tmp_path / "vms").exists()
    assert leftovers(tmp_path / "cache") == [] if (tmp_path / "cache").exists() else True


def test_inspect_a_local_file(tmp_path):
    img = tmp_path / "fedora.x86_64.qcow2.xz"
    data = big_image(1 << 20)
    img.write_bytes(data)
    res = inspect(tmp_path, img)
    assert res.rc == 0, res
    doc = json.loads(res.stdout)
    assert doc == {"source": str(img), "url": None, "reference": None, "file_name": img.name, "format": "xz",
                   "size": len(data), "digest": None,
                   "output_path": str(tmp_path / "vms" / "podman-machine-default_fedora.x86_64.qcow2")}
    assert_nothing_written(tmp_path)
    # what pull checks the bytes against, when it is known before reading them
    want = "sha256:" + hashlib.sha256(data).hexdigest()
    doc = json.loads(inspect(tmp_path, "--digest", want, "-o", tmp_path / "x.qcow2", img).stdout)
    assert doc["digest"] == want and doc["output_path"] == str(tmp_path / "x.qcow2")
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{want[7:]}  {img.name}\n")
    assert json.loads(inspect(tmp_path, "--checksums", sums, img).stdout)["digest"] == want
    # an uncompressed disk keeps its name
    raw = tmp_path / "disk.raw"
    raw.write_bytes(bytes(8192))
    doc = json.loads(inspect(tmp_path, raw).stdout)
    assert doc["format"] == "none" and doc["output_path"].endswith("podman-machine-default_disk.raw")


def test_inspect_failures(tmp_path):
    res = inspect(tmp_path, "--json", tmp_path / "missing.raw.xz")
    assert res.rc == 1 and res.json["error"]["code"] == "not_found", res
    (tmp_path / "d.raw").write_bytes(b"x" * 100)
    res = inspect(tmp_path, "--json", "--all", tmp_path / "d.raw")
    assert res.rc == 2 and res.json["error"]["code"] == "usage", res
    assert "--all needs an OCI source" in res.json["error"]["message"]


def access_lines(nginx, path):
    return [line for line in nginx.access_log().splitlines() if f"GET /{path} " in line]


def test_inspect_http_asks_for_the_first_bytes(tmp_path, nginx):
    data = big_image(16 << 20)
    (nginx.root / "images").mkdir(exist_ok=True)
    (nginx.root / "images" / "inspected.raw.xz").write_bytes(data)
    url = nginx.url("images/inspected.raw.xz")
    res = inspect(tmp_path, url)
    assert res.rc == 0, res
    doc = json.loads(res.stdout)
    assert doc == {"source": url, "url": url, "reference": None, "file_name": "inspected.raw.xz", "format": "xz",
                   "size": len(data), "digest": None,
                   "output_path": str(tmp_path / "vms" / "podman-machine-default_inspected.raw")}
    (line,) = access_lines(nginx, "images/inspected.raw.xz")
    status, sent = re.search(r'" (\d{3}) (\d+) ', line).groups()
    assert (status, sent) == ("206", "4096"), line  # the Range request, and 4096 bytes of 16 MiB
    assert_nothing_written(tmp_path)
    # a URL that is not there is what pull would say of it
    res = inspect(tmp_path, "--json", nginx.url("images/not-there.raw.xz"))
    assert res.rc == 1 and res.json["error"]["code"] == "not_found", res


def test_inspect_http_when_the_server_ignores_the_range(tmp_path, flaky):
    data = big_image(32 << 20)
    flaky.serve("whole-body.raw.xz", data)
    flaky.script("whole-body.raw.xz", ["ignore-range"])
    res = inspect(tmp_path, flaky.url("whole-body.raw.xz"))
    assert res.rc == 0, res
    doc = json.loads(res.stdout)
    assert doc["format"] == "xz" and doc["size"] == len(data), doc
    (req,) = flaky.requests("whole-body.raw.xz")
    assert req["headers"].get("range") == "bytes=0-4095" and req["status"] == 200, req
    # the body was dropped after the first bytes: far less than the image went out
    assert flaky.sent("whole-body.raw.xz") < len(data) // 4, flaky.sent("whole-body.raw.xz")


def test_inspect_fcos(tmp_path, flaky):
    blob = big_image(32 << 20)
    name = "inspect-fcos-qemu.x86_64.qcow2.xz"
    flaky.serve(name, blob)
    sha = hashlib.sha256(blob).hexdigest()
    doc = {"stream": "stable", "architectures": {"x86_64": {"artifacts": {"qemu": {"release": "40.1", "formats": {
        "qcow2.xz": {"disk": {"location": flaky.url(name), "sha256": sha}}}}}}}}
    flaky.serve("inspect-fcos-stable.json", json.dumps(doc).encode())
    res = inspect(tmp_path, "--arch", "x86_64", "--stream-url", flaky.url("inspect-fcos-stable.json"), "fcos://stable")
    assert res.rc == 0, res
    got = json.loads(res.stdout)
    assert got["url"] == flaky.url(name)
    assert got["digest"] == "sha256:" + sha and got["size"] == len(blob)
    assert got["file_name"] == name and got["format"] == "xz"
    assert got["output_path"] == str(tmp_path / "vms" / "podman-machine-default_inspect-fcos-qemu.x86_64.qcow2")
    assert "40.1" in got["reference"]
    (req,) = flaky.requests(name)
    assert req["headers"].get("range") == "bytes=0-4095", req
    assert flaky.sent(name) < len(blob) // 4
    assert_nothing_written(tmp_path)


def test_inspect_offline_never_asks_a_server(tmp_path, nginx):
    """--offline promises no network: an http(s) or fcos:// inspect, which must ask the server for the
    first bytes (or the stream metadata), is refused before any request."""
    (nginx.root / "images").mkdir(exist_ok=True)
    (nginx.root / "images" / "offline.raw.xz").write_bytes(big_image(1 << 20))
    for source in (nginx.url("images/offline.raw.xz"), "fcos://stable"):
        res = inspect(tmp_path, "--offline", "--json", source)
        assert res.rc == 2 and res.json["error"]["code"] == "usage", res
        assert "--offline" in res.json["error"]["message"], res
    assert access_lines(nginx, "images/offline.raw.xz") == []
    assert_nothing_written(tmp_path)
