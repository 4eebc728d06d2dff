"""Shell completions: completions/vmpull.bash (driven through COMP_WORDS, as bash does) and
completions/_vmpull (driven in a real interactive zsh through zpty)."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, VMPULL

BASH_COMPLETION = ROOT / "completions" / "vmpull.bash"
ZSH_COMPLETION = ROOT / "completions" / "_vmpull"


def bash_complete(*words, cwd=None):
    """What bash would offer for the command line `words` (the last one being completed)."""
    script = (
        f"source {BASH_COMPLETION}\n"
        'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()\n'
        "_vmpull\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", VMPULL, *words],
                          capture_output=True, text=True, timeout=30, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return sorted(w for w in proc.stdout.splitlines() if w)


def help_options(*cmd):
    out = subprocess.run([VMPULL, *cmd, "--help"], capture_output=True, text=True, timeout=30).stdout
    return set(re.findall(r"(?:^|[ ,])(--[a-z][a-z0-9-]*)", out, flags=re.M))


def help_commands():
    out = subprocess.run([VMPULL, "--help"], capture_output=True, text=True, timeout=30).stdout
    section = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return {m.group(1) for m in re.finditer(r"^  ([a-z][a-z-]*)", section, flags=re.M)}


def test_bash_commands():
    assert {"pull", "help"} <= set(bash_complete(""))
    assert bash_complete("pu") == ["pull"]
    assert bash_complete("help", "") == sorted(help_commands())
    assert bash_complete("--v") == ["--version"]


def test_bash_options_are_those_of_the_help():
    offered = set(bash_complete("pull", "--"))
    assert offered == help_options("pull") | {"--help"}
    assert bash_complete("pull", "--pro") == ["--progress", "--provider"]


@pytest.mark.parametrize("option,values", [
    ("--provider", ["applehv", "hyperv", "libkrun", "qemu", "wsl"]),
    ("--arch", ["aarch64", "amd64", "arm64", "x86_64"]),
    ("--progress", ["always", "auto", "never"]),
])
def test_bash_option_values(option, values):
    assert bash_complete("pull", option, "") == values
    assert bash_complete("pull", "-q", option, values[0][:2]) == [v for v in values if v.startswith(values[0][:2])]
    # --opt=value, both as one word and as bash splits it at '='
    assert bash_complete("pull", f"{option}={values[0]}") == [f"{option}={values[0]}"]
    assert bash_complete("pull", option, "=", "") == values


def test_bash_paths(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "image.qcow2.xz").write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"")
    # a local source: files and folders
    assert bash_complete("pull", "im", cwd=tmp_path) == ["image.qcow2.xz", "images"]
    # a folder option: folders only
    assert bash_complete("pull", "--data-dir", "im", cwd=tmp_path) == ["images"]
    assert bash_complete("pull", "-o", "no", cwd=tmp_path) == ["notes.txt"]
    # schemes for remote sources
    assert bash_complete("pull", "do", cwd=tmp_path) == ["docker://"]
    assert set(bash_complete("pull", "http", cwd=tmp_path)) == {"http://", "https://"}


def test_zsh_file_matches_the_help():
    text = ZSH_COMPLETION.read_text()
    spec = text.split("_vmpull_pull_options=(", 1)[1].split("\n)\n", 1)[0]
    zsh_options = set(re.findall(r"(--[a-z][a-z0-9-]*)", spec))
    assert zsh_options == help_options("pull") | {"--help"}, "completions/_vmpull is out of step with pull --help"
    commands = text.split("commands=(", 1)[1].split(")", 1)[0]
    assert set(re.findall(r"'([a-z-]+):", commands)) == help_commands()


ZPTY_DRIVER = r"""
zmodload zsh/zpty
zpty -b z zsh -f -i
zpty -w z "fpath=($1 \$fpath); PATH=$2:\$PATH; PS1='%% '; autoload -Uz compinit; compinit -u -D"
# The echo of the typed line shows RE""ADY: only the command's output matches.
zpty -w z "zstyle ':completion:*' list-prompt ''; setopt nobeep; LISTMAX=1000; print RE\"\"ADY"
zpty -r z line '*READY*'
zpty -w -n z "$3"$'\t'$'\t'
sleep 1
out=""
while zpty -r -t z chunk; do out+=$chunk; done
print -r -- "$out"
zpty -d z
"""


def zsh_complete(line, tmp_path):
    if not shutil.which("zsh"):
        pytest.fail("zsh is not installed (scripts/install-deps test)")
    driver = tmp_path / "driver.zsh"
    driver.write_text(ZPTY_DRIVER)
    proc = subprocess.run(["zsh", "-f", str(driver), str(ZSH_COMPLETION.parent), str(Path(VMPULL).parent), line],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path)
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|[\x08\r]", "", proc.stdout)
    return screen


def test_zsh_completes_values_and_commands(tmp_path):
    screen = zsh_complete("vmpull pull --provider=", tmp_path)
    for provider in ("applehv", "hyperv", "libkrun", "qemu", "wsl"):
        assert provider in screen, screen
    screen = zsh_complete("vmpull pull --ar", tmp_path)
    assert "vmpull pull --arch=" in screen, screen
    screen = zsh_complete("vmpull pu", tmp_path)
    assert "vmpull pull" in screen, screen
    assert "zsh: command not found" not in screen and "_vmpull:" not in screen, screen


def test_bash_inspect_and_cache():
    offered = set(bash_complete("inspect", "--"))
    assert {"--all", "--provider", "--arch", "--creds"} <= offered
    assert bash_complete("cache", "") == ["list", "prune", "verify"]
    assert "--older-than" in bash_complete("cache", "prune", "--")
