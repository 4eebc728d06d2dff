"""inspect and save share pull's option parser: its usage errors name the command that was typed."""
import os
import subprocess

import pytest

from conftest import VMPULL, check_sanitizer_report, run_vmpull


@pytest.mark.parametrize("cmd,operands", [("pull", ["x"]), ("inspect", ["docker://r.example/a"]),
                                          ("save", ["docker://r.example/a", "oci-dir:///nonexistent/l"])])
@pytest.mark.parametrize("args,message", [
    (["--threads", "many"], "--threads takes a number from 0 (all CPUs) to 1024, not 'many'"),
    (["--provider", "vbox"], "unknown provider 'vbox'"),
    (["--retries=-1"], "--retries takes a number from 0 to 100, not '-1'"),
    (["--mirror", "nomirror"], "--mirror takes REGISTRY=MIRROR"),
    (["--frobnicate"], "unknown or incomplete option '--frobnicate' (see 'vmpull {cmd} --help')"),
])
def test_option_errors_name_the_command(cmd, operands, args, message):
    r = run_vmpull(cmd, *args, *operands)
    assert r.rc == 2 and r.stdout == "", r
    assert r.stderr.startswith(f"vmpull: {cmd}: {message.format(cmd=cmd)}") and r.stderr.count("\n") == 1, r


@pytest.mark.parametrize("cmd", ["inspect", "save"])
def test_missing_value_and_missing_source_name_the_command(cmd):
    r = run_vmpull(cmd, "x", "--cert-dir")
    assert r.rc == 2
    assert r.stderr == f"vmpull: {cmd}: option '--cert-dir' needs a value (see 'vmpull {cmd} --help')\n"
    r = run_vmpull(cmd)
    assert r.rc == 2
    assert r.stderr == f"vmpull: {cmd}: missing SOURCE (see 'vmpull {cmd} --help')\n"


@pytest.mark.parametrize("args,env,shown", [
    ([b"pull", b"--threads", b"\x1b[31m", b"x"], {}, b"not '\\x1b[31m'"),
    ([b"inspect", b"--provider", "\u009b2J".encode(), b"x"], {}, b"unknown provider '\\xc2\\x9b2J'"),
    ([b"pull", b"--mode", b"\xff\xfe", b"x"], {}, b"not '\\xff\\xfe'"),
    ([b"save", b"--mirror", b"no\x07mirror", b"docker://r.example/a", b"oci-dir:///nonexistent/l"], {},
     b"not 'no\\x07mirror'"),
    ([b"pull", b"x"], {"VMPULL_MIRRORS": "bad\x1b[2J"}, b"not 'bad\\x1b[2J'"),
    ([b"pull", b"--frob\x1b[31m", b"x"], {}, b"'--frob\\x1b[31m'"),
    ([b"pull", b"x", b"y\x1b]0;title\x07"], {}, b"got also 'y\\x1b]0;title\\x07'"),
    ([b"cache", b"prune", b"--older-than", b"\x1b[5m"], {}, b"not '\\x1b[5m'"),
    ([b"cache", b"li\x1bst"], {}, b"unknown command 'li\\x1bst'"),
    ([b"cache", b"list", b"extra\x7f"], {}, b"unexpected argument 'extra\\x7f'"),
    ([b"pu\x1bll"], {}, b"unknown command 'pu\\x1bll'"),
])
def test_option_errors_clean_what_they_echo(tmp_path, args, env, shown):
    """An argument (or VMPULL_MIRRORS) echoed in a usage error goes through the library's one cleaning
    function (vmpull_text_clean): an escape sequence typed or pasted on the command line is shown as
    \\xNN, never sent to the terminal (issue 13)."""
    proc = subprocess.run([VMPULL, *args], capture_output=True, timeout=60,
                          env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path),
                               "VMPULL_MIRRORS": "", **env})
    check_sanitizer_report(proc.stderr, args)
    assert proc.returncode == 2, proc
    err = proc.stderr
    assert err.startswith(b"vmpull: ") and err.endswith(b"\n") and err.count(b"\n") == 1, err
    text = err.decode("utf-8")  # valid UTF-8 (raises otherwise)
    assert not any(ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f for ch in text[:-1]), err
    assert shown in err, err
