"""scripts/check-floors, the rules of the house that `make check` runs: it passes on this tree, and
it fails, naming the file and the rule, when a copy of the tree breaks one (an include that points
up a floor, a circle between two modules, the public options struct named below lib/api/, a file
outside the floors, the CLI reaching into lib/)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
CHECK = ROOT / "scripts" / "check-floors"


def run_check(top):
    return subprocess.run([sys.executable, str(CHECK), str(top)], capture_output=True, text=True, timeout=60)


@pytest.fixture
def tree(tmp_path):
    """A copy of the parts of the tree the check reads."""
    top = tmp_path / "tree"
    for part in ("lib", "src", "include"):
        shutil.copytree(ROOT / part, top / part)
    return top


def add_include(path, line):
    """Put line before the file's first include; its line number."""
    text = path.read_text()
    first = text.index("#include")
    path.write_text(text[:first] + line + "\n" + text[first:])
    return text.count("\n", 0, first) + 1


def test_this_tree_keeps_the_rules():
    r = run_check(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "arrows point down, no include circles" in r.stdout


def test_an_include_that_points_up_fails(tree):
    n = add_include(tree / "lib" / "base" / "util.c", '#include "oci/oci_ref.h"')
    r = run_check(tree)
    assert r.returncode == 1
    assert (f"lib/base/util.c:{n}: includes lib/oci/oci_ref.h: an arrow up from lib/base/ to lib/oci/"
            in r.stdout), r.stdout


def test_a_circle_between_modules_fails(tree):
    # redact already includes util; util including redact closes a circle on one floor
    add_include(tree / "lib" / "base" / "util.c", '#include "base/redact.h"')
    r = run_check(tree)
    assert r.returncode == 1
    assert "include circle between modules: lib/base/redact <-> lib/base/util\n" in r.stdout, r.stdout


def test_public_options_below_the_api_floor_fail(tree):
    path = tree / "lib" / "pipeline" / "detect.c"
    path.write_text(path.read_text() + "\nstatic const vmpull_pull_options *unused_options;\n")
    r = run_check(tree)
    assert r.returncode == 1
    assert "lib/pipeline/detect.c: names vmpull_pull_options below lib/api/" in r.stdout, r.stdout


def test_a_comment_naming_the_options_is_not_a_use(tree):
    path = tree / "lib" / "pipeline" / "detect.c"
    path.write_text(path.read_text() + "\n/* not vmpull_pull_options: the api floor reads those */\n")
    r = run_check(tree)
    assert r.returncode == 0, r.stdout


def test_a_file_outside_the_floors_fails(tree):
    (tree / "lib" / "stray.c").write_text('#include "base/util.h"\n')
    r = run_check(tree)
    assert r.returncode == 1
    assert "lib/stray.c: not on a floor" in r.stdout, r.stdout


def test_the_cli_uses_the_public_header_only(tree):
    n = add_include(tree / "src" / "tool_pull.c", '#include "base/util.h"')
    r = run_check(tree)
    assert r.returncode == 1
    assert f"src/tool_pull.c:{n}: includes lib/base/util.h: the CLI uses include/vmpull.h only" in r.stdout, r.stdout
