"""`vmpull pull -o DEV` onto a block device (issue 18), on real loop devices (losetup -P) this test
attaches and always detaches; skipped, with the reason, where loop devices cannot be attached (an
unprivileged user, a container without /dev/loop-control). Only raw disks; O_EXCL (in use:
refused); not empty: refused without --replace; too small: refused before a write when the size is
known, else the pull fails when the device is full; holes zeroed (BLKZEROOUT) unless
--assume-zeroed; the first MiB written last, so a failed pull leaves it zeroed and says the device
holds a partial image; the partition table read again; a link to a device is followed, a link to
a file still is not."""
import json
import lzma
import os
import random
import subprocess
from pathlib import Path

import pytest

from conftest import run_vmpull

MIB = 1 << 20


def make_disk(size=6 * MIB, seed=18):
    """Data in the first MiB (an MBR with one partition, as a bootable disk has), holes, data after
    them, a tail off a block boundary."""
    rnd = random.Random(seed)
    mbr = bytearray(512)
    mbr[446:462] = bytes([0, 0, 0, 0, 0x83, 0, 0, 0]) + (2048).to_bytes(4, "little") + (4096).to_bytes(4, "little")
    mbr[510:512] = b"\x55\xaa"
    disk = bytes(mbr) + rnd.randbytes(100 * 1024) + bytes(MIB) + rnd.randbytes(300 * 1024)
    disk += bytes(2 * MIB) + rnd.randbytes(5000)
    return disk + bytes(size - len(disk) - 321) + rnd.randbytes(321)


def read_device(dev, length=None, offset=0):
    with open(dev, "rb") as f:
        f.seek(offset)
        return f.read(length) if length is not None else f.read()


def write_device(dev, data, offset):
    fd = os.open(dev, os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


@pytest.fixture
def loop_device(tmp_path):
    """make(size) -> a loop device of size bytes (zeros, partition scanning on) over a file of
    tmp_path; every device attached here is detached at the end, and no other is touched."""
    attached = []

    def make(size=16 * MIB, partscan=True):
        img = tmp_path / f"loop{len(attached)}.img"
        with open(img, "wb") as f:
            f.truncate(size)
        cmd = ["losetup", "-f", "--show", *(["-P"] if partscan else []), str(img)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except FileNotFoundError:
            pytest.skip("losetup is not installed: no loop devices to write onto")
        if proc.returncode != 0:
            pytest.skip(f"loop devices are not available here (losetup: {proc.stderr.strip()})")
        dev = proc.stdout.strip()
        attached.append(dev)
        return dev

    yield make
    for dev in attached:
        subprocess.run(["losetup", "-d", dev], capture_output=True, timeout=30)


@pytest.fixture
def image(tmp_path):
    raw = make_disk()
    src = tmp_path / "disk.raw.xz"
    src.write_bytes(lzma.compress(raw, preset=0))
    return raw, src


def pull(*args):
    return run_vmpull("pull", "--progress", "never", "--no-cache", *args)


def json_error(res):
    doc = json.loads(res.stdout)
    assert list(doc) == ["error"], res
    return doc["error"]


def test_raw_disk_onto_a_device_equals_the_file_pull(image, loop_device, tmp_path):
    raw, src = image
    dev = loop_device()
    res = pull("-o", dev, src)
    assert res.rc == 0, res
    assert res.stdout == dev + "\n"  # the path line names the device
    file_pull = tmp_path / "file.raw"
    assert pull("-o", file_pull, src).rc == 0
    assert read_device(dev, len(raw)) == file_pull.read_bytes() == raw
    assert read_device(dev, offset=len(raw)) == bytes(16 * MIB - len(raw))  # nothing past the disk


def kernel_reads_partition_tables(loop_device):
    """Some kernels have no partition parsers at all (CONFIG_MSDOS_PARTITION and EFI off): probe
    with our own table on a device of our own."""
    dev = loop_device(8 * MIB)
    write_device(dev, make_disk()[:512], 0)
    subprocess.run(["blockdev", "--rereadpt", dev], capture_output=True, timeout=30)
    name = Path(dev).name
    return Path(f"/sys/class/block/{name}/{name}p1").exists()


def test_the_partition_table_is_read_again(image, loop_device):
    """BLKRRPART after the write: the disk's partition shows up without a losetup or a reboot."""
    if not kernel_reads_partition_tables(loop_device):
        pytest.skip("this kernel reads no MBR partition table (CONFIG_MSDOS_PARTITION is off)")
    raw, src = image
    dev = loop_device()
    assert pull("-o", dev, src).rc == 0
    name = Path(dev).name
    assert Path(f"/sys/class/block/{name}/{name}p1").exists(), os.listdir(f"/sys/class/block/{name}")


def test_json_of_a_device_pull(image, loop_device):
    raw, src = image
    dev = loop_device()
    res = pull("--json", "-o", dev, src)
    assert res.rc == 0, res
    doc = json.loads(res.stdout)
    assert doc["path"] == dev and doc["size"] == len(raw)


@pytest.mark.parametrize("fmt", ["qcow2", "vhdx", "vmdk"])
def test_other_disk_formats_are_refused_and_the_device_untouched(loop_device, tmp_path, fmt):
    """A qcow2 (or VHDX, VMDK) written to a device does not boot: refused by its magic before the
    first write, naming the format and how to make it raw."""
    raw = tmp_path / "disk.raw"
    raw.write_bytes(make_disk(4 * MIB))
    made = tmp_path / f"disk.{fmt}"
    subprocess.run(["qemu-img", "convert", "-O", fmt, str(raw), str(made)], check=True, capture_output=True)
    src = tmp_path / f"disk.{fmt}.xz"
    src.write_bytes(lzma.compress(made.read_bytes(), preset=0))
    dev = loop_device(8 * MIB)
    pattern = b"old data, not a disk" * 1000
    write_device(dev, pattern, 3 * MIB)  # in the middle: the device still counts as empty
    before = read_device(dev)
    res = pull("--json", "-o", dev, src)
    assert res.rc == 1, res
    err = json_error(res)
    assert err["code"] == "unsupported_format", err
    assert fmt in err["message"] and "qemu-img convert -O raw" in err["message"] and dev in err["message"], err
    assert "partial" not in err["message"], err
    assert read_device(dev) == before


def test_a_device_in_use_is_refused(image, loop_device):
    """O_EXCL: a device another program holds exclusively (as a mount does) is refused, naming it."""
    raw, src = image
    dev = loop_device()
    held = os.open(dev, os.O_RDONLY | os.O_EXCL)
    try:
        res = pull("--json", "-o", dev, src)
    finally:
        os.close(held)
    assert res.rc == 1, res
    err = json_error(res)
    assert err["code"] == "io" and dev in err["message"] and "in use" in err["message"], err
    assert read_device(dev) == bytes(16 * MIB)


def test_a_mounted_device_is_refused(image, loop_device, tmp_path):
    raw, src = image
    dev = loop_device()
    subprocess.run(["mkfs.ext4", "-q", dev], check=True, capture_output=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(["mount", dev, str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount here (mount: {proc.stderr.strip()})")
    try:
        before = read_device(dev, MIB)
        res = pull("--replace", "-o", dev, src)
        assert res.rc == 1, res
        assert "in use" in res.stderr and dev in res.stderr, res
        assert read_device(dev, MIB) == before
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


@pytest.mark.parametrize("where", ["first-mib", "last-mib"])
def test_a_device_that_is_not_empty_needs_replace(image, loop_device, where):
    raw, src = image
    dev = loop_device()
    write_device(dev, b"\x01", 100 if where == "first-mib" else 16 * MIB - 100)
    before = read_device(dev)
    res = pull("--json", "-o", dev, src)
    assert res.rc == 1, res
    err = json_error(res)
    assert err["code"] == "exists" and "not empty" in err["message"] and "--replace" in err["message"], err
    assert read_device(dev) == before
    res = pull("--replace", "-o", dev, src)
    assert res.rc == 0, res
    assert read_device(dev, len(raw)) == raw


def test_a_smaller_device_is_refused_before_a_write(loop_device, tmp_path):
    """A raw source's size is the disk's: known up front, so nothing is written."""
    src = tmp_path / "big.raw"
    src.write_bytes(make_disk(6 * MIB))
    dev = loop_device(4 * MIB)
    res = pull("--json", "-o", dev, src)
    assert res.rc == 1, res
    err = json_error(res)
    assert err["code"] == "limit" and "larger than device" in err["message"], err
    assert "partial" not in err["message"], err
    assert read_device(dev) == bytes(4 * MIB)


def test_a_device_that_fills_up_holds_a_partial_image(image, loop_device):
    """An xz disk's size is known only at its end: the pull fails when the device is full, says the
    device holds a partial image, and the first MiB stays zeroed."""
    raw, src = image
    dev = loop_device(4 * MIB)
    res = pull("--json", "-o", dev, src)
    assert res.rc == 1, res
    err = json_error(res)
    assert "larger than device" in err["message"] and "partial image" in err["message"], err
    assert read_device(dev, MIB) == bytes(MIB)
    assert read_device(dev, 300 * 1024, 1124 * 1024 + 512) == raw[1124 * 1024 + 512:1424 * 1024 + 512]


@pytest.mark.parametrize("failure", ["digest", "corrupt-xz-tail"])
def test_a_failed_pull_leaves_the_first_mib_zeroed(image, loop_device, tmp_path, failure):
    """Whatever booted from the device before does not any more, and neither does half of the new
    disk: its first MiB is written only after every check passed."""
    raw, src = image
    dev = loop_device()
    assert pull("-o", dev, src).rc == 0  # an old disk, bootable
    args = ["--replace", "--json", "-o", dev]
    if failure == "digest":
        args += ["--digest", "sha256:" + "0" * 64, src]
    else:
        bad = bytearray(src.read_bytes())
        bad[-30] ^= 0xFF  # the index, after every block: all the data was decoded and written
        src = tmp_path / "bad.raw.xz"
        src.write_bytes(bytes(bad))
        args += [src]
    res = pull(*args)
    assert res.rc == 1, res
    err = json_error(res)
    assert err["code"] == ("digest_mismatch" if failure == "digest" else "corrupt"), err
    assert f"device {dev} now holds a partial image" in err["message"], err
    assert read_device(dev, MIB) == bytes(MIB)
    assert read_device(dev, len(raw) - MIB, MIB) == raw[MIB:]


def test_holes_are_zeroed_unless_assume_zeroed(image, loop_device):
    """BLKZEROOUT over the disk's holes: an old pattern there is gone; --assume-zeroed trusts the
    device (as bmaptool does) and leaves it."""
    raw, src = image
    hole = 1124 * 1024 + 512 + 300 * 1024 + 4096  # inside the 2 MiB of zeros after the second data
    assert raw[hole:hole + 8192] == bytes(8192)
    pattern = b"\xa5" * 8192
    dev = loop_device()
    write_device(dev, pattern, hole)
    assert pull("-o", dev, src).rc == 0
    assert read_device(dev, len(raw)) == raw
    write_device(dev, pattern, hole)
    assert pull("--replace", "--assume-zeroed", "-o", dev, src).rc == 0
    assert read_device(dev, 8192, hole) == pattern
    after = bytearray(raw)
    after[hole:hole + 8192] = pattern
    assert read_device(dev, len(raw)) == bytes(after)


def test_assume_zeroed_is_for_a_device_only(image, tmp_path):
    raw, src = image
    res = pull("--json", "--assume-zeroed", "-o", tmp_path / "disk.raw", src)
    assert res.rc == 2, res
    err = json_error(res)
    assert err["code"] == "usage" and "--assume-zeroed" in err["message"] and "disk.raw" in err["message"], err
    assert not (tmp_path / "disk.raw").exists()


def test_a_link_to_a_device_is_followed_a_link_to_a_file_is_not(image, loop_device, tmp_path):
    raw, src = image
    dev = loop_device()
    link = tmp_path / "by-id-usb-stick"
    link.symlink_to(dev)
    res = pull("-o", link, src)
    assert res.rc == 0, res
    assert read_device(dev, len(raw)) == raw
    assert link.is_symlink()
    target = tmp_path / "a-file"
    target.write_bytes(b"not to be written through")
    file_link = tmp_path / "file-link"
    file_link.symlink_to(target)
    res = pull("--json", "-o", file_link, src)
    assert res.rc == 1 and json_error(res)["code"] == "exists", res
    assert target.read_bytes() == b"not to be written through"


def test_a_device_without_partition_scanning(image, loop_device):
    """BLKRRPART fails there (EINVAL), as it should: not an error, not even a warning."""
    raw, src = image
    dev = loop_device(partscan=False)
    res = pull("-o", dev, src)
    assert res.rc == 0 and res.stderr == "", res
    assert read_device(dev, len(raw)) == raw


def test_a_partition_gets_the_disk_too(image, loop_device, tmp_path):
    """A partition has no partition table of its own to re-read (BLKRRPART fails there): not an
    error. The disk lands in the partition, nowhere else."""
    if not kernel_reads_partition_tables(loop_device):
        pytest.skip("this kernel reads no MBR partition table (CONFIG_MSDOS_PARTITION is off)")
    raw, src = image
    whole = loop_device(32 * MIB)
    table = make_disk()[:512]  # one partition: sectors 2048-6143 (2 MiB at 1 MiB)
    big = bytearray(table)
    big[446 + 12:446 + 16] = (40960).to_bytes(4, "little")  # 20 MiB: room for the disk
    write_device(whole, bytes(big), 0)
    subprocess.run(["blockdev", "--rereadpt", whole], check=True, capture_output=True)
    part = whole + "p1"
    if not os.path.exists(part):
        pytest.skip(f"{part} did not appear (no device node for partitions here)")
    res = pull("-o", part, src)
    assert res.rc == 0, res
    assert read_device(part, len(raw)) == raw
    assert read_device(whole, 512) == bytes(big)
