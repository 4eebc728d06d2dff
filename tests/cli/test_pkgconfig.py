"""The uninstalled pkg-config file in the build tree (issue 14): a program builds against the
library in build/ exactly as the README says, `PKG_CONFIG_PATH=build/meson-uninstalled pkg-config
--cflags --libs vmpull`, and runs on it."""
import gzip
import json
import os
import random
import shlex
import subprocess
from pathlib import Path

from conftest import ROOT, VMPULL

BUILD = Path(VMPULL).resolve().parent


def sanitizer_flags():
    """A library built with sanitizers (make check-asan) needs the program linked with their
    runtime first: the same -fsanitize the build used (pkg-config does not carry it)."""
    opts = subprocess.run(["meson", "introspect", "--buildoptions", str(BUILD)], capture_output=True, text=True)
    if opts.returncode != 0:
        return []
    value = next((o["value"] for o in json.loads(opts.stdout) if o["name"] == "b_sanitize"), "none")
    return [] if value in ("none", "") else [f"-fsanitize={value}"]


def test_examples_embed_builds_with_the_uninstalled_pc_file(tmp_path):
    env = dict(os.environ, PKG_CONFIG_PATH=str(BUILD / "meson-uninstalled"))
    env.pop("PKG_CONFIG_LIBDIR", None)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "vmpull"], env=env, capture_output=True, text=True,
                           check=True).stdout
    include = [f[2:] for f in shlex.split(flags) if f.startswith("-I")]
    assert any((Path(d) / "vmpull.h").resolve() == ROOT / "include" / "vmpull.h" for d in include), flags
    embed = tmp_path / "embed"
    cc = subprocess.run(["cc", "-Wall", "-Werror", "-o", str(embed), str(ROOT / "examples" / "embed.c"),
                         *shlex.split(flags), *sanitizer_flags()], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr

    raw = random.Random(7).randbytes(1 << 20) + bytes(1 << 20)
    src = tmp_path / "disk.raw.gz"
    src.write_bytes(gzip.compress(raw, compresslevel=1))
    out = tmp_path / "out.raw"
    run_env = dict(os.environ, LD_LIBRARY_PATH=str(BUILD / "lib"))
    libs = subprocess.run(["ldd", str(embed)], env=run_env, capture_output=True, text=True).stdout
    assert f"libvmpull.so.0 => {BUILD / 'lib'}/" in libs, libs  # the library in the build tree
    proc = subprocess.run([str(embed), str(src), str(out)], env=run_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{out}\n"
    assert out.read_bytes() == raw
