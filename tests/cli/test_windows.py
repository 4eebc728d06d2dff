"""The Windows build (build-win/vmpull.exe) under wine64 (issue 20): each codec from local files,
an http source (the nginx fixture) and oci-dir:// layouts, named with Windows paths (wine shows
the Linux file system as drive Z:), each disk compared byte for byte with what the Linux vmpull
makes of the same source. Skipped, with the reason shown, when the Windows build or wine is absent
(`make windows-check` builds it and runs this file; README, Windows).

What wine cannot show (holes, Ctrl-C from a console, block cloning) is listed in the README."""
import bz2
import gzip
import hashlib
import json
import lzma
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, VMPULL, leftovers, run_vmpull
from servers.oci_layout import Layout

WIN_BUILD = Path(os.environ.get("VMPULL_WIN_BUILD", str(ROOT / "build-win")))
WIN_EXE = Path(os.environ.get("VMPULL_WIN_BIN", str(WIN_BUILD / "vmpull.exe")))
WINE = shutil.which("wine64") or shutil.which("wine")
# The DLLs: libvmpull's (the build), the dependency prefix's, then Debian's mingw packages and runtime.
WIN_DLL_PATH = ";".join([str(WIN_BUILD / "lib"), str(WIN_BUILD / "deps" / "prefix" / "bin"),
                         "/usr/x86_64-w64-mingw32/bin", "/usr/x86_64-w64-mingw32/lib",
                         "/usr/lib/gcc/x86_64-w64-mingw32/12-posix"])

MISSING = (f"no Windows build at {WIN_EXE} (make windows builds it; make windows-check runs this)"
           if not WIN_EXE.is_file() else "wine64 is not installed (scripts/install-deps windows)" if not WINE else None)
if MISSING and os.environ.get("VMPULL_WIN_REQUIRED"):  # make windows-check: absent is a failure
    raise RuntimeError(MISSING)
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def winpath(p):
    """A Linux path as the Windows program names it: wine's drive Z: is /."""
    return "Z:" + str(p).replace("/", "\\")


def run_win(*args, env=None, timeout=180, cwd=None):
    full_env = dict(os.environ)
    full_env.update({"WINEPREFIX": str(WIN_BUILD / "wine"), "WINEDEBUG": "-all", "WINEPATH": WIN_DLL_PATH})
    if env:
        full_env.update(env)
    proc = subprocess.run([WINE, str(WIN_EXE), *[str(a) for a in args]], capture_output=True, env=full_env,
                          timeout=timeout, cwd=cwd)
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def raw_disk(label, size=256 << 10):
    """Data, a zero run (a hole on Linux), data: unique to label."""
    head = hashlib.sha256(label.encode()).digest() * 1024
    return head + bytes(size) + head[::-1]


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, capture_output=True, check=True).stdout


def zipped(data, name):
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buf.getvalue()


CODECS = {
    "xz": lambda d: lzma.compress(d, preset=1),
    "gz": lambda d: gzip.compress(d, compresslevel=1, mtime=0),
    "zst": zstd,
    "bz2": lambda d: bz2.compress(d, 1),
    "zip": lambda d: zipped(d, "disk.raw"),
    "raw": lambda d: d,
}


def pull_both(tmp_path, source_win, source_linux, *extra):
    """The same source pulled by vmpull.exe and by the Linux vmpull: (windows disk, linux disk, json)."""
    out_win, out_linux = tmp_path / "win-out" / "disk.raw", tmp_path / "linux-out" / "disk.raw"
    out_win.parent.mkdir()
    out_linux.parent.mkdir()
    rc, stdout, stderr = run_win("pull", "-q", "--json", "--no-cache", "-o", winpath(out_win), *extra, source_win)
    assert rc == 0, stderr + stdout
    r = run_vmpull("pull", "-q", "--json", "--no-cache", "-o", out_linux, *extra, source_linux)
    assert r.rc == 0, r.stderr
    win_json, linux_json = json.loads(stdout), r.json
    for key in ("format", "size", "digest", "image_name"):
        assert win_json[key] == linux_json[key], key
    assert win_json["path"] == winpath(out_win)
    return out_win.read_bytes(), out_linux.read_bytes(), win_json


def test_version():
    rc, stdout, stderr = run_win("--version")
    assert rc == 0, stderr
    linux = subprocess.run([VMPULL, "--version"], capture_output=True, text=True, check=True).stdout
    assert stdout.replace("\r\n", "\n") == linux


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_local_file(tmp_path, codec):
    raw = raw_disk(f"local-{codec}")
    src = tmp_path / "src" / ("disk.raw" if codec == "raw" else f"disk.raw.{codec}")
    src.parent.mkdir()
    src.write_bytes(CODECS[codec](raw))
    win, linux, _ = pull_both(tmp_path, winpath(src), src)
    assert win == raw
    assert linux == raw


def test_local_file_forward_slashes_and_file_url(tmp_path):
    raw = raw_disk("slashes")
    src = tmp_path / "disk.raw.xz"
    src.write_bytes(lzma.compress(raw, preset=1))
    win, _, _ = pull_both(tmp_path, "Z:" + str(src), src)
    assert win == raw
    out = tmp_path / "from-url.raw"
    rc, _, stderr = run_win("pull", "-q", "--no-cache", "-o", winpath(out), "file:///Z:" + str(src))
    assert rc == 0, stderr
    assert out.read_bytes() == raw


def test_http(tmp_path, nginx):
    raw = raw_disk("http")
    folder = nginx.root / "windows"
    folder.mkdir(exist_ok=True)
    (folder / "disk.raw.zst").write_bytes(zstd(raw))
    url = nginx.url("windows/disk.raw.zst")
    win, linux, _ = pull_both(tmp_path, url, url)
    assert win == raw == linux


def test_https_with_ca(tmp_path, nginx):
    raw = raw_disk("https")
    folder = nginx.root / "windows"
    folder.mkdir(exist_ok=True)
    (folder / "disk-tls.raw.gz").write_bytes(gzip.compress(raw, mtime=0))
    url = nginx.url("windows/disk-tls.raw.gz", https=True)
    win, linux, _ = pull_both(tmp_path, url, url, "--ca-cert", nginx.ca)
    assert win == raw == linux


def test_http_cache_and_default_data_dir(tmp_path, nginx):
    """Without -o the disk goes to --data-dir as <machine>_<name> (joined with '\\'); the cache
    keeps the download, and a second pull takes it from there."""
    raw = raw_disk("cached")
    folder = nginx.root / "windows"
    folder.mkdir(exist_ok=True)
    (folder / "cached.raw.xz").write_bytes(lzma.compress(raw, preset=1))
    data, cache = tmp_path / "data", tmp_path / "cache"
    for expected_cache in ("miss", "revalidated"):  # (nginx's ETag answers 304: nothing downloaded again)
        rc, stdout, stderr = run_win("pull", "-q", "--json", "--data-dir", winpath(data), "--cache-dir",
                                     winpath(cache), nginx.url("windows/cached.raw.xz"))
        assert rc == 0, stderr
        j = json.loads(stdout)
        assert j["path"] == winpath(data) + "\\podman-machine-default_cached.raw"
        assert j["cache"] == expected_cache, j
        if expected_cache != "miss":
            assert j["bytes_transferred"] == 0, j
        assert (data / "podman-machine-default_cached.raw").read_bytes() == raw
        if expected_cache == "miss":
            (data / "podman-machine-default_cached.raw").unlink()


def test_output_name_windows_refuses(tmp_path, nginx):
    """An image name with a character Windows forbids becomes no output: a usage error naming it.
    Linux writes the same name."""
    folder = nginx.root / "windows"
    folder.mkdir(exist_ok=True)
    (folder / "disk:1.raw.xz").write_bytes(lzma.compress(raw_disk("colon"), preset=1))
    url = nginx.url("windows/disk%3A1.raw.xz")
    data = tmp_path / "data"
    data.mkdir()
    rc, _, stderr = run_win("pull", "-q", "--no-cache", "--data-dir", winpath(data), url)
    assert rc == 2, stderr
    assert "not a file name Windows allows (':' in it)" in stderr
    assert leftovers(data) == []
    linux = run_vmpull("pull", "-q", "--no-cache", "--data-dir", tmp_path / "linux", url)
    assert linux.rc == 0, linux.stderr


def test_corrupt_source_leaves_nothing(tmp_path):
    src = tmp_path / "disk.raw.xz"
    good = lzma.compress(raw_disk("corrupt"), preset=1)
    src.write_bytes(good[: len(good) // 2] + bytes(64) + good[len(good) // 2 + 64:])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    rc, _, stderr = run_win("pull", "-q", "--no-cache", "-o", winpath(out_dir / "disk.raw"), winpath(src))
    assert rc == 1, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("vmpull: "), stderr
    assert leftovers(out_dir) == []


def test_existing_output_as_on_linux(tmp_path):
    """-o onto an existing file: vmpull.exe does what the Linux vmpull does (it replaces a regular file)."""
    src = tmp_path / "disk.raw.gz"
    src.write_bytes(gzip.compress(raw_disk("kept"), mtime=0))
    out_linux, out_win = tmp_path / "linux.raw", tmp_path / "win.raw"
    out_linux.write_bytes(b"precious")
    out_win.write_bytes(b"precious")
    linux = run_vmpull("pull", "-q", "--no-cache", "-o", out_linux, src)
    rc, _, stderr = run_win("pull", "-q", "--no-cache", "-o", winpath(out_win), winpath(src))
    assert rc == linux.rc, stderr
    assert out_win.read_bytes() == out_linux.read_bytes()


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    lay = Layout(tmp_path_factory.mktemp("win-layout") / "layout")
    disks = {}
    entries = []
    for dt, (kind, compress) in {"qemu": ("zst", zstd), "applehv": ("xz", CODECS["xz"]),
                                 "hyperv": ("gz", CODECS["gz"])}.items():
        raw = raw_disk(f"oci-{dt}")
        entries.append(lay.disk_artifact(compress(raw), f"podman-machine.x86_64.{dt}.raw.{kind}", arch="amd64",
                                         disktype=dt))
        disks[dt] = raw
    lay.write_index([(lay.index(entries), "5.5")])
    return lay.path, disks


@pytest.mark.parametrize("provider", ["qemu", "hyperv"])
def test_oci_dir(tmp_path, layout, provider):
    path, disks = layout
    win, linux, j = pull_both(tmp_path, f"oci-dir://{winpath(path)}:5.5", f"oci-dir://{path}:5.5", "--provider",
                              provider, "--arch", "x86_64")
    assert win == disks[provider] == linux
    assert j["reference"]


def test_oci_dir_spellings(tmp_path, layout):
    """skopeo's oci: with forward slashes, and a layout without :REF (its one entry)."""
    path, disks = layout
    for i, source in enumerate([f"oci:Z:{path}:5.5", f"oci-dir://{winpath(path)}"]):
        out = tmp_path / f"out{i}.raw"
        rc, _, stderr = run_win("pull", "-q", "--no-cache", "--arch", "x86_64", "-o", winpath(out), source)
        assert rc == 0, (source, stderr)
        assert out.read_bytes() == disks["qemu"]


def test_oci_dir_missing_ref(tmp_path, layout):
    path, _ = layout
    rc, _, stderr = run_win("pull", "-q", "--no-cache", "-o", winpath(tmp_path / "x.raw"),
                            f"oci-dir://{winpath(path)}:nosuch")
    assert rc == 1
    assert "no entry named 'nosuch' (the index has 5.5)" in stderr  # the layout was found at Z:\...
    assert not (tmp_path / "x.raw").exists()


def test_save_into_layout(tmp_path, layout):
    """vmpull.exe save: a local file and an oci-dir:// entry into one new layout (the folder's lock
    around index.json is a named mutex on Windows), two saves at once into it as well; the Linux
    vmpull then pulls every entry of it."""
    path, disks = layout
    raw = raw_disk("saved")
    src = tmp_path / "disk.raw.zst"
    src.write_bytes(zstd(raw))
    dest = tmp_path / "saved"
    rc, stdout, stderr = run_win("save", "-q", "--provider", "qemu", "--arch", "x86_64", winpath(src),
                                 f"oci-dir://{winpath(dest)}:dev")
    assert rc == 0, stderr
    assert stdout.strip() == f"oci-dir://{winpath(dest)}:dev"
    env = {"WINEPREFIX": str(WIN_BUILD / "wine"), "WINEDEBUG": "-all", "WINEPATH": WIN_DLL_PATH}
    both = [subprocess.Popen([WINE, str(WIN_EXE), "save", "-q", "--provider", provider, "--arch", "x86_64",
                              f"oci-dir://{winpath(path)}:5.5", f"oci-dir://{winpath(dest)}:{provider}"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
            for provider in ("qemu", "hyperv")]
    for proc in both:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err.decode(errors="replace")
    names = sorted(m["annotations"]["org.opencontainers.image.ref.name"]
                   for m in json.loads((dest / "index.json").read_text())["manifests"])
    assert names == ["dev", "hyperv", "qemu"]
    for ref, expected in (("dev", raw), ("qemu", disks["qemu"]), ("hyperv", disks["hyperv"])):
        out = tmp_path / f"{ref}.raw"
        r = run_vmpull("pull", "-q", "--no-cache", "--provider", ref if ref != "dev" else "qemu", "--arch", "x86_64",
                       "-o", out, f"oci-dir://{dest}:{ref}")
        assert r.rc == 0, r.stderr
        assert out.read_bytes() == expected, ref
    for name in leftovers(dest):  # no temporary left behind: every blob is named by its digest
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256((dest / name).read_bytes()).hexdigest() == name.rsplit("/", 1)[1]
        else:
            assert name in ("blobs", "blobs/sha256", "index.json", "oci-layout"), name
