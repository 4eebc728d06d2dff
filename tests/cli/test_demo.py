"""`make demo`: examples/demo.sh pulls the shipped demo disk (examples/demo-disk.raw.xz) into the data
directory and prints its path last; examples/make-demo-image.sh makes that disk."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, VMPULL, leftovers

DEMO_SH = ROOT / "examples" / "demo.sh"
DEMO_IMAGE = ROOT / "examples" / "demo-disk.raw.xz"
MAKE_IMAGE = ROOT / "examples" / "make-demo-image.sh"
DISK_SIZE = 64 << 20


def private_env(tmp_path):
    return {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "HOME": str(tmp_path / "home"),
    }


def debugfs(disk, command):
    tool = shutil.which("debugfs") or "/usr/sbin/debugfs"
    if not os.access(tool, os.X_OK):
        pytest.skip("debugfs (e2fsprogs) not installed")
    proc = subprocess.run([tool, "-R", command, str(disk)], capture_output=True, text=True, check=True)
    return proc.stdout


def check_demo_disk(disk):
    """A 64 MiB sparse raw disk holding an ext4 filesystem with the demo's files."""
    st = disk.stat()
    assert st.st_size == DISK_SIZE
    assert st.st_blocks * 512 < 4 << 20, "the disk is not sparse"
    with open(disk, "rb") as f:
        f.seek(1024 + 0x38)
        assert f.read(2) == b"\x53\xef", "no ext4 superblock magic"
    assert debugfs(disk, "cat /home/demo/hello.txt") == "Hello from inside the demo disk.\n"
    listing = debugfs(disk, "ls -p /")
    for name in ("README", "etc", "home", "lost+found"):
        assert f"/{name}/" in listing, listing


def test_demo_image_is_small_and_shipped():
    assert DEMO_IMAGE.is_file(), "examples/demo-disk.raw.xz is missing: run examples/make-demo-image.sh"
    assert DEMO_IMAGE.stat().st_size < 1 << 20
    assert DEMO_IMAGE.read_bytes()[:6] == b"\xfd7zXZ\x00"


def test_demo_sh(tmp_path):
    env = private_env(tmp_path)
    expected = tmp_path / "xdg" / "vmpull" / "qemu" / "podman-machine-default_demo-disk.raw"
    for _ in range(2):  # again: --replace makes a second run fine
        proc = subprocess.run([str(DEMO_SH), VMPULL], capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines()[-1] == str(expected), proc.stdout
        check_demo_disk(expected)
    assert leftovers(expected.parent) == [expected.name]


def test_make_demo_image(tmp_path):
    """The script makes a disk like the shipped one (byte-identical with the same e2fsprogs and xz)."""
    if not (shutil.which("mkfs.ext4") or os.access("/usr/sbin/mkfs.ext4", os.X_OK)):
        pytest.skip("mkfs.ext4 (e2fsprogs) not installed")
    made = tmp_path / "demo.raw.xz"
    proc = subprocess.run([str(MAKE_IMAGE), str(made)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert made.stat().st_size < 1 << 20
    disk = tmp_path / "demo.raw"
    proc = subprocess.run([VMPULL, "pull", "-q", "--no-cache", "-o", str(disk), str(made)], capture_output=True,
                          text=True, env=private_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    check_demo_disk(disk)
