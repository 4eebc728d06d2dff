"""Help that answers questions: `vmpull --help`, `vmpull help CMD`, `vmpull CMD --help` and the man
page cover every option (read from the option tables in src/), exit codes, the environment and the
files; a mistyped option or command gets the closest one suggested."""
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, run_vmpull

MAN = ROOT / "docs" / "vmpull.1"
ENVIRONMENT = ["VMPULL_DEFAULT_IMAGE", "VMPULL_MIRRORS", "https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "no_proxy",
               "NO_PROXY", "REGISTRY_AUTH_FILE", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "NO_COLOR",
               "LOCALAPPDATA"]
FILES = ["~/.local/share/vmpull/", "~/.cache/vmpull/", "blobs/sha256/", "auth.json", "~/.docker/config.json",
         "/etc/containers/certs.d/<host:port>/", "/etc/docker/certs.d/<host:port>/",
         "~/.config/containers/certs.d/"]


def long_options(source, table):
    """The long option names of a `static const struct option TABLE[]` in src/SOURCE."""
    text = (ROOT / "src" / source).read_text()
    body = text.split(f"{table}[] = {{", 1)[1].split("};", 1)[0]
    return sorted(set(re.findall(r'\{"([a-z][a-z0-9-]*)"', body)))


PULL_OPTIONS = long_options("tool_opts.c", "pull_longopts")


def commands():
    out = run_vmpull("--help").stdout
    section = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^  ([a-z][a-z-]*)", section, flags=re.M)


def test_main_help():
    r = run_vmpull("--help")
    assert r.rc == 0 and r.stderr == ""
    assert r.stdout == run_vmpull("-h").stdout == run_vmpull("help").stdout
    assert {"pull", "help"} <= set(commands())
    for section in ("Commands:", "Examples:", "Environment:", "Files:", "Exit status:"):
        assert section in r.stdout
    for word in ENVIRONMENT + FILES:
        assert word in r.stdout, word
    for status in ("0 success", "1 the operation failed", "2 usage error", "130", "143"):
        assert status in r.stdout


def test_every_command_has_help():
    for cmd in commands():
        r = run_vmpull("help", cmd)
        assert r.rc == 0 and r.stdout.startswith("Usage: vmpull"), (cmd, r)
        if cmd != "help":
            assert run_vmpull(cmd, "--help").stdout == r.stdout, cmd


def test_pull_help_covers_every_option():
    r = run_vmpull("pull", "--help")
    assert r.rc == 0 and r.stderr == ""
    assert r.stdout == run_vmpull("help", "pull").stdout
    documented = set(re.findall(r"(?:^|[ ,])--([a-z][a-z0-9-]*)", r.stdout, flags=re.M))
    missing = [o for o in PULL_OPTIONS if o not in documented and o != "help"]
    assert not missing, f"vmpull pull --help does not describe: {missing}"
    for word in ENVIRONMENT + FILES + ["Examples:", "SOURCE is one of:", "docker://", "oci-dir://", "https://"]:
        assert word in r.stdout, word
    examples = r.stdout.split("Examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(examples) >= 5 and all(e.startswith("  vmpull pull ") for e in examples)


def test_man_page_covers_every_option_with_an_example():
    text = MAN.read_text()
    plain = text.replace("\\-", "-")
    for opt in PULL_OPTIONS:
        assert f"--{opt}" in plain, f"docs/vmpull.1 does not describe --{opt}"
    # each option entry (.TP) carries an example that uses it
    entries = re.split(r"^\.TP\n", plain.split(".SH PULL OPTIONS", 1)[1].split(".SH INSPECT", 1)[0], flags=re.M)
    described = {}
    for entry in entries[1:]:
        name = re.search(r"--([a-z][a-z0-9-]*)", entry.splitlines()[0])
        if name:
            described[name.group(1)] = entry
    for opt in PULL_OPTIONS:
        if opt == "help":
            continue
        assert opt in described, f"no .TP entry for --{opt}"
        example = re.search(r"^Example:\n\.B (vmpull .*)$", described[opt], flags=re.M)
        assert example and re.search(rf"(--{opt}\b|-[a-z] )", example.group(1)), f"--{opt} has no example"
    for word in ENVIRONMENT + ["EXIT STATUS", "FILES", "certs.d", "auth.json", "130", "143"]:
        assert word in plain, word


def test_man_page_renders_cleanly():
    if not shutil.which("groff"):
        pytest.fail("groff is not installed (groff-base)")
    proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(MAN)], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


@pytest.mark.parametrize("args,suggestion", [
    (["pull", "--provder", "qemu", "x"], "--provider"),
    (["pull", "--tls-verfy=false", "x"], "--tls-verify"),
    (["pull", "--outptu", "o", "x"], "--output"),
    (["pull", "--chekcsums", "f", "x"], "--checksums"),
    (["pull", "--keep-cahce", "x"], "--keep-cache"),
])
def test_unknown_option_suggests_the_closest(args, suggestion):
    r = run_vmpull(*args)
    assert r.rc == 2 and r.stdout == ""
    wrong = args[1].split("=")[0] if "=" not in args[1] else args[1]
    assert r.stderr == f"vmpull: pull: unknown option '{wrong}' (did you mean '{suggestion}'?)\n"


def test_unknown_option_without_a_close_one():
    r = run_vmpull("pull", "--frobnicate-everything", "x")
    assert r.rc == 2
    assert "did you mean" not in r.stderr and "see 'vmpull pull --help'" in r.stderr


@pytest.mark.parametrize("args,suggestion", [(["pul"], "pull"), (["--verison"], "--version"), (["help", "pulll"], "pull")])
def test_unknown_command_suggests_the_closest(args, suggestion):
    r = run_vmpull(*args)
    assert r.rc == 2 and r.stdout == ""
    assert f"(did you mean '{suggestion}'?)" in r.stderr


def test_unknown_command_without_a_close_one():
    r = run_vmpull("xyzzy")
    assert r.rc == 2
    assert r.stderr == "vmpull: unknown command 'xyzzy' (see 'vmpull --help')\n"


def test_version():
    r = run_vmpull("--version")
    assert r.rc == 0 and re.fullmatch(r"vmpull \d+\.\d+\.\d+\n", r.stdout)
