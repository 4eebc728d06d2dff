"""A FIFO or a pipe that goes quiet: Ctrl-C still stops the pull at once, leaving nothing behind."""
import gzip
import os
import random
import signal
import subprocess
import threading
import time

import pytest

from conftest import VMPULL, check_sanitizer_report, leftovers


@pytest.fixture(scope="module")
def image():
    raw = random.Random(3).randbytes(64 << 10) + bytes(64 << 10)
    return raw, gzip.compress(raw, compresslevel=1)


def start(source, out, **kw):
    return subprocess.Popen([VMPULL, "pull", "-q", "--no-cache", "-o", str(out), str(source)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def interrupt(proc, wait_first=0.7):
    """SIGINT once the pull is waiting; the exit status, stderr, and how long the exit took."""
    time.sleep(wait_first)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    try:
        _, err = proc.communicate(timeout=2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("vmpull did not stop within 2 s of SIGINT")
    check_sanitizer_report(err)
    return proc.returncode, err, time.monotonic() - t0


def test_sigint_while_a_fifo_is_quiet(tmp_path, image):
    fifo = tmp_path / "disk.raw.gz"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    out.mkdir()
    proc = start(fifo, out / "disk.raw")
    # A writer that sends the first bytes and then holds the FIFO open without a word more.
    writer = os.open(fifo, os.O_WRONLY)
    try:
        os.write(writer, image[1][:100])
        rc, err, took = interrupt(proc)
    finally:
        os.close(writer)
    assert rc == 130, err
    assert err == "vmpull: pull %s: cancelled\n" % fifo
    assert leftovers(out) == []


def test_sigint_while_a_fifo_has_no_writer_yet(tmp_path):
    fifo = tmp_path / "disk.raw.gz"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    out.mkdir()
    rc, err, _ = interrupt(start(fifo, out / "disk.raw"))
    assert rc == 130, err
    assert "cancelled" in err
    assert leftovers(out) == []


def test_sigint_while_stdin_is_a_quiet_pipe(tmp_path, image):
    out = tmp_path / "out"
    out.mkdir()
    r, w = os.pipe()
    try:
        proc = start("/dev/stdin", out / "disk.raw", stdin=r)
        os.write(w, image[1][:100])
        rc, err, _ = interrupt(proc)
    finally:
        os.close(r)
        os.close(w)
    assert rc == 130, err
    assert leftovers(out) == []


def test_a_fifo_that_delivers_is_pulled_whole(tmp_path, image):
    """Waiting in poll() must not lose bytes: a slow writer with pauses still gives the whole disk."""
    fifo = tmp_path / "disk.raw.gz"
    os.mkfifo(fifo)
    out = tmp_path / "disk.raw"

    def feed():
        with open(fifo, "wb") as f:
            data = image[1]
            for i in range(0, len(data), 16384):
                f.write(data[i:i + 16384])
                f.flush()
                time.sleep(0.02)

    t = threading.Thread(target=feed)
    t.start()
    proc = start(fifo, out)
    _, err = proc.communicate(timeout=60)
    t.join()
    assert proc.returncode == 0, err
    assert out.read_bytes() == image[0]
