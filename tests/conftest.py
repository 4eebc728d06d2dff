"""Shared pytest fixtures for the CLI tests.

Server fixtures live in tests/servers/fixture_*.py and are loaded automatically, so each
kind of server is one file and adding one touches nothing else.
"""
import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

pytest_plugins = sorted(
    "servers." + Path(p).stem for p in glob.glob(str(Path(__file__).parent / "servers" / "fixture_*.py"))
)

VMPULL = os.environ.get("VMPULL_BIN", str(ROOT / "build" / "vmpull"))
CORPORA = Path(os.environ.get("VMPULL_CORPORA", str(ROOT.parent / "shared" / "corpora")))


def node_file_name(request, suffix=""):
    """A file name of the test's own: its node name (parameters included, made safe for a URL path) and
    suffix, so that tests sharing a session's server never share a file."""
    return request.node.name.replace("[", "-").replace("]", "").replace("/", "-") + suffix


def isolated_env(tmp_path, **extra):
    """No auth file, cache, data, mirrors or default image of the user's: HOME and the XDG folders under
    tmp_path (extra: more variables, or other values)."""
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(tmp_path / "run"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "REGISTRY_AUTH_FILE": "", "VMPULL_DEFAULT_IMAGE": "",
           "VMPULL_MIRRORS": ""}
    env.update(extra)
    return env


def open_files(pid):
    """The paths process pid has open (/proc/PID/fd), none once it is gone."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    paths = []
    for fd in fds:
        try:
            paths.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass  # closed meanwhile
    return paths


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return f"<rc={self.rc} stdout={self.stdout!r} stderr={self.stderr!r}>"


def run_vmpull(*args, env=None, timeout=120, input=None, cwd=None):
    """Run build/vmpull with a clean progress setting; returns Result."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    proc = subprocess.run(
        [VMPULL, *[str(a) for a in args]],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        input=input,
        cwd=cwd,
    )
    check_sanitizer_report(proc.stderr, args)
    return Result(proc)


# What ASan, LSan and UBSan print (make check-asan): a report fails the test even when
# vmpull was expected to fail, since UBSan's exit code is the same as a failed pull's.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def check_sanitizer_report(stderr, args=()):
    """Fail the current test if a sanitizer reported anything in stderr (text or bytes)."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else (stderr or "")
    if any(m in text for m in SANITIZER_MARKERS):
        pytest.fail(f"sanitizer report from vmpull {' '.join(map(str, args))}:\n{text}", pytrace=False)


@pytest.fixture
def vmpull():
    return run_vmpull


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """vmpull caches downloads in $XDG_CACHE_HOME/vmpull by default: every test gets its own
    empty cache, so no test sees another's downloads (or the user's ~/.cache)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture(scope="session")
def corpora():
    """The shared public corpora; tests that need them skip visibly when absent."""
    if not CORPORA.is_dir():
        pytest.skip(f"shared corpora not found at {CORPORA} (a user's clone has no ../shared)")
    return CORPORA


def leftovers(folder):
    """Every file in folder (recursively), temporaries included: a failed pull must leave none."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))
