"""Where the disk goes (issue 12): --replace replaces an old disk, never a FIFO or a device; and a
pull whose path line cannot reach stdout fails, since its caller would never learn the path."""
import json
import os
import stat
import subprocess

import pytest

from conftest import VMPULL, check_sanitizer_report, leftovers, run_vmpull

DISK = b"disk contents\n" * 1000


@pytest.fixture
def env(tmp_path):
    return {"XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "HOME": str(tmp_path / "home")}


@pytest.fixture
def image(tmp_path):
    src = tmp_path / "in" / "img.raw"
    src.parent.mkdir()
    src.write_bytes(DISK)
    return src


# --- --replace onto something that is not a regular file ------------------------------------------

KINDS = {
    "fifo": (stat.S_IFIFO, "is a FIFO (named pipe)"),
    "character-device": (stat.S_IFCHR, "is a character device"),  # what /dev/null is
    "block-device": (stat.S_IFBLK, "is a block device"),
}


def make_node(path, kind):
    """A FIFO, or a device node with /dev/null's numbers, or a block device's of a major number
    no driver has (240, "local/experimental use"): never opened here, and nothing to write to
    should it be."""
    mode, _ = KINDS[kind]
    if kind == "fifo":
        os.mkfifo(path)
        return
    try:
        os.mknod(path, mode | 0o600, os.makedev(1, 3) if kind == "character-device" else os.makedev(240, 0))
    except PermissionError:
        pytest.skip("mknod needs root (CAP_MKNOD)")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_replace_onto_a_non_file_is_refused(image, tmp_path, env, kind, json_flag):
    """--replace onto a FIFO or a device fails (code exists) with a message that names what is
    there, and leaves it as it was. (A block device named by -o is written in place, issue 18,
    tests/cli/test_block_device.py: the naming rule's output never is.)"""
    out = tmp_path / "out"
    out.mkdir()
    node = out / "disk.raw"
    where = ["-o", node]
    if kind == "block-device":
        node = out / "podman-machine-default_img.raw"
        where = ["--data-dir", out]
    make_node(node, kind)
    res = run_vmpull("pull", *json_flag, "--progress", "never", "--replace", *where, image, env=env)
    assert res.rc == 1, res
    line = res.stderr.strip().splitlines()[-1]
    if json_flag:
        err = json.loads(res.stdout)["error"]
        assert err["code"] == "exists", err
        assert line == "vmpull: " + err["message"]
    assert f"output {node} {KINDS[kind][1]}" in line, line
    assert stat.S_IFMT(os.lstat(node).st_mode) == KINDS[kind][0]
    assert leftovers(out) == [node.name]


def test_replace_onto_a_regular_file_still_works(image, tmp_path, env):
    out = tmp_path / "disk.raw"
    out.write_bytes(b"the old disk")
    res = run_vmpull("pull", "--progress", "never", "--replace", "-o", out, image, env=env)
    assert res.rc == 0, res
    assert out.read_bytes() == DISK


# --- the path line must reach stdout ----------------------------------------------------------------


def run_with_stdout(how, *args, env):
    """vmpull with stdout on /dev/full or closed; returns (rc, stderr)."""
    redirect = {"full": ">/dev/full", "closed": ">&-"}[how]
    proc = subprocess.run(["sh", "-c", f'exec "$0" "$@" {redirect}', VMPULL, *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)
    check_sanitizer_report(proc.stderr, args)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("how", ["full", "closed"])
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_path_line_not_written_fails_the_pull(image, tmp_path, env, how, json_flag):
    """With stdout on a full disk or closed, the caller never learns where the disk is: exit 1 with
    an error that says so (the disk itself may stay)."""
    out = tmp_path / "disk.raw"
    rc, stderr = run_with_stdout(how, "pull", *json_flag, "--progress", "never", "-o", out, image, env=env)
    assert rc == 1, stderr
    assert stderr.count("\n") == 1, stderr
    reason = "No space left on device" if how == "full" else "Bad file descriptor"
    assert stderr == f"vmpull: pull: the disk is at {out}, but its path could not be written to stdout: {reason}\n"
    assert out.read_bytes() == DISK


@pytest.mark.parametrize("how", ["full", "closed"])
def test_other_answers_not_written_fail_too(tmp_path, env, how):
    rc, stderr = run_with_stdout(how, "--version", env=env)
    assert rc == 1 and "could not write to stdout" in stderr, stderr
