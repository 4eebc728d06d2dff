"""A FIFO where a layout has a file (index.json, oci-layout, a manifest or layer blob), or given as
an oci-archive://: refused at once with an error that names it, by pull, inspect and save. A
blocking open of a FIFO waits for a writer that never comes. And Ctrl-C during a layout pull
still stops it with status 130."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import VMPULL, check_sanitizer_report, leftovers, open_files, run_vmpull
from servers.oci_layout import Layout

# A hang shows as subprocess.TimeoutExpired; a refusal takes milliseconds.
QUICK = 20


@pytest.fixture
def layout(tmp_path):
    lay = Layout(tmp_path / "lay")
    raw = os.urandom(64 << 10) + bytes(64 << 10)
    blob = subprocess.run(["zstd", "-q", "-c", "-1"], input=raw, capture_output=True, check=True).stdout
    entry = lay.disk_artifact(blob, "disk.x86_64.qemu.raw.zst")
    lay.write_index([(entry, "x")])
    manifest = lay.blob_path(entry)
    layer = lay.blob_path(json.loads(manifest.read_bytes())["layers"][0])
    return {"path": lay.path, "manifest": manifest, "layer": layer, "raw": raw}


def fifo_at(path):
    path.unlink()
    os.mkfifo(path)


def assert_refused(res, path, code="io"):
    assert res.rc == 1, res
    err = res.json["error"]
    assert err["code"] == code, res
    assert f"{path} is not a regular file" in err["message"], err["message"]


def pull(tmp_path, source):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    res = run_vmpull("pull", "-q", "--json", "--no-cache", "-o", out / "disk.raw", source, timeout=QUICK)
    assert leftovers(out) == []
    return res


def inspect(source):
    return run_vmpull("inspect", "--json", source, timeout=QUICK)


@pytest.mark.parametrize("which", ["index.json", "oci-layout"])
def test_fifo_as_a_layout_file(tmp_path, layout, which):
    fifo = layout["path"] / which
    fifo_at(fifo)
    source = f"oci-dir://{layout['path']}:x"
    assert_refused(pull(tmp_path, source), fifo)
    assert_refused(inspect(source), fifo)


@pytest.mark.parametrize("which", ["manifest", "layer"])
def test_fifo_as_a_blob(tmp_path, layout, which):
    fifo = layout[which]
    fifo_at(fifo)
    source = f"oci-dir://{layout['path']}:x"
    assert_refused(pull(tmp_path, source), fifo)
    if which == "manifest":  # inspect reads documents only
        assert_refused(inspect(source), fifo)
    dest = tmp_path / "saved"
    assert_refused(run_vmpull("save", "-q", "--json", source, f"oci-dir://{dest}:y", timeout=QUICK), fifo)


@pytest.mark.parametrize("which", ["index.json", "oci-layout"])
def test_fifo_in_the_layout_save_writes_into(tmp_path, layout, which):
    dest = tmp_path / "dest"
    assert run_vmpull("save", "-q", f"oci-dir://{layout['path']}:x", f"oci-dir://{dest}:first").rc == 0
    fifo_at(dest / which)
    res = run_vmpull("save", "-q", "--json", f"oci-dir://{layout['path']}:x", f"oci-dir://{dest}:second",
                     timeout=QUICK)
    assert_refused(res, dest / which)


def test_fifo_as_an_archive(tmp_path):
    fifo = tmp_path / "image.tar"
    os.mkfifo(fifo)
    res = pull(tmp_path, f"oci-archive://{fifo}")
    assert res.rc == 2, res
    assert res.json["error"]["message"].endswith(f"{fifo} is not a file (oci-archive:// takes a tar file)")
    assert inspect(f"oci-archive://{fifo}").rc == 2


# --- Ctrl-C ---------------------------------------------------------------------------------------


def has_open(pid, path):
    """Has process pid the file at path open?"""
    return str(path) in open_files(pid)


def test_sigint_during_a_layout_pull_exits_130(tmp_path):
    """SIGINT arrives while the layer is being decoded (vmpull is stopped with the layer open,
    signalled, and continued, so the signal lands mid-pull whatever the machine's speed)."""
    frame = subprocess.run(["zstd", "-q", "-c", "-1"], input=bytes(256 << 20), capture_output=True,
                           check=True).stdout
    lay = Layout(tmp_path / "lay")
    entry = lay.disk_artifact(frame * 32, "big.x86_64.qemu.raw.zst")  # 8 GiB of zeros, in frames
    lay.write_index([(entry, "x")])
    layer = lay.blob_path(json.loads(lay.blob_path(entry).read_bytes())["layers"][0])
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([VMPULL, "pull", "-q", "--no-cache", "-o", out / "disk.raw", f"oci-dir://{lay.path}:x"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not has_open(proc.pid, layer) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGSTOP)
        assert has_open(proc.pid, layer), proc.communicate()
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGCONT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    check_sanitizer_report(err)
    assert proc.returncode == 130, err
    assert err == f"vmpull: pull oci-dir://{lay.path}:x: cancelled\n"
    assert leftovers(out) == []
