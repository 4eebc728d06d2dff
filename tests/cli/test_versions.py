"""Versions that agree (issue 14): meson's project version, the header's VMPULL_VERSION_* macros,
the symbol-map nodes and the header's "(added in X.Y)" notes, vmpull_version() of the library,
`vmpull --version`, and the Debian packaging all say the same release. meson setup already refuses
a header whose macros differ from the project version; this test holds the rest together."""
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, VMPULL, run_vmpull

PROBE = os.environ.get("VMPULL_LIB_PROBE", str(Path(VMPULL).parent / "tests" / "lib" / "lib_probe"))


def version_tuple(text):
    return tuple(int(p) for p in text.split("."))


@pytest.fixture(scope="module")
def project_version():
    meson = (ROOT / "meson.build").read_text()
    m = re.search(r"project\(\s*'vmpull'.*?version\s*:\s*'([0-9]+\.[0-9]+\.[0-9]+)'", meson, re.S)
    assert m, "meson.build: no project version"
    return m.group(1)


@pytest.fixture(scope="module")
def header():
    return (ROOT / "include" / "vmpull.h").read_text()


def header_macro(header, name):
    m = re.search(rf"^#define VMPULL_VERSION_{name} (\S+)$", header, re.M)
    assert m, f"include/vmpull.h: no VMPULL_VERSION_{name}"
    return m.group(1)


def symbol_nodes():
    sym = (ROOT / "lib" / "libvmpull.sym").read_text()
    nodes = re.findall(r"^(VMPULL_([0-9]+)\.([0-9]+))\s*\{", sym, re.M)
    assert nodes, "lib/libvmpull.sym: no VMPULL_X.Y node"
    return {name: (int(major), int(minor)) for name, major, minor in nodes}


def test_header_macros_are_the_project_version(project_version, header):
    major, minor, patch = project_version.split(".")
    assert header_macro(header, "MAJOR") == major
    assert header_macro(header, "MINOR") == minor
    assert header_macro(header, "PATCH") == patch
    assert header_macro(header, "STRING") == f'"{project_version}"'
    assert "#define VMPULL_CHECK_VERSION(major, minor, patch)" in header


def test_symbol_nodes_and_added_in_notes_match_the_version(project_version, header):
    current = version_tuple(project_version)[:2]
    nodes = symbol_nodes()
    newest_node = max(nodes.values())
    # The newest node may be the current release's (new functions) or older (only fields added).
    assert newest_node <= current, f"lib/libvmpull.sym has {newest_node}, newer than the package {project_version}"
    notes = {version_tuple(v) for v in re.findall(r"\(added in ([0-9]+\.[0-9]+)", header)}
    assert notes, "include/vmpull.h has no (added in X.Y) notes"
    for note in notes:
        assert note in nodes.values() or note == current, \
            f"include/vmpull.h says 'added in {note}': neither a node of lib/libvmpull.sym nor {project_version}"
    assert max(notes) <= current
    # A node newer than every note: something was added without saying so in the header.
    assert newest_node <= max(notes), f"lib/libvmpull.sym has {newest_node}; the header's newest note is {max(notes)}"


def test_library_and_tool_report_the_project_version(project_version):
    if not os.access(PROBE, os.X_OK):
        pytest.fail(f"tests/lib/lib_probe not built at {PROBE}")
    proc = subprocess.run([PROBE, "-V"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    seen = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert seen["header"] == project_version  # the header lib_probe was built with
    assert seen["header_parts"] == project_version
    assert seen["library"] == project_version  # vmpull_version() of the shared library it runs on
    # VMPULL_CHECK_VERSION: true for this version and older ones, false for a newer one.
    assert (seen["check_version_same"], seen["check_version_older"], seen["check_version_newer"]) == ("1", "1", "0")
    r = run_vmpull("--version")
    assert r.rc == 0 and r.stdout.strip() == f"vmpull {project_version}", r
    man = (ROOT / "docs" / "vmpull.1").read_text()
    assert re.search(r'^\.TH VMPULL 1 "[^"]*" "vmpull ([^"]+)"', man, re.M).group(1) == project_version


def test_debian_versions(project_version):
    changelog = (ROOT / "debian" / "changelog").read_text()
    m = re.match(r"vmpull \(([^)]+)\)", changelog)
    assert m, "debian/changelog: no top entry"
    top = m.group(1)
    upstream = top.rsplit("-", 1)[0] if "-" in top else top
    assert upstream == project_version, f"debian/changelog's top entry {top} is not {project_version}"
    nodes = symbol_nodes()
    symbols = (ROOT / "debian" / "libvmpull0.symbols").read_text()
    listed = dict(re.findall(r"^ \(symver\)(VMPULL_[0-9.]+) (\S+)$", symbols, re.M))
    assert set(listed) == set(nodes), f"debian/libvmpull0.symbols lists {sorted(listed)}, the map has {sorted(nodes)}"
    for node, since in listed.items():
        assert version_tuple(since.split("-")[0]) <= version_tuple(project_version), \
            f"debian/libvmpull0.symbols: {node} since {since}, newer than the package {top}"
