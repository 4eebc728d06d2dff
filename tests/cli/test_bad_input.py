"""The bad-input matrix (issue 6): hostile or broken input of every kind, one row each.

Every row asserts the exact `--json` error code, one error line, and that nothing is left
behind: no output and no temporary file in the output folder. Inputs are made at test time
by the real tools (small, so the whole matrix stays fast); bombs are generated as a stream of
zeros fed to the compressor, never materialised. The shared corpora add the xz project's
`bad-*` files (skipped visibly when ../shared/corpora is absent).
"""
import io
import json
import random
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest

from conftest import CORPORA, ROOT, leftovers, run_vmpull
from servers.oci_layout import OCI_INDEX, OCI_MANIFEST, TAR, TITLE, Layout, make_tar

MIB = 1 << 20


def tool(*cmd, stdin=None):
    return subprocess.run(cmd, input=stdin, capture_output=True, check=True).stdout


def payload():
    """Disk-like: incompressible data (so a flipped bit lands in coded data), zeros, text."""
    rnd = random.Random(6)
    return rnd.randbytes(96 * 1024) + bytes(64 * 1024) + b"some text in a config file\n" * 2000


PAYLOAD = payload()

# format -> (file suffix, compressor writing stdout from stdin)
CODECS = {
    "xz": (".xz", ["xz", "-c", "-T1"]),
    "lzma": (".lzma", ["xz", "-c", "--format=lzma"]),
    "lzip": (".lz", ["lzip", "-c"]),
    "gzip": (".gz", ["gzip", "-c", "-n"]),
    "zstd": (".zst", ["zstd", "-q", "-c"]),
    "bzip2": (".bz2", ["bzip2", "-c"]),
    "zip": (".zip", ["zip", "-q", "-", "-"]),
}


def compressed(fmt, data=PAYLOAD):
    return tool(*CODECS[fmt][1], stdin=data)


# --- rows -------------------------------------------------------------------------------------


class Row:
    def __init__(self, name, code, make, args=(), rc=1, fixtures=False, says=None):
        self.name, self.code, self.make, self.args, self.rc = name, code, make, list(args), rc
        self.fixtures, self.says = fixtures, says

    def __repr__(self):
        return self.name


ROWS = []


def row(name, code, args=(), rc=1, fixtures=False, says=None):
    """Register make(folder) -> source (a path or a source string, or (source, extra args)) as a
    row of the matrix; with fixtures, make(folder, fixture) gets pytest's fixture lookup too
    (servers). says: text the message must contain (limits must name themselves)."""

    def register(make):
        ROWS.append(Row(name, code, make, args, rc, fixtures, says))
        return make

    return register


def write(folder, name, data):
    path = Path(folder) / name
    path.write_bytes(data)
    return path


# Every bad-* file of the xz project's corpus: xz 5.4.1 rejects each (EXPECTED.tsv), so must we.
XZ_BAD = sorted(p.name for p in (CORPORA / "xz").glob("bad-*")) if (CORPORA / "xz").is_dir() else []
for _name in XZ_BAD:
    row(f"xz-corpus-{_name}", "corrupt")(lambda folder, n=_name: CORPORA / "xz" / n)
if not XZ_BAD:
    ROWS.append(Row("xz-corpus-absent", None, None))

# unsupported-* other than unsupported-check.xz (which xz decodes, with a warning).
XZ_UNSUPPORTED = (sorted(p.name for p in (CORPORA / "xz").glob("unsupported-*") if p.name != "unsupported-check.xz")
                  if (CORPORA / "xz").is_dir() else [])
for _name in XZ_UNSUPPORTED:
    row(f"xz-corpus-{_name}", "unsupported_format")(lambda folder, n=_name: CORPORA / "xz" / n)


for _fmt, (_suffix, _cmd) in CODECS.items():

    @row(f"truncated-{_fmt}", "corrupt")
    def _truncated(folder, fmt=_fmt, suffix=_suffix):
        data = compressed(fmt)
        return write(folder, "disk.raw" + suffix, data[: len(data) // 2])

    @row(f"bit-flipped-{_fmt}", "corrupt")
    def _flipped(folder, fmt=_fmt, suffix=_suffix):
        data = bytearray(compressed(fmt))
        # In the coded data of the incompressible start (past every header, before the zeros).
        at = len(data) // 4
        data[at] ^= 0x20
        return write(folder, "disk.raw" + suffix, bytes(data))


# A 20-byte .lzma header asking for a 4 GiB dictionary (found by fuzz/decode_lzma).
@row("lzma-dictionary-4gib", "limit", says="decoder limit of 2048 MiB")
def _lzma_dict(folder):
    return ROOT / "fuzz" / "seeds" / "decode_lzma" / "crash-dict-4gib.lzma"


def zstd_with_window(descriptor):
    """A one-byte zstd frame whose header asks for the window Window_Descriptor byte describes."""
    return bytes([0x28, 0xB5, 0x2F, 0xFD, 0x00, descriptor, 0x09, 0x00, 0x00, 0x41])


# 2^31 + 2^31/8: a window the format allows but more than the 2 GiB decoder limit.
@row("zstd-window-over-2gib", "limit", says="decoder limit of 2048 MiB")
def _zstd_window(folder):
    return write(folder, "disk.raw.zst", zstd_with_window((21 << 3) | 1))


# --- the size a format declares must be what was written --------------------------------------


def read_vli(buf, pos):
    value = shift = 0
    while True:
        b = buf[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        shift += 7
        if not b & 0x80:
            return value, pos


def encode_vli(value):
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        out.append(b | (0x80 if value else 0))
        if not value:
            return bytes(out)


def xz_index_declaring(data, delta, threads=1):
    """An xz stream whose Index says the first block decodes to delta more bytes than it does,
    with every CRC valid: only comparing declared and decoded sizes can catch it. threads=1: one
    block, sizes only in the Index; threads=2: several blocks that also state their sizes in
    their headers (what liblzma's multi-threaded decoder decodes in parallel)."""
    opts = ["-T1"] if threads == 1 else ["-T2", "--block-size=65536"]
    raw = tool("xz", "-c", "--check=crc32", *opts, stdin=data)
    footer = raw[-12:]
    index_size = (struct.unpack("<I", footer[4:8])[0] + 1) * 4
    index = bytearray(raw[-12 - index_size: -12])
    count, pos = read_vli(index, 1)
    assert count == 1 if threads == 1 else count > 1
    _unpadded, pos = read_vli(index, pos)
    uncompressed, end = read_vli(index, pos)
    assert uncompressed == (len(data) if threads == 1 else 65536)
    new = encode_vli(uncompressed + delta)
    assert len(new) == end - pos
    index[pos:end] = new
    index[-4:] = struct.pack("<I", zlib.crc32(bytes(index[:-4])))
    return raw[: -12 - index_size] + bytes(index) + footer


@row("xz-index-declares-more", "corrupt")
def _xz_more(folder):
    return write(folder, "disk.raw.xz", xz_index_declaring(PAYLOAD, +1))


@row("xz-index-declares-less", "corrupt")
def _xz_less(folder):
    return write(folder, "disk.raw.xz", xz_index_declaring(PAYLOAD, -1))


@row("xz-multiblock-index-declares-more", "corrupt", args=["--threads", "2"])
def _xz_mt_more(folder):
    return write(folder, "disk.raw.xz", xz_index_declaring(PAYLOAD, +1, threads=2))


@row("xz-multiblock-index-declares-less", "corrupt", args=["--threads", "2"])
def _xz_mt_less(folder):
    return write(folder, "disk.raw.xz", xz_index_declaring(PAYLOAD, -1, threads=2))


def zstd_declaring(data, delta):
    """A zstd frame whose Frame_Content_Size is off by delta (the frame header has no checksum)."""
    raw = bytearray(tool("zstd", "-q", "-c", "--no-check", "--stream-size=%d" % len(data), stdin=data))
    fhd = raw[4]
    fcs_flag, single, dict_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
    pos = 5 + (0 if single else 1) + [0, 1, 2, 4][dict_flag]
    width = [1 if single else 0, 2, 4, 8][fcs_flag]
    assert width == 4, fhd
    declared = struct.unpack_from("<I", raw, pos)[0]
    assert declared == len(data)
    struct.pack_into("<I", raw, pos, declared + delta)
    return bytes(raw)


@row("zstd-frame-declares-more", "corrupt")
def _zstd_more(folder):
    return write(folder, "disk.raw.zst", zstd_declaring(PAYLOAD, +1))


@row("zstd-frame-declares-less", "corrupt")
def _zstd_less(folder):
    return write(folder, "disk.raw.zst", zstd_declaring(PAYLOAD, -1))


def zip_declaring(data, delta):
    """A deflated zip entry whose local and central headers both say len(data) + delta."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("disk.raw", data)
    raw = bytearray(buf.getvalue())
    local = raw.index(b"PK\x03\x04")
    struct.pack_into("<I", raw, local + 22, len(data) + delta)
    central = raw.index(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, len(data) + delta)
    return bytes(raw)


@row("zip-entry-declares-more", "corrupt")
def _zip_more(folder):
    return write(folder, "disk.raw.zip", zip_declaring(PAYLOAD, +1))


@row("zip-entry-declares-less", "corrupt")
def _zip_less(folder):
    return write(folder, "disk.raw.zip", zip_declaring(PAYLOAD, -1))


@row("zip-bad-crc", "corrupt")
def _zip_crc(folder):
    # libarchive only warns about a CRC mismatch; vmpull must treat it as corruption.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("disk.raw", PAYLOAD)
    raw = bytearray(buf.getvalue())
    raw[len(raw) // 2] ^= 0x01  # inside the stored data
    return write(folder, "disk.raw.zip", bytes(raw))


@row("gzip-trailer-size-differs", "corrupt")
def _gzip_isize(folder):
    raw = bytearray(compressed("gzip"))
    struct.pack_into("<I", raw, len(raw) - 4, len(PAYLOAD) + 1)
    return write(folder, "disk.raw.gz", bytes(raw))


# --- archives that are not one disk -----------------------------------------------------------


@row("zip-two-files", "corrupt")
def _zip_two(folder):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("disk.raw", b"A" * 5000)
        z.writestr("other.raw", b"B" * 5000)
    return write(folder, "two.zip", buf.getvalue())


@row("zip-only-a-directory", "corrupt")
def _zip_dir(folder):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("images/"), b"")
    return write(folder, "dir.zip", buf.getvalue())


# A symlink entry's local header looks like a file's, its data the link target: only the central
# directory says what it is.
@row("zip-only-a-symlink", "corrupt", says="entry 'disk.raw' is a symbolic link")
def _zip_symlink(folder):
    buf = io.BytesIO()
    link = zipfile.ZipInfo("disk.raw")
    link.create_system = 3
    link.external_attr = 0o120777 << 16
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(link, "/etc/passwd")
    return write(folder, "link.zip", buf.getvalue())


# --- bombs: generated as a stream, pulled with a small --max-size -------------------------------


class _Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then writes sizes in data descriptors, as a pipe would."""

    def __init__(self, f):
        self.f = f

    def writable(self):
        return True

    def write(self, b):
        return self.f.write(b)


def write_zip_bomb(f, zeros, chunk=MIB):
    with zipfile.ZipFile(_Unseekable(f), "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("disk.raw", "w", force_zip64=True) as entry:
            block = bytes(chunk)
            for _ in range(zeros // chunk):
                entry.write(block)


def zstd_bomb(zeros, declared):
    """zstd fed zeros through a pipe; with declared, the frame header states the size."""
    cmd = ["zstd", "-q", "-c", "-1"] + (["--stream-size=%d" % zeros] if declared else [])
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as p:
        import threading

        def feed():
            block = bytes(MIB)
            for _ in range(zeros // MIB):
                p.stdin.write(block)
            p.stdin.close()

        t = threading.Thread(target=feed)
        t.start()
        out = p.stdout.read()
        t.join()
    assert p.returncode == 0
    return out


@row("zip-bomb", "limit", args=["--max-size", "1M"], says="size limit of 1048576 bytes (--max-size)")
def _zip_bomb(folder):
    path = Path(folder) / "bomb.zip"
    with open(path, "wb") as f:
        write_zip_bomb(f, 64 * MIB)
    assert path.stat().st_size < 200 * 1024
    return path


@row("zstd-bomb", "limit", args=["--max-size", "1M"], says="size limit of 1048576 bytes (--max-size)")
def _zstd_bomb(folder):
    return write(folder, "bomb.raw.zst", zstd_bomb(256 * MIB, declared=False))


@row("zstd-bomb-declared", "limit", args=["--max-size", "1M"], says="a frame declares 268435456 bytes")
def _zstd_bomb_declared(folder):
    return write(folder, "bomb.raw.zst", zstd_bomb(256 * MIB, declared=True))


# --- OCI layouts (oci-dir://): hostile documents and blobs ------------------------------------

ARCH = ["--arch", "x86_64"]


def disk_layout(folder, make_entry=None):
    """A layout whose index.json names one machine-OS disk as REF x; returns (layout, entry)."""
    lay = Layout(Path(folder) / "layout")
    entry = lay.disk_artifact(compressed("xz", PAYLOAD[:8192]), "disk.raw.xz", media_type="application/x-xz",
                              arch="amd64", disktype="qemu")
    if make_entry:
        entry = make_entry(lay, entry)
    lay.write_index([(entry, "x")])
    return lay, f"oci-dir://{lay.path}:x"


TAR_CASES = {
    "symlink": [("disk.raw.xz", ("symlink", "/etc/passwd"))],
    "hardlink": [("a.raw.xz", b"xz"), ("b.raw.xz", ("hardlink", "a.raw.xz"))],
    "dotdot": [("../x", b"xz")],
    "absolute": [("/abs", b"xz")],
    "two-files": [("a.raw.xz", b"xz"), ("b.raw.xz", b"xz")],
    "zero-files": [("dir/", None)],
    "control-character": [("disk\x1b[2J.raw.xz", b"xz")],
}
for _case, _files in TAR_CASES.items():

    @row(f"oci-tar-layer-{_case}", "corrupt", args=ARCH)
    def _tar(folder, files=_files):
        lay = Layout(Path(folder) / "layout")
        entry = lay.tar_image(make_tar(files), TAR, arch="amd64")
        lay.write_index([(entry, "x")])
        return f"oci-dir://{lay.path}:x"


@row("oci-index-10001-entries", "limit", args=ARCH, says="more than the limit of 10000")
def _many(folder):
    def many(lay, entry):
        return lay.index([entry] * 10001)
    return disk_layout(folder, many)[1]


def nested(depth):
    def wrap(lay, entry):
        for _ in range(depth):
            entry = lay.index([entry])
        return entry
    return wrap


@row("oci-index-nesting-5", "limit", args=ARCH, says="nested more than 4 deep")
def _nest5(folder):
    return disk_layout(folder, nested(5))[1]


@row("oci-index-entry-unknown-media-type", "manifest", args=ARCH)
def _unknown_entry(folder):
    return disk_layout(folder, lambda lay, e: dict(e, mediaType="application/vnd.example.unknown+json"))[1]


@row("oci-manifest-unknown-media-type", "manifest", args=ARCH)
def _unknown_doc(folder):
    def unknown(lay, entry):
        doc = json.loads(lay.blob_path(entry).read_text())
        doc["mediaType"] = "application/vnd.example.unknown+json"
        return dict(entry, **lay.json_blob(doc, OCI_MANIFEST))
    return disk_layout(folder, unknown)[1]


@row("oci-digest-uppercase-hex", "manifest", args=ARCH)
def _upper(folder):
    return disk_layout(folder, lambda lay, e: dict(e, digest="sha256:" + e["digest"][7:].upper()))[1]


@row("oci-digest-wrong-length", "manifest", args=ARCH)
def _short(folder):
    return disk_layout(folder, lambda lay, e: dict(e, digest=e["digest"][:-1]))[1]


@row("oci-digest-path-traversal", "manifest", args=ARCH)
def _traversal(folder):
    return disk_layout(folder, lambda lay, e: dict(e, digest="sha256:../../../../../../etc/passwd"))[1]


@row("oci-manifest-5mib", "limit", args=ARCH, says="4 MiB limit")
def _big_manifest(folder):
    def big(lay, entry):
        doc = json.loads(lay.blob_path(entry).read_text())
        doc["annotations"] = {"pad": "p" * (5 << 20)}
        return dict(entry, **lay.json_blob(doc, OCI_MANIFEST))
    return disk_layout(folder, big)[1]


@row("oci-blob-size-differs", "digest_mismatch", args=ARCH)
def _size(folder):
    lay, src = disk_layout(folder)
    manifest = json.loads(lay.blob_path(lay_entry(lay)).read_text())
    blob = lay.blob_path(manifest["layers"][0])
    blob.write_bytes(blob.read_bytes() + b"\0")
    return src


@row("oci-blob-symlink-to-etc-passwd", "io", args=ARCH)
def _symlinked(folder):
    lay, src = disk_layout(folder)
    manifest = json.loads(lay.blob_path(lay_entry(lay)).read_text())
    blob = lay.blob_path(manifest["layers"][0])
    blob.unlink()
    blob.symlink_to("/etc/passwd")
    return src


def lay_entry(lay):
    return json.loads((lay.path / "index.json").read_text())["manifests"][0]


# --- HTTP and registries: hostile servers ------------------------------------------------------

NO_RETRY = ["--retries", "0"]


@row("http-redirect-to-file", "http", args=NO_RETRY, fixtures=True)
def _to_file(folder, fx):
    return fx("nginx").url("to-file/disk.raw.xz")


@row("http-redirect-to-ftp", "http", args=NO_RETRY, fixtures=True)
def _to_ftp(folder, fx):
    return fx("nginx").url("to-ftp/disk.raw.xz")


@row("https-redirect-to-http", "tls", args=NO_RETRY, fixtures=True)
def _to_http(folder, fx):
    nginx = fx("nginx")
    return nginx.url("to-http/disk.raw.xz", https=True), ["--ca-cert", nginx.ca]


@row("registry-401-loop", "auth", args=NO_RETRY + ["--tls-verify=false"], fixtures=True)
def _loop401(folder, fx):
    return fx("hostile_registry").ref("loop401/disk")


@row("registry-basic-401-loop", "auth", args=NO_RETRY + ["--tls-verify=false", "--creds", "user:pass"],
     fixtures=True)
def _basic401(folder, fx):
    return fx("hostile_registry").ref("basicloop/disk")


@row("registry-token-10mib", "limit", args=NO_RETRY + ["--tls-verify=false"], fixtures=True, says="response larger than 1048576 bytes")
def _bigtoken(folder, fx):
    return fx("hostile_registry").ref("bigtoken/disk")


# --- the matrix -------------------------------------------------------------------------------


def pull_must_fail(src, out_dir, code, args=(), rc=1, env=None):
    res = run_vmpull("pull", "--json", "--progress", "never", *args, "--data-dir", out_dir, src, env=env)
    assert res.rc == rc, res
    doc = json.loads(res.stdout)
    assert doc["error"]["code"] == code, res
    lines = [line for line in res.stderr.splitlines() if not line.startswith("vmpull: warning: ")]
    assert len(lines) == 1 and lines[0] == "vmpull: " + doc["error"]["message"], res.stderr
    assert leftovers(out_dir) == [], leftovers(out_dir)
    return doc["error"]["message"]


@pytest.fixture
def env(tmp_path):
    return {"XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "HOME": str(tmp_path / "home")}


@pytest.mark.parametrize("r", ROWS, ids=repr)
def test_bad_input(r, tmp_path, env, request):
    if r.make is None:
        pytest.skip(f"shared corpora not found at {CORPORA} (a user's clone has no ../shared)")
    src_dir = tmp_path / "in"
    src_dir.mkdir()
    src = r.make(src_dir, request.getfixturevalue) if r.fixtures else r.make(src_dir)
    src, extra = src if isinstance(src, tuple) else (src, [])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    msg = pull_must_fail(src, out_dir, r.code, r.args + extra, r.rc, env)
    if r.code == "limit":
        assert r.says, "a limit row must say what the message names"
    if r.says:
        assert r.says in msg, msg


@pytest.mark.parametrize("name", ["truncated-zstd", "zip-bomb", "xz-index-declares-more", "zip-bad-crc"])
def test_existing_output_untouched(name, tmp_path, env):
    """With --replace, a failed pull leaves the old disk exactly as it was."""
    r = next(x for x in ROWS if x.name == name)
    src_dir = tmp_path / "in"
    src_dir.mkdir()
    src = r.make(src_dir)
    out = tmp_path / "out" / "disk.raw"
    out.parent.mkdir()
    out.write_bytes(b"the old disk")
    res = run_vmpull("pull", "--json", "--progress", "never", "--replace", *r.args, "-o", out, src, env=env)
    assert res.rc == 1 and json.loads(res.stdout)["error"]["code"] == r.code, res
    assert out.read_bytes() == b"the old disk"
    assert leftovers(out.parent) == ["disk.raw"]


# --- the limits are where they say they are ------------------------------------------------------


@pytest.mark.parametrize("case", ["nesting-4", "entries-10000"])
def test_oci_limits_just_within(case, tmp_path, env):
    """One step below each limit row still pulls (else a row could pass for another reason)."""
    if case == "nesting-4":
        src = disk_layout(tmp_path, nested(4))[1]
    else:
        src = disk_layout(tmp_path, lambda lay, e: lay.index([e] * 10000))[1]
    out = tmp_path / "out"
    out.mkdir()
    res = run_vmpull("pull", "--json", "--progress", "never", *ARCH, "--data-dir", out, src, env=env)
    assert res.rc == 0, res
    assert Path(res.json["path"]).read_bytes() == PAYLOAD[:8192]


def test_zstd_window_of_2gib_is_within(tmp_path, env):
    src = write(tmp_path, "disk.raw.zst", zstd_with_window(21 << 3))
    res = run_vmpull("pull", "--json", "--progress", "never", "-o", tmp_path / "disk.raw", src, env=env)
    assert res.rc == 0, res
    assert (tmp_path / "disk.raw").read_bytes() == b"A"


def test_401_loop_is_bounded(hostile_registry, tmp_path, env):
    """A registry that refuses every token gets one token request and one retry, not a loop."""
    before_v2, before_token = hostile_registry.count("/v2/loop401/"), hostile_registry.count("/token")
    out = tmp_path / "out"
    out.mkdir()
    pull_must_fail(hostile_registry.ref("loop401/disk"), out, "auth", NO_RETRY + ["--tls-verify=false"], env=env)
    assert hostile_registry.count("/v2/loop401/") - before_v2 <= 2
    assert hostile_registry.count("/token") - before_token <= 1


@pytest.mark.parametrize("how", [["-fz"], []])
def test_zip_from_a_pipe_and_zip64_still_pull(how, tmp_path, env):
    """What the central directory check must let through: Info-ZIP marks an entry read from a pipe
    as a FIFO (its data is the file), and -fz writes zip64 end records."""
    src = write(tmp_path, "disk.zip", tool("zip", "-q", *how, "-", "-", stdin=PAYLOAD))
    res = run_vmpull("pull", "--json", "--progress", "never", "-o", tmp_path / "disk.raw", src, env=env)
    assert res.rc == 0, res
    assert (tmp_path / "disk.raw").read_bytes() == PAYLOAD
