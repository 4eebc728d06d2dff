"""Shell completions, made by `vmpull completion bash|zsh|fish` from the option tables vmpull parses
with (src/tool_completion.c): bash driven through COMP_WORDS as bash does, zsh in a real interactive
zsh through zpty, fish read line by line. Every option each one offers to each command is then given
to that command, which must accept it."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, VMPULL, run_vmpull

# Every command line vmpull parses, as the completions name them.
COMMANDS = ["pull", "inspect", "save", "cache list", "cache prune", "cache verify", "completion"]


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("completions")
    made = {}
    for shell, name in (("bash", "vmpull.bash"), ("zsh", "_vmpull"), ("fish", "vmpull.fish")):
        r = run_vmpull("completion", shell)
        assert r.rc == 0 and r.stderr == "", r
        (folder / name).write_text(r.stdout)
        made[shell] = folder / name
    return made


def bash_complete(script, *words, cwd=None):
    """What bash would offer for the command line `words` (the last one being completed)."""
    text = (
        f"source {script}\n"
        'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()\n'
        "_vmpull\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", text, "bash", VMPULL, *words],
                          capture_output=True, text=True, timeout=30, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return sorted(w for w in proc.stdout.splitlines() if w)


def table_options(source, table):
    """The long option names of `const struct option TABLE[]` in src/SOURCE."""
    text = (ROOT / "src" / source).read_text()
    body = text.split(f"{table}[] = {{", 1)[1].split("};", 1)[0]
    return set(re.findall(r'\{"([a-z][a-z0-9.-]*)"', body))


def help_defined(topic):
    """The options a --help text describes on a line of their own ("  -n, --name NAME  ...")."""
    out = run_vmpull("help", topic).stdout
    return {m.group(1) for m in re.finditer(r"^ {2,6}(?:-[a-z], )?(--[a-z][a-z0-9.-]*)", out, flags=re.M)}


def help_commands():
    out = run_vmpull("--help").stdout
    section = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return {m.group(1) for m in re.finditer(r"^  ([a-z][a-z-]*)", section, flags=re.M)}


def bash_offered(scripts, command):
    return set(bash_complete(scripts["bash"], *command.split(), "-"))


def zsh_offered(scripts, command):
    """The options of one command's _arguments call in the zsh script."""
    text = scripts["zsh"].read_text()
    word = command.split()[-1]
    block = re.search(rf"^ *{re.escape(word)}\)\n *_arguments -s -S(.*?);;", text, flags=re.M | re.S)
    assert block, f"no _arguments for {command} in the zsh script"
    return set(re.findall(r"^ *'(?:\([^)]*\))?\*?(--?[a-zA-Z][a-z0-9.-]*)", block.group(1), flags=re.M))


def fish_split(line):
    """The words of one line of fish (its quoting: \\' and \\\\ inside single quotes); a # outside
    quotes starts a comment. Fails on an unclosed quote."""
    words, word, quote, i, has = [], "", None, 0, False
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and i + 1 < len(line) and line[i + 1] in (quote + "\\" + ("$" if quote == '"' else "")):
                word += line[i + 1]
                i += 2
                continue
            if ch == quote:
                quote = None
            else:
                word += ch
        elif ch in "'\"":
            quote, has = ch, True
        elif ch == "#" and not word and not has:
            break
        elif ch.isspace():
            if word or has:
                words.append(word)
            word, has = "", False
        else:
            word += ch
        i += 1
    assert quote is None, f"unclosed quote in: {line}"
    if word or has:
        words.append(word)
    return words


def fish_offered(scripts, command):
    offered = set()
    for line in scripts["fish"].read_text().splitlines():
        if not line.startswith("complete "):
            continue
        words = fish_split(line)
        if "-n" not in words or words[words.index("-n") + 1] != f"__vmpull_is {command}":
            continue
        for flag, prefix in (("-s", "-"), ("-l", "--")):
            if flag in words:
                offered.add(prefix + words[words.index(flag) + 1])
    return offered


OFFERED = {"bash": bash_offered, "zsh": zsh_offered, "fish": fish_offered}


def test_commands(scripts):
    assert {"pull", "help", "completion"} <= set(bash_complete(scripts["bash"], ""))
    assert bash_complete(scripts["bash"], "pu") == ["pull"]
    assert bash_complete(scripts["bash"], "help", "") == sorted(help_commands())
    assert bash_complete(scripts["bash"], "--v") == ["--version"]
    assert bash_complete(scripts["bash"], "completion", "") == ["bash", "fish", "zsh"]
    assert bash_complete(scripts["bash"], "cache", "") == ["list", "prune", "verify"]
    commands = scripts["zsh"].read_text().split("commands=(", 1)[1].split("\n  )", 1)[0]
    assert set(re.findall(r"'([a-z-]+):", commands)) == help_commands()
    fish = scripts["fish"].read_text()
    assert set(re.findall(r"^complete -c vmpull -n \"__vmpull_is ''\" -a ([a-z-]+)", fish, flags=re.M)) == help_commands()


def test_offered_options_are_the_tables():
    """The pull options offered are the parser's table, whatever it holds (an option another change adds
    to pull_longopts is offered with no edit here), and each is described in the help."""
    pull = table_options("tool_opts.c", "pull_longopts")
    r = run_vmpull("completion", "bash")
    line = re.search(r"^ *'pull'\) printf '%s' '([^']*)'", r.stdout, flags=re.M).group(1)
    assert {w[2:] for w in line.split() if w.startswith("--")} == pull
    assert help_defined("pull") | {"--help"} == {f"--{o}" for o in pull}, "pull --help lacks a line for an option"
    cache = table_options("tool_cache.c", "cache_longopts")
    assert help_defined("cache") | {"--help"} == {f"--{o}" for o in cache}, "cache --help lacks a line"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_command_is_offered_its_own_options(scripts, shell):
    pull = {f"--{o}" for o in table_options("tool_opts.c", "pull_longopts")}
    cache = {f"--{o}" for o in table_options("tool_cache.c", "cache_longopts")}
    offered = {c: {o for o in OFFERED[shell](scripts, c) if o.startswith("--")} for c in COMMANDS}
    assert offered["pull"] == pull
    assert "--all" not in offered["pull"], "pull has no --all"
    assert offered["inspect"] == pull | {"--all"}
    assert offered["save"] == pull | {"--all", "--to-archive"}
    assert offered["cache prune"] == cache
    for sub in ("cache list", "cache verify"):
        assert offered[sub] == {"--cache-dir", "--json", "--help"}, sub
    assert "--keep-cache" not in offered["cache prune"]
    assert offered["completion"] == {"--help"}


SAMPLE = {"--mirror": "quay.io=cache.example:5000", "--creds": "user:pass", "--older-than": "14d",
          "--max-size": "1G", "--digest": "sha256:" + "0" * 64, "--mode": "0644", "--platform": "linux/arm64"}


def takes_value(scripts, command, option):
    """Does bash complete a value after option? The values it offers (may be [] for free text)."""
    text = f"source {scripts['bash']}\n_vmpull_value \"$1\" '' && echo takes && printf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", text, "bash", option], capture_output=True,
                          text=True, timeout=30)
    lines = proc.stdout.splitlines()
    return (lines[0] == "takes", [w for w in lines[1:] if w]) if lines else (False, [])


def test_every_offered_option_is_accepted(scripts, tmp_path):
    """Each option any completion offers to a command, given to that command (with a value when it takes one,
    each value a completion offers for it), parses: vmpull goes on to the --help after it."""
    (tmp_path / "f").write_bytes(b"")
    offered = {}
    for shell in OFFERED:
        for command in COMMANDS:
            for option in OFFERED[shell](scripts, command):
                offered.setdefault((command, option), set()).add(shell)
    assert len(offered) > 150
    for (command, option), shells in sorted(offered.items()):
        if option == "--help":
            continue
        takes, words = takes_value(scripts, command, option)
        values = [None]
        if takes:
            folder_or_file = str(tmp_path) if option.endswith("dir") or option.endswith(".d") else str(tmp_path / "f")
            values = words or [SAMPLE.get(option, folder_or_file if option in FILELIKE else "1")]
        for value in values:
            args = [*command.split(), option] + ([value] if value is not None else []) + ["--help"]
            r = run_vmpull(*args)
            assert r.rc == 0 and r.stdout.startswith("Usage: vmpull"), (shells, args, r.stderr)


FILELIKE = {"-o", "--output", "--ca-cert", "--authfile", "--checksums", "--checksums-signature", "--keyring",
            "--registries-conf", "--signature-policy", "--to-archive", "--bmap", "--data-dir", "--cache-dir", "--cert-dir",
            "--registries.d"}


@pytest.mark.parametrize("command,option", [("pull", "--all"), ("cache list", "--older-than"),
                                            ("cache verify", "--max-size"), ("inspect", "--bogus")])
def test_options_not_offered_are_refused_even_before_help(command, option):
    """What the acceptance test above relies on: an option a command does not take fails before --help."""
    r = run_vmpull(*command.split(), option, "1d", "--help")
    assert r.rc == 2 and r.stdout == "", r


@pytest.mark.parametrize("option,values", [
    ("--provider", ["applehv", "hyperv", "libkrun", "qemu", "wsl"]),
    ("--arch", ["aarch64", "amd64", "arm64", "x86_64"]),
    ("--progress", ["always", "auto", "json", "never"]),
])
def test_bash_option_values(scripts, option, values):
    bash = scripts["bash"]
    assert bash_complete(bash, "pull", option, "") == values
    assert bash_complete(bash, "pull", "-q", option, values[0][:2]) == [v for v in values if v.startswith(values[0][:2])]
    # --opt=value, both as one word and as bash splits it at '='
    assert bash_complete(bash, "pull", f"{option}={values[0]}") == [f"{option}={values[0]}"]
    assert bash_complete(bash, "pull", option, "=", "") == values


def test_bash_optional_value_only_after_equals(scripts):
    assert bash_complete(scripts["bash"], "pull", "--tls-verify=f") == ["--tls-verify=false"]
    # `--tls-verify false` would make "false" the SOURCE: nothing is offered as its value
    assert "false" not in bash_complete(scripts["bash"], "pull", "--tls-verify", "f")


def test_bash_paths(scripts, tmp_path):
    bash = scripts["bash"]
    (tmp_path / "images").mkdir()
    (tmp_path / "image.qcow2.xz").write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"")
    assert bash_complete(bash, "pull", "im", cwd=tmp_path) == ["image.qcow2.xz", "images"]
    assert bash_complete(bash, "pull", "--data-dir", "im", cwd=tmp_path) == ["images"]
    assert bash_complete(bash, "pull", "-o", "no", cwd=tmp_path) == ["notes.txt"]
    assert bash_complete(bash, "pull", "do", cwd=tmp_path) == ["docker://"]
    assert set(bash_complete(bash, "pull", "http", cwd=tmp_path)) == {"http://", "https://"}
    assert bash_complete(bash, "pull", "fc", cwd=tmp_path) == ["fcos://"]
    assert bash_complete(bash, "save", "x", "oci-a", cwd=tmp_path) == ["oci-archive:", "oci-archive://"]


def test_scripts_parse(scripts):
    proc = subprocess.run(["bash", "-n", str(scripts["bash"])], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    if not shutil.which("zsh"):
        pytest.fail("zsh is not installed (scripts/install-deps test)")
    proc = subprocess.run(["zsh", "-n", str(scripts["zsh"])], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    fish = scripts["fish"].read_text()
    if shutil.which("fish"):
        proc = subprocess.run(["fish", "-n", str(scripts["fish"])], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
    # without fish: every line splits as a shell would, blocks close, each complete names vmpull
    depth = 0
    for line in fish.splitlines():
        words = fish_split(line)
        if not words:
            continue
        depth += (words[0] in ("function", "for", "if")) - (words[0] == "end")
        assert depth >= 0, line
        if words[0] == "complete":
            assert words[1:3] == ["-c", "vmpull"], line
    assert depth == 0
    for source in ("fcos://", "oci-archive://", "docker://", "oci-dir://"):
        assert source in fish and source.replace(":", "\\:") in scripts["zsh"].read_text()


def test_installed_scripts_are_the_generated_ones(scripts):
    """meson makes the installed files with `vmpull completion` (completions/meson.build)."""
    built = Path(VMPULL).parent / "completions"
    if not built.is_dir():
        pytest.skip("VMPULL_BIN is not in a meson build folder")
    for shell, name in (("bash", "vmpull"), ("zsh", "_vmpull"), ("fish", "vmpull.fish")):
        assert (built / name).read_text() == scripts[shell].read_text(), name


def test_completion_usage_errors():
    assert run_vmpull("completion").rc == 2
    r = run_vmpull("completion", "tcsh")
    assert r.rc == 2 and "unknown shell 'tcsh'" in r.stderr


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


def zsh_complete(scripts, line, tmp_path):
    if not shutil.which("zsh"):
        pytest.fail("zsh is not installed (scripts/install-deps test)")
    driver = tmp_path / "driver.zsh"
    driver.write_text(ZPTY_DRIVER)
    proc = subprocess.run(["zsh", "-f", str(driver), str(scripts["zsh"].parent), str(Path(VMPULL).parent), line],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|[\x08\r]", "", proc.stdout)


def test_zsh_completes_values_and_commands(scripts, tmp_path):
    screen = zsh_complete(scripts, "vmpull pull --provider=", tmp_path)
    for provider in ("applehv", "hyperv", "libkrun", "qemu", "wsl"):
        assert provider in screen, screen
    screen = zsh_complete(scripts, "vmpull pull --ar", tmp_path)
    assert "vmpull pull --arch=" in screen, screen
    screen = zsh_complete(scripts, "vmpull pu", tmp_path)
    assert "vmpull pull" in screen, screen
    screen = zsh_complete(scripts, "vmpull cache prune --older", tmp_path)
    assert "--older-than=" in screen, screen
    assert "zsh: command not found" not in screen and "_vmpull:" not in screen, screen
