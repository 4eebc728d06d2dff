"""The flags skopeo and podman users type: --username/--password, --password-stdin, --no-creds and
--creds USER (asking for the password on the terminal, no echo) against the htpasswd registry;
--platform linux/ARCH[/VARIANT] against a machine-OS layout. Every refusal comes before any request
(exit 2, a usage error, where a request would have failed with exit 1)."""
import base64
import json
import os
import pty
import select
import time
from pathlib import Path

import pytest

from conftest import run_vmpull
from servers.fixture_mirrors import machine_image
from servers.fixture_registry import REGISTRY_PASSWORD, REGISTRY_USER

REPO = "skopeo-flags/machine-os"


def env_for(tmp_path, **extra):
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(tmp_path / "run"), "REGISTRY_AUTH_FILE": "",
           "VMPULL_DEFAULT_IMAGE": "", "VMPULL_MIRRORS": ""}
    env.update(extra)
    return env


def pull_args(tmp_path, source, *args):
    return ["pull", "--json", "-q", "--no-cache", "--replace", "-o", tmp_path / "disk.raw", *args, source]


def pull(tmp_path, source, *args, input=None, env=None):
    return run_vmpull(*pull_args(tmp_path, source, *args), env=env or env_for(tmp_path), input=input)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return machine_image(tmp_path_factory.mktemp("flags-layout") / "layout", "flags")


@pytest.fixture(scope="module")
def basic(image, registry_basic):
    registry_basic.push(image["layout"].path, "src", REPO, "5.5")
    return registry_basic


def raw_of(image, arch="aarch64"):
    return image["disks"][(arch, "qemu")]["raw"]


def assert_pulled(res, tmp_path, raw):
    assert res.rc == 0, res
    assert (tmp_path / "disk.raw").read_bytes() == raw
    assert REGISTRY_PASSWORD not in res.stdout + res.stderr


def assert_usage(res, *needles):
    assert res.rc == 2, res
    msg = res.stderr.strip().splitlines()[-1]
    for n in needles:
        assert n in msg, (n, msg)
    assert REGISTRY_PASSWORD not in res.stdout + res.stderr


def test_username_and_password(tmp_path, image, basic):
    common = ["--ca-cert", basic.ca, "--arch", "aarch64"]
    ref = basic.ref(REPO, "5.5")
    res = pull(tmp_path, ref, *common, "--username", REGISTRY_USER, "--password", "wrong-password")
    assert res.rc == 1 and res.json["error"]["code"] == "auth", res
    assert_pulled(pull(tmp_path, ref, *common, "--username", REGISTRY_USER, "--password", REGISTRY_PASSWORD),
                  tmp_path, raw_of(image))


def test_password_stdin_reads_one_line(tmp_path, image, basic):
    common = ["--ca-cert", basic.ca, "--arch", "aarch64", "--username", REGISTRY_USER, "--password-stdin"]
    ref = basic.ref(REPO, "5.5")
    # one line, its newline (and a \r before it) stripped; what follows the line is not the password
    assert_pulled(pull(tmp_path, ref, *common, input=REGISTRY_PASSWORD + "\r\nnot-this\n"), tmp_path, raw_of(image))
    assert_pulled(pull(tmp_path, ref, *common, input=REGISTRY_PASSWORD), tmp_path, raw_of(image))
    assert_usage(pull(tmp_path, ref, *common, input=""), "--password-stdin read no password")


def test_no_creds_ignores_the_auth_files(tmp_path, image, basic):
    af = tmp_path / "auth.json"
    secret = base64.b64encode(f"{REGISTRY_USER}:{REGISTRY_PASSWORD}".encode()).decode()
    af.write_text(json.dumps({"auths": {basic.host: {"auth": secret}}}))
    env = env_for(tmp_path, REGISTRY_AUTH_FILE=str(af))
    common = ["--ca-cert", basic.ca, "--arch", "aarch64"]
    ref = basic.ref(REPO, "5.5")
    assert_pulled(pull(tmp_path, ref, *common, env=env), tmp_path, raw_of(image))
    res = pull(tmp_path, ref, *common, "--no-creds", env=env)
    assert res.rc == 1 and res.json["error"]["code"] == "auth", res
    assert "--no-creds sends no credentials" in res.json["error"]["message"]
    res = pull(tmp_path, ref, *common, "--no-creds", "--authfile", af, env=env)
    assert res.rc == 1 and res.json["error"]["code"] == "auth", res


@pytest.mark.parametrize("how", ["--password-stdin", "--password", "--creds"])
def test_refused_credentials_are_named_by_the_flags_given(tmp_path, image, basic, registry_plain, how):
    """Credentials the registry refuses, or that a mirror never gets, are named by the flags that gave
    them: --username/--password-stdin (or --password), not a --creds the user never typed."""
    named = {"--password-stdin": "--username/--password-stdin", "--password": "--username/--password",
             "--creds": "--creds"}[how]

    def creds(password):
        if how == "--creds":
            return ["--creds", f"{REGISTRY_USER}:{password}"], None
        if how == "--password":
            return ["--username", REGISTRY_USER, "--password", password], None
        return ["--username", REGISTRY_USER, "--password-stdin"], password + "\n"

    args, stdin = creds("wrong-password")
    res = pull(tmp_path, basic.ref(REPO, "5.5"), "--ca-cert", basic.ca, "--arch", "aarch64", *args, input=stdin)
    assert res.rc == 1 and res.json["error"]["code"] == "auth", res
    assert f"refused the credentials from {named} (HTTP 401)" in res.json["error"]["message"], res
    assert ("--creds" in res.stderr) == (how == "--creds"), res.stderr
    # the registry (which needs none) has the image; the mirror asks for credentials, which it never gets
    registry_plain.push(image["layout"].path, "src", REPO, "5.5")
    args, stdin = creds(REGISTRY_PASSWORD)
    res = pull(tmp_path, registry_plain.ref(REPO, "5.5"), "--tls-verify=false", "--arch", "aarch64", *args,
               "--mirror", f"{registry_plain.host}={basic.host}", input=stdin)
    assert_pulled(res, tmp_path, raw_of(image))
    (w,) = [line for line in res.stderr.splitlines() if line.startswith(f"vmpull: warning: mirror {basic.host}: ")]
    assert (f"{named} is for {registry_plain.host} only: put credentials for {basic.host} in an auth file"
            in w), w
    assert ("--creds" in res.stderr) == (how == "--creds"), res.stderr


# Nothing listens on port 9 of 127.0.0.1: a request would fail with exit 1 (network).
UNREACHABLE = "docker://127.0.0.1:9/nothing/here:1"


@pytest.mark.parametrize("args,needle", [
    (["--creds", "a:b", "--username", "a", "--password", "b"], "--creds and --username cannot be given together"),
    (["--no-creds", "--creds", "a:b"], "--no-creds and --creds cannot be given together"),
    (["--no-creds", "--username", "a", "--password", "b"], "--no-creds and --username cannot be given together"),
    (["--no-creds", "--password-stdin"], "--no-creds and --password-stdin cannot be given together"),
    (["--username", "a"], "--username needs --password or --password-stdin"),
    (["--password", "b"], "need --username"),
    (["--password-stdin"], "need --username"),
    (["--username", "a", "--password", "b", "--password-stdin"], "--password and --password-stdin"),
    (["--username", "a:b", "--password", "c"], "--username takes a user name without ':'"),
    (["--creds", ""], "--creds takes USER[:PASSWORD]"),
])
def test_credential_conflicts_are_refused_before_any_request(tmp_path, args, needle):
    assert_usage(pull(tmp_path, UNREACHABLE, *args, input="pw\n"), needle)


def test_creds_without_password_needs_a_terminal(tmp_path):
    res = pull(tmp_path, UNREACHABLE, "--creds", "alice", input="secret-from-a-pipe\n")
    assert_usage(res, "--creds USER has no password and stdin is not a terminal")
    assert "secret-from-a-pipe" not in res.stdout + res.stderr


def run_on_a_terminal(args, env, password):
    """vmpull with a pty as its controlling terminal and stdio; answers the prompt. (rc, what the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(os.environ.get("VMPULL_BIN", str(Path(__file__).resolve().parents[2] / "build" / "vmpull")),
                  ["vmpull", *[str(a) for a in args]], dict(os.environ, **env))
    shown = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
        if not answered and b"Password: " in shown:
            os.write(fd, password.encode() + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace"), answered


def test_creds_user_asks_for_the_password_without_echo(tmp_path, image, basic):
    args = pull_args(tmp_path, basic.ref(REPO, "5.5"), "--ca-cert", basic.ca, "--arch", "aarch64",
                     "--creds", REGISTRY_USER)
    rc, shown, answered = run_on_a_terminal(args, env_for(tmp_path), REGISTRY_PASSWORD)
    assert answered and rc == 0, shown
    assert REGISTRY_PASSWORD not in shown  # not echoed
    assert (tmp_path / "disk.raw").read_bytes() == raw_of(image)
    rc, shown, answered = run_on_a_terminal(args, env_for(tmp_path), "wrong-password")
    assert answered and rc == 1 and "refused the credentials" in shown, shown
    assert "wrong-password" not in shown


@pytest.mark.parametrize("platform,arch", [("linux/arm64", "aarch64"), ("linux/arm64/v8", "aarch64"),
                                           ("linux/aarch64", "aarch64"), ("linux/amd64", "x86_64"),
                                           ("linux/x86_64/v1", "x86_64")])
def test_platform_chooses_the_architecture(tmp_path, image, platform, arch):
    source = f"oci-dir://{image['layout'].path}:src"
    res = pull(tmp_path, source, "--platform", platform)
    assert_pulled(res, tmp_path, raw_of(image, arch))
    same = "arm64" if arch == "aarch64" else "amd64"
    assert_pulled(pull(tmp_path, source, "--platform", platform, "--arch", same), tmp_path, raw_of(image, arch))
    res = run_vmpull("inspect", "--platform", platform, source, env=env_for(tmp_path))
    assert res.rc == 0 and json.loads(res.stdout)["platform"]["architecture"] == arch, res


@pytest.mark.parametrize("args,needle", [
    (["--platform", "linux/arm64", "--arch", "x86_64"], "--arch x86_64 and --platform linux/arm64 name different"),
    (["--arch", "amd64", "--platform", "linux/aarch64"], "name different architectures"),
    (["--platform", "windows/amd64"], "machine images are linux ones"),
    (["--platform", "linux/arm64/v7"], "does not choose images by variant"),
    (["--platform", "linux/amd64/v3"], "does not choose images by variant"),
    (["--platform", "linux"], "--platform takes OS/ARCH[/VARIANT]"),
    (["--platform", "linux/"], "--platform takes OS/ARCH[/VARIANT]"),
    (["--platform", "linux/arm64/v8/x"], "--platform takes OS/ARCH[/VARIANT]"),
])
def test_platform_refusals(tmp_path, image, args, needle):
    assert_usage(pull(tmp_path, f"oci-dir://{image['layout'].path}:src", *args), needle)
