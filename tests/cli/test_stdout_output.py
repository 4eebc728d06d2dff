"""`vmpull pull -o -` (issue 18): the decoded disk on stdout, in order, for pipelines such as
`vmpull pull URL -o - | ssh host 'cat > disk.raw'`. No path line; --json's object is the last line
of stderr; a terminal (or a block device) on stdout is refused; a failed final check is exit 1 and
an error, after the reader already had the bytes."""
import hashlib
import json
import lzma
import os
import pty
import random
import subprocess

import pytest

from conftest import VMPULL, check_sanitizer_report, run_vmpull

MIB = 1 << 20


def make_disk():
    """Data, holes and a tail off a block boundary: the pipe must get every zero too."""
    rnd = random.Random(18)
    return rnd.randbytes(300 * 1024) + bytes(2 * MIB) + rnd.randbytes(5000) + bytes(MIB + 77)


@pytest.fixture
def image(tmp_path):
    raw = make_disk()
    src = tmp_path / "disk.raw.xz"
    src.write_bytes(lzma.compress(raw, preset=0))
    return raw, src


def pull_to_pipe(*args, stdout=subprocess.PIPE):
    """vmpull pull ARGS with stdout a pipe (or what stdout is); returns (rc, stdout bytes, stderr text)."""
    proc = subprocess.run([VMPULL, "pull", "--no-cache", *map(str, args)], stdout=stdout, stderr=subprocess.PIPE,
                          timeout=120)
    stderr = proc.stderr.decode()
    check_sanitizer_report(stderr, args)
    return proc.returncode, proc.stdout, stderr


def test_disk_through_a_pipe_equals_the_file_pull(image, tmp_path):
    raw, src = image
    rc, out, err = pull_to_pipe("-q", "-o", "-", src)
    assert rc == 0, err
    # the same disk as a pull to a file, byte for byte, and nothing else on stdout (no path line)
    res = run_vmpull("pull", "-q", "--no-cache", "-o", tmp_path / "file.raw", src)
    assert res.rc == 0, res
    assert out == (tmp_path / "file.raw").read_bytes() == raw
    assert err == ""


def test_json_is_the_last_line_of_stderr(image):
    raw, src = image
    rc, out, err = pull_to_pipe("--json", "-o", "-", src)
    assert rc == 0, err
    assert out == raw
    doc = json.loads(err.splitlines()[-1])
    assert doc["path"] is None
    assert doc["size"] == len(raw)
    assert doc["digest"] == "sha256:" + hashlib.sha256(src.read_bytes()).hexdigest()


def test_a_failed_final_check_is_exit_1_after_the_bytes(image):
    """The reader has the bytes before the digest is known: the pull says it failed, and that is
    all it can do (README)."""
    raw, src = image
    wrong = "sha256:" + "0" * 64
    rc, out, err = pull_to_pipe("-q", "--json", "--digest", wrong, "-o", "-", src)
    assert rc == 1, err
    # what got out before the check failed: the disk's start (the sink's queue is dropped on failure)
    assert raw.startswith(out)
    lines = err.splitlines()
    assert json.loads(lines[-1])["error"]["code"] == "digest_mismatch"
    assert lines[-2].startswith("vmpull: pull ") and "digest mismatch" in lines[-2], err


def test_refused_on_a_terminal(image):
    raw, src = image
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([VMPULL, "pull", "--no-cache", "-o", "-", str(src)], stdout=slave,
                              stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(slave)
    os.set_blocking(master, False)
    try:
        shown = os.read(master, 1 << 20)
    except (BlockingIOError, OSError):
        shown = b""
    os.close(master)
    stderr = proc.stderr.decode()
    check_sanitizer_report(stderr)
    assert proc.returncode == 2, stderr
    assert "terminal" in stderr and "-o -" in stderr, stderr
    assert shown == b""  # not a byte of the disk on the screen


def test_a_reader_that_goes_away_is_an_error(tmp_path):
    """head -c closes the pipe early: EPIPE is a failed pull with a message, not a silent SIGPIPE."""
    raw = random.Random(3).randbytes(8 * MIB)
    src = tmp_path / "big.raw"
    src.write_bytes(raw)
    proc = subprocess.run(f"'{VMPULL}' pull -q --no-cache -o - '{src}' | head -c 1000 >/dev/null; "
                          "echo rc=${PIPESTATUS[0]} >&2", shell=True, executable="/bin/bash",
                          capture_output=True, text=True, timeout=60)
    check_sanitizer_report(proc.stderr)
    assert "rc=1" in proc.stderr, proc.stderr
    assert "vmpull: pull " in proc.stderr and "stdout" in proc.stderr, proc.stderr


def test_stdout_a_regular_file_gets_a_sparse_disk(image, tmp_path):
    """`-o - > file`: the library's pull_to_fd truncates and writes it with holes."""
    raw, src = image
    out = tmp_path / "redirected.raw"
    with open(out, "wb") as f:
        rc, _, err = pull_to_pipe("-q", "-o", "-", src, stdout=f)
    assert rc == 0, err
    assert out.read_bytes() == raw
    assert os.stat(out).st_blocks * 512 < len(raw)
