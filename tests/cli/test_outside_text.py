"""Text from outside (issue 12): a registry's error text, a header, a reference, a machine name,
a layer title. Nothing a server, a manifest or an argument says reaches a terminal or a --json
consumer raw: it goes through the one cleaning function (C0, DEL, C1 and invalid UTF-8 become
\\xNN), and what would choose a path is refused instead."""
import json
import os
import subprocess

import pytest

from conftest import VMPULL, check_sanitizer_report, leftovers
from servers.fixture_hostile_registry import RAW_DISK
from servers.oci_layout import Layout


@pytest.fixture
def env(tmp_path):
    return {"XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "HOME": str(tmp_path / "home")}


class Run:
    def __init__(self, proc):
        self.rc, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    def __repr__(self):
        return f"<rc={self.rc} stdout={self.out!r} stderr={self.err!r}>"


def run_bytes(*args, env=None):
    """vmpull with stdout and stderr as bytes: a raw byte that is not UTF-8 must not break the test."""
    proc = subprocess.run([VMPULL, *map(str, args)], capture_output=True, env={**os.environ, **(env or {})},
                          timeout=120)
    check_sanitizer_report(proc.stderr, args)
    return Run(proc)


def assert_clean_line(data):
    """One line of valid UTF-8 with no control character in it (C0, DEL, C1)."""
    assert data.endswith(b"\n") and data.count(b"\n") == 1, data
    text = data[:-1].decode("utf-8")  # raises on a byte that is not UTF-8
    bad = [c for c in text if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f]
    assert not bad, (bad, data)
    return text


def error_line(stderr):
    """The one error line of stderr; warnings before it must be clean lines too."""
    lines = stderr.splitlines(keepends=True)
    for warning in lines[:-1]:
        assert assert_clean_line(warning).startswith("vmpull: warning: "), stderr
    assert lines, stderr
    line = assert_clean_line(lines[-1])
    assert line.startswith("vmpull: ") and not line.startswith("vmpull: warning: "), stderr
    return line


def assert_failed_cleanly(res, code, rc=1, json_flag=True):
    """A failure: one clean error line on stderr and, with --json, one clean JSON line on stdout."""
    assert res.rc == rc, res
    line = error_line(res.err)
    if json_flag:
        doc = json.loads(assert_clean_line(res.out))
        assert doc["error"]["code"] == code, doc
        assert "vmpull: " + doc["error"]["message"] == line
        return doc["error"]["message"]
    assert res.out == b"", res
    return line[len("vmpull: "):]


# --- item 6: a registry's error text ------------------------------------------------------------

CLEANED_MESSAGE = "gone\\x1b[31m\\x0avmpull: forged line\\xc2\\x9b2J \\xff end"


@pytest.mark.parametrize("cmd", ["pull", "inspect"])
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_registry_error_text_is_cleaned(hostile_registry, tmp_path, env, cmd, json_flag):
    """ESC, a newline, U+009B and a byte that is not UTF-8 in a registry's error message arrive
    as \\xNN escapes, on stderr and in --json."""
    out = tmp_path / "out"
    out.mkdir()
    res = run_bytes(cmd, *json_flag, "--progress", "never", "--retries", "0", "--tls-verify=false", "--data-dir", out,
                    hostile_registry.ref("rawmessage/disk"), env=env)
    msg = assert_failed_cleanly(res, "not_found", json_flag=bool(json_flag))
    assert CLEANED_MESSAGE in msg, msg
    assert leftovers(out) == []


def test_header_text_in_the_result_is_cleaned(hostile_registry, tmp_path, env):
    """A Content-Disposition file name with ESC, a newline and U+009B is reported cleaned."""
    out = tmp_path / "disk.raw"
    res = run_bytes("pull", "--json", "--progress", "never", "-o", out, hostile_registry.url("files/disposition.raw"),
                    env=env)
    assert res.rc == 0, res
    doc = json.loads(assert_clean_line(res.out))
    assert doc["content_disposition"] == "evil\\x1b[31m\\x0a\\xc2\\x9bname.raw", doc
    assert out.read_bytes() == RAW_DISK


# --- item 5: credentials in a docker:// reference -------------------------------------------------


@pytest.mark.parametrize("cmd", ["pull", "inspect", "save"])
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_docker_reference_with_userinfo_is_refused(tmp_path, env, cmd, json_flag):
    """docker://alice:secret@host/... is a usage error that shows the password as ***, never the
    password itself, in every command, plain and --json."""
    ref = "docker://alice:Sup3r-s3cret@127.0.0.1:9/repo:tag"
    dest = [f"oci-dir://{tmp_path / 'layout'}"] if cmd == "save" else []
    res = run_bytes(cmd, *json_flag, "--progress", "never", "--data-dir", tmp_path / "out", ref, *dest, env=env)
    msg = assert_failed_cleanly(res, "usage", rc=2, json_flag=bool(json_flag))
    assert b"Sup3r-s3cret" not in res.out + res.err, res
    assert "alice:***@127.0.0.1:9/repo:tag" in msg and "no user:password@" in msg, msg
    assert not (tmp_path / "out").exists() and not (tmp_path / "layout").exists()


# --- item 9: machine names and output paths -------------------------------------------------------


@pytest.fixture
def image(tmp_path):
    src = tmp_path / "img.raw"
    src.write_bytes(RAW_DISK)
    return src


@pytest.mark.parametrize("name, says", [
    ("vm\nname", "'\\x0a' is not allowed"),
    ("\x1b[31mvm", "'\\x1b' cannot start it"),
    ("vm\u009bx", "'\\xc2\\x9b' is not allowed"),
    ("-vm", "'-' cannot start it"),
    ("vm/../../x", "'/' is not allowed"),
    ("v\u00e9m", "'\u00e9' is not allowed"),
])
@pytest.mark.parametrize("cmd", ["pull", "inspect"])
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_machine_name_follows_podmans_rule(image, tmp_path, env, name, says, cmd, json_flag):
    """-n takes ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$: anything else is a usage error naming the character
    (cleaned), and no file is made."""
    out = tmp_path / "out"
    out.mkdir()
    src = image if cmd == "pull" else "oci-dir:///nonexistent"
    res = run_bytes(cmd, *json_flag, "--progress", "never", "--data-dir", out, "-n", name, src, env=env)
    msg = assert_failed_cleanly(res, "usage", rc=2, json_flag=bool(json_flag))
    assert says in msg and "[a-zA-Z0-9][a-zA-Z0-9_.-]*" in msg, msg
    assert leftovers(out) == []


def test_machine_name_allowed(image, tmp_path, env):
    out = tmp_path / "out"
    res = run_bytes("pull", "--progress", "never", "--data-dir", out, "-n", "Vm.1_a-b", image, env=env)
    assert res.rc == 0, res
    assert res.out == f"{out}/Vm.1_a-b_img.raw\n".encode()


@pytest.mark.parametrize("bad", ["two\nlines.raw", "esc\x1b[2J.raw", "del\x7f.raw", "csi\u009b.raw"])
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_output_path_with_a_control_character_is_refused(image, tmp_path, env, bad, json_flag):
    """stdout carries the path on one line: an -o path that could not be printed so is refused."""
    out = tmp_path / "out"
    out.mkdir()
    res = run_bytes("pull", *json_flag, "--progress", "never", "-o", out / bad, image, env=env)
    msg = assert_failed_cleanly(res, "usage", rc=2, json_flag=bool(json_flag))
    assert "holds a control character" in msg, msg
    assert leftovers(out) == []


# --- a hostile layer title is the manifest's fault ------------------------------------------------


@pytest.mark.parametrize("title", ["../x", "/abs", "..", "sub/dir.raw", "two\nlines.raw", "esc\x1b[2J.raw",
                                   "csi\u009b.raw"])
@pytest.mark.parametrize("cmd", ["pull", "inspect"])
def test_hostile_layer_title_is_a_manifest_error(tmp_path, env, title, cmd):
    """A title that would choose a path or carry control text fails with code manifest (exit 1),
    not usage: the user did nothing wrong."""
    lay = Layout(tmp_path / "layout")
    entry = lay.disk_artifact(RAW_DISK, title, media_type="application/octet-stream", arch="amd64")
    lay.write_index([(entry, "x")])
    out = tmp_path / "out"
    out.mkdir()
    res = run_bytes(cmd, "--json", "--progress", "never", "--arch", "amd64", "--data-dir", out,
                    f"oci-dir://{lay.path}:x", env=env)
    msg = assert_failed_cleanly(res, "manifest", rc=1)
    assert "title" in msg and "is not usable" in msg, msg
    assert leftovers(out) == []


# --- cache records are shown clean ----------------------------------------------------------------


def test_cache_records_are_shown_clean(image, tmp_path, env):
    """`cache list` shows what a record in the cache says (anyone who can write the cache could
    have written it) through the same cleaning."""
    cache = tmp_path / "cache-dir"
    res = run_bytes("pull", "--progress", "never", "--cache-dir", cache, "-o", tmp_path / "disk.raw", image, env=env)
    assert res.rc == 0, res
    name = "a" * 64
    (cache / "partial" / name).write_bytes(b"part")
    (cache / "partial" / f"{name}.json").write_text(
        json.dumps({"key": "http://x/\x1b[2Jevil\nline", "digest": "sha256:\u009b"}))
    res = run_bytes("cache", "list", "--cache-dir", cache, env=env)
    assert res.rc == 0, res
    lines = res.out.decode().splitlines()
    assert len(lines) == 2, res
    assert lines[1].endswith("http://x/\\x1b[2Jevil\\x0aline") and "sha256:\\xc2\\x9b" in lines[1], lines


def test_manifest_text_in_inspect_is_cleaned(tmp_path, env):
    """What an index says (a disktype, a platform variant) reaches inspect's JSON cleaned."""
    lay = Layout(tmp_path / "layout")
    good = lay.disk_artifact(RAW_DISK, "disk.raw", media_type="application/octet-stream", arch="amd64")
    odd = lay.disk_artifact(RAW_DISK + b"x", "other.raw", media_type="application/octet-stream", arch="amd64",
                            disktype="evil\x1b[2J\u009b")
    odd["platform"]["variant"] = "v8\nforged"
    lay.write_index([(good, None), (odd, None)])
    res = run_bytes("inspect", "--all", "--arch", "amd64", "--data-dir", tmp_path / "out", f"oci-dir://{lay.path}",
                    env=env)
    assert res.rc == 0, res
    entries = json.loads(assert_clean_line(res.out))["entries"]
    shown = {e["disktype"]: e["platform"]["variant"] for e in entries}
    assert shown == {"qemu": None, "evil\\x1b[2J\\xc2\\x9b": "v8\\x0aforged"}, shown
