"""inspect and save share pull's option parser: its usage errors name the command that was typed."""
import pytest

from conftest import run_vmpull


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
