"""registries.conf (containers-registries.conf(5)) driving docker:// pulls, with real registries
(Debian's docker-registry, plain http) and real files: the main file from --registries-conf,
$CONTAINERS_REGISTRIES_CONF or $HOME, drop-ins, and skopeo reading the same file as the
independent reader. Registries' access logs say which host was asked for what."""
import json
import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import run_vmpull
from servers.common import free_port, running, start_or_fail
from servers.fixture_mirrors import access_log, machine_image
from servers.fixture_registry import REGISTRY_PASSWORD, REGISTRY_USER, Registry

REPO = "confd/os"


def env_for(tmp_path, **extra):
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(tmp_path / "run"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "REGISTRY_AUTH_FILE": "", "VMPULL_DEFAULT_IMAGE": "",
           "VMPULL_MIRRORS": "", "CONTAINERS_REGISTRIES_CONF": "", "REGISTRIES_CONFIG_PATH": ""}
    env.update(extra)
    return env


def conf(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def pull(tmp_path, source, *args, env=None):
    """A pull without --tls-verify=false: only registries.conf may make a plain-http registry reachable."""
    out = tmp_path / "out"
    return run_vmpull("pull", "--json", "-q", "--no-cache", "--replace", "--arch", "x86_64", "--data-dir", out, *args,
                      source, env=env or env_for(tmp_path))


def blob_gets(reg, digest):
    return sum(1 for m, p, _ in access_log(reg) if m == "GET" and p.endswith(f"/blobs/{digest}"))


def manifest_gets(reg, repo):
    return sum(1 for m, p, _ in access_log(reg) if m in ("GET", "HEAD") and p.startswith(f"/v2/{repo}/manifests/"))


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return machine_image(tmp_path_factory.mktemp("confd") / "layout", "confd", arches=("x86_64",),
                         disktypes=("qemu",))


@pytest.fixture(scope="module")
def origin(tmp_path_factory, image):
    with_image = start_or_fail(Registry(tmp_path_factory.mktemp("origin")))
    with_image.push(image["layout"].path, "src", REPO, "1")
    yield from running(with_image)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory, image):
    with_image = start_or_fail(Registry(tmp_path_factory.mktemp("confmirror")))
    with_image.push(image["layout"].path, "src", REPO, "1")
    yield from running(with_image)


def disk(image):
    return image["disks"][("x86_64", "qemu")]


def assert_pulled(res, image):
    assert res.rc == 0, res
    assert Path(res.json["path"]).read_bytes() == disk(image)["raw"]
    return res.json


def assert_config_error(res, *texts):
    assert res.rc == 1, res
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "config", err
    for t in texts:
        assert t in err["message"], err
    return err


def the_blob(image):
    return disk(image)["layer"]


def test_mirror_from_the_conf_serves_the_blob(tmp_path, image, origin, mirror):
    f = conf(tmp_path / "registries.conf", f"""
[[registry]]
location = "{origin.host}"
insecure = true
[[registry.mirror]]
location = "{mirror.host}"
insecure = true
""")
    before_o, before_m = blob_gets(origin, the_blob(image)), blob_gets(mirror, the_blob(image))
    res = pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", f)
    out = assert_pulled(res, image)
    assert out.get("mirror") == mirror.host, out
    assert blob_gets(mirror, the_blob(image)) == before_m + 1
    assert blob_gets(origin, the_blob(image)) == before_o
    # --no-registries-conf ignores it all: the origin is plain http and nothing says it may be.
    res = pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", f, "--no-registries-conf")
    assert res.rc == 1 and json.loads(res.stdout)["error"]["code"] in ("tls", "network"), res
    assert blob_gets(origin, the_blob(image)) == before_o


def test_option_mirrors_come_first(tmp_path, image, origin, mirror):
    """--mirror is tried before the conf's mirrors; a dead conf mirror is skipped with one warning."""
    dead = f"127.0.0.1:{free_port()}"
    f = conf(tmp_path / "registries.conf", f"""
[[registry]]
location = "{origin.host}"
insecure = true
[[registry.mirror]]
location = "{dead}"
insecure = true
""")
    before_m = blob_gets(mirror, the_blob(image))
    res = pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", f, "--tls-verify=false", "--mirror",
               f"{origin.host}={mirror.host}")
    assert assert_pulled(res, image).get("mirror") == mirror.host
    assert blob_gets(mirror, the_blob(image)) == before_m + 1
    before_o = blob_gets(origin, the_blob(image))
    res = pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", f)
    assert_pulled(res, image)
    assert f"mirror {dead}" in res.stderr and blob_gets(origin, the_blob(image)) == before_o + 1, res


def test_location_rewrites_the_registry(tmp_path, image, origin):
    f = conf(tmp_path / "registries.conf", f"""
[[registry]]
prefix = "registry.example/team"
location = "{origin.host}/confd"
insecure = true
""")
    before = manifest_gets(origin, REPO)
    res = pull(tmp_path, "docker://registry.example/team/os:1", "--registries-conf", f)
    assert_pulled(res, image)
    assert manifest_gets(origin, REPO) > before


def test_insecure_reaches_plain_http_for_that_host_only(tmp_path, image, origin, mirror):
    f = conf(tmp_path / "registries.conf", f"""
[[registry]]
location = "{origin.host}"
insecure = true
""")
    res = pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", f)
    assert_pulled(res, image)
    # The warning names what made the host insecure: the file, not a flag nobody gave.
    assert "trying plain http (registries.conf: insecure = true)" in res.stderr, res
    # The other registry is not insecure: https only, which it does not speak.
    res = pull(tmp_path, mirror.ref(REPO, "1"), "--registries-conf", f)
    assert res.rc == 1 and json.loads(res.stdout)["error"]["code"] in ("tls", "network"), res


def test_blocked_registry_is_refused_naming_the_file(tmp_path, origin):
    f = conf(tmp_path / "blocking.conf", f"""
[[registry]]
prefix = "{origin.host}/confd"
location = "{origin.host}/confd"
blocked = true
""")
    before = manifest_gets(origin, REPO)
    res = pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", f)
    assert_config_error(res, f"{origin.host}/confd is blocked in {f}")
    assert manifest_gets(origin, REPO) == before
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # inspect and save read it too.
    res = run_vmpull("inspect", "--json", "--registries-conf", f, origin.ref(REPO, "1"), env=env_for(tmp_path))
    assert_config_error(res, "is blocked in")
    # --no-registries-conf ignores it.
    res = pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", f, "--no-registries-conf", "--tls-verify=false")
    assert res.rc == 0, res


def test_pull_from_mirror_digest_only_keeps_tags_at_the_origin(tmp_path, image, origin, mirror):
    f = conf(tmp_path / "registries.conf", f"""
[[registry]]
location = "{origin.host}"
insecure = true
[[registry.mirror]]
location = "{mirror.host}"
insecure = true
pull-from-mirror = "digest-only"
""")
    before_o, before_m = blob_gets(origin, the_blob(image)), blob_gets(mirror, the_blob(image))
    res = pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", f)
    out = assert_pulled(res, image)
    assert not out.get("mirror"), out
    assert blob_gets(origin, the_blob(image)) == before_o + 1
    assert blob_gets(mirror, the_blob(image)) == before_m
    res = pull(tmp_path, origin.ref(REPO, digest=image["index"]), "--registries-conf", f)
    assert assert_pulled(res, image).get("mirror") == mirror.host
    assert blob_gets(mirror, the_blob(image)) == before_m + 1


def test_broken_toml_names_line_and_column(tmp_path, origin):
    f = conf(tmp_path / "registries.conf", '[[registry]]\nprefix = "quay.io"\nlocation = = "x"\n')
    res = pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", f)
    assert_config_error(res, f"{f}:3:")
    # A drop-in that does not parse is an error too (never silently ignored).
    env = env_for(tmp_path)
    good = conf(tmp_path / "main.conf", "")
    conf(Path(env["HOME"]) / ".config/containers/registries.conf.d/50-broken.conf", "[[registry]\n")
    res = pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", good, env=env)
    assert_config_error(res, "50-broken.conf:1:")
    # A well-formed file that breaks containers/image's rules names its line too.
    f.write_text(f'[[registry]]\nlocation = "{origin.host}"\n[[registry.mirror]]\nlocation = "https://x.example"\n')
    assert_config_error(pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", f), ":3:",
                        "URI schemes are not supported")


def test_home_file_drop_ins_and_the_override_order(tmp_path, image, origin):
    env = env_for(tmp_path)
    home = Path(env["HOME"]) / ".config/containers"
    # $HOME's file blocks; its drop-ins in lexical order: the later one for the same prefix wins.
    conf(home / "registries.conf", f'[[registry]]\nlocation = "{origin.host}"\nblocked = true\n')
    assert_config_error(pull(tmp_path, origin.ref(REPO, "1"), env=env), str(home / "registries.conf"))
    conf(home / "registries.conf.d/20-open.conf", f'[[registry]]\nlocation = "{origin.host}"\ninsecure = true\n')
    conf(home / "registries.conf.d/10-blocked.conf", f'[[registry]]\nlocation = "{origin.host}"\nblocked = true\n')
    assert_pulled(pull(tmp_path, origin.ref(REPO, "1"), env=env), image)
    (home / "registries.conf.d/30-blocked-again.conf").write_text(
        f'[[registry]]\nlocation = "{origin.host}"\nblocked = true\n')
    assert_config_error(pull(tmp_path, origin.ref(REPO, "1"), env=env), "30-blocked-again.conf")
    (home / "registries.conf.d/30-blocked-again.conf").unlink()
    # $CONTAINERS_REGISTRIES_CONF replaces $HOME's main file (the drop-ins stay); --registries-conf replaces both.
    envfile = conf(tmp_path / "env.conf", f'[[registry]]\nprefix = "{origin.host}/confd"\nlocation = "{origin.host}/confd"\n'
                   'blocked = true\n')
    env2 = dict(env, CONTAINERS_REGISTRIES_CONF=str(envfile))
    assert_config_error(pull(tmp_path, origin.ref(REPO, "1"), env=env2), str(envfile))
    insecure = conf(tmp_path / "main.conf", f'[[registry]]\nlocation = "{origin.host}"\ninsecure = true\n')
    res = pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", insecure, env=env2)
    assert_pulled(res, image)
    # A named main file must exist.
    res = pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", tmp_path / "missing.conf", env=env)
    assert_config_error(res, "missing.conf")


@pytest.mark.skipif(os.geteuid() != 0, reason="writes a drop-in into /etc/containers/registries.conf.d (root only)")
def test_system_drop_ins_unless_home_has_its_own_file(tmp_path, origin):
    folder = Path("/etc/containers/registries.conf.d")
    folder.mkdir(parents=True, exist_ok=True)
    name = folder / f"zz-vmpull-test-{uuid.uuid4().hex}.conf"
    try:
        name.write_text(f'[[registry]]\nprefix = "{origin.host}/confd"\nlocation = "{origin.host}/confd"\n'
                        'blocked = true\n')
        env = env_for(tmp_path)
        assert_config_error(pull(tmp_path, origin.ref(REPO, "1"), env=env), str(name))
        # --registries-conf keeps the drop-in folders.
        main = conf(tmp_path / "main.conf", "")
        assert_config_error(pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", main, env=env), str(name))
        # A registries.conf of one's own in $HOME: /etc's drop-ins are not read.
        conf(Path(env["HOME"]) / ".config/containers/registries.conf", "")
        res = pull(tmp_path, origin.ref(REPO, "1"), "--tls-verify=false", env=env)
        assert res.rc == 0, res
    finally:
        name.unlink(missing_ok=True)


def test_skopeo_and_vmpull_go_to_the_same_host(tmp_path, tmp_path_factory, image, origin, mirror):
    """skopeo is the independent reader: the same file sends both tools' inspect to the same
    registries (a location rewrite for one prefix, a mirror for the rewritten registry)."""
    f = conf(tmp_path / "registries.conf", f"""
[[registry]]
prefix = "rewritten.example"
location = "{origin.host}"
insecure = true
[[registry.mirror]]
location = "{mirror.host}"
insecure = true
pull-from-mirror = "tag-only"
""")
    env = env_for(tmp_path)
    src = "docker://rewritten.example/confd/os:1"
    seen = []
    for tool in (["skopeo", "inspect", "--raw", "--registries-conf", str(f), src],
                 [os.environ.get("VMPULL_BIN", "vmpull"), "inspect", "--json", "--registries-conf", str(f), src]):
        before = (manifest_gets(origin, REPO), manifest_gets(mirror, REPO))
        proc = subprocess.run(tool, capture_output=True, text=True, env=dict(os.environ, **env), timeout=120)
        assert proc.returncode == 0, (tool, proc.stderr)
        seen.append((manifest_gets(origin, REPO) - before[0] > 0, manifest_gets(mirror, REPO) - before[1] > 0))
    assert seen[0] == seen[1] == (False, True), seen
    # By digest the mirror is skipped (tag-only): both go to the location.
    src = f"docker://rewritten.example/confd/os@{image['index']}"
    seen = []
    for tool in (["skopeo", "inspect", "--raw", "--registries-conf", str(f), src],
                 [os.environ.get("VMPULL_BIN", "vmpull"), "inspect", "--json", "--registries-conf", str(f), src]):
        before = (manifest_gets(origin, REPO), manifest_gets(mirror, REPO))
        proc = subprocess.run(tool, capture_output=True, text=True, env=dict(os.environ, **env), timeout=120)
        assert proc.returncode == 0, (tool, proc.stderr)
        seen.append((manifest_gets(origin, REPO) - before[0] > 0, manifest_gets(mirror, REPO) - before[1] > 0))
    assert seen[0] == seen[1] == (True, False), seen


def test_credential_helpers_in_order(tmp_path, image, registry_basic):
    registry_basic.push(image["layout"].path, "src", "helped/os", "1")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-vmpulltest"
    helper.write_text("#!/bin/sh\nread host\n"
                      f"[ \"$host\" = \"{registry_basic.host}\" ] || {{ echo 'credentials not found'; exit 1; }}\n"
                      f"echo '{{\"Username\": \"{REGISTRY_USER}\", \"Secret\": \"{REGISTRY_PASSWORD}\"}}'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    env = env_for(tmp_path, PATH=f"{bin_dir}:{os.environ['PATH']}")
    ref = registry_basic.ref("helped/os", "1")
    f = conf(tmp_path / "registries.conf", 'credential-helpers = ["containers-auth.json", "vmpulltest"]\n')
    assert_pulled(pull(tmp_path, ref, "--ca-cert", registry_basic.ca, "--registries-conf", f, env=env), image)
    # Only the auth files (there are none): no credentials.
    f.write_text('credential-helpers = ["containers-auth.json"]\n')
    res = pull(tmp_path, ref, "--ca-cert", registry_basic.ca, "--registries-conf", f, env=env)
    assert res.rc == 1 and json.loads(res.stdout)["error"]["code"] == "auth", res
    # Without registries.conf the helper is not asked either.
    f.write_text('credential-helpers = ["vmpulltest"]\n')
    res = pull(tmp_path, ref, "--ca-cert", registry_basic.ca, "--registries-conf", f, "--no-registries-conf", env=env)
    assert res.rc == 1 and json.loads(res.stdout)["error"]["code"] == "auth", res


def test_short_name_error_quotes_alias_and_search_registries(tmp_path, origin):
    """docker://fedora stays Docker Hub's (here: docker.io relocated to a local registry that lacks it);
    the error quotes what the host's files say about the short name, and applies none of it."""
    env = env_for(tmp_path)
    d = Path(env["HOME"]) / ".config/containers/registries.conf.d"
    conf(d / "00-shortnames.conf", '[aliases]\n"fedora" = "registry.fedoraproject.org/fedora"\n')
    f = conf(tmp_path / "registries.conf", f"""
unqualified-search-registries = ["registry.fedoraproject.org", "quay.io"]
[[registry]]
prefix = "docker.io"
location = "{origin.host}"
insecure = true
""")
    res = pull(tmp_path, "docker://fedora:40", "--registries-conf", f, env=env)
    assert res.rc == 1, res
    msg = json.loads(res.stdout)["error"]["message"]
    assert "'fedora' is a short name" in msg and '"fedora" = "registry.fedoraproject.org/fedora"' in msg, msg
    assert f"unqualified-search-registries ({f}): registry.fedoraproject.org, quay.io" in msg, msg
    assert "00-shortnames.conf" in msg, msg
    # The request went to Docker Hub's name for it (relocated), not to the alias.
    assert any(p.startswith("/v2/library/fedora/manifests/") for _, p, _ in access_log(origin)), access_log(origin)


@pytest.mark.parametrize("entry,needle", [
    ('"quay.io/fedora" = "quay.io/fedora"', 'invalid short name "quay.io/fedora": must not contain registry'),
    ('"fedora:40" = "quay.io/fedora"', 'invalid short name "fedora:40": must not contain tag'),
    ('"fedora" = "quay.io/fedora:40"', 'alias "fedora": invalid value "quay.io/fedora:40": must not contain tag'),
    ('"fedora" = "library/fedora"', 'alias "fedora": invalid value "library/fedora": must contain registry'),
    ('"fedora" = "quay.io/fedora@sha256:' + "b" * 64 + '"', "must not contain digest"),
], ids=["name_with_registry", "name_with_tag", "value_with_tag", "value_without_registry", "value_with_digest"])
def test_bad_alias_is_refused_naming_file_and_alias(tmp_path, origin, entry, needle):
    """An [aliases] entry containers/image's sysregistriesv2 refuses (a name that is no short name, a
    value that is no registry/repository) makes the file an error, in the main file and in a
    drop-in alike; skopeo, the independent reader, refuses the same file."""
    env = env_for(tmp_path)
    main = conf(tmp_path / "registries.conf", f"[aliases]\n{entry}\n")
    res = pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", main, env=env)
    assert_config_error(res, f"{main}:2:", needle)
    proc = subprocess.run(["skopeo", "inspect", "--raw", "--registries-conf", str(main), origin.ref(REPO, "1")],
                          capture_output=True, text=True, env=dict(os.environ, **env), timeout=120)
    assert proc.returncode != 0 and "alias" in proc.stderr.lower(), proc.stderr
    good = conf(tmp_path / "main.conf", "")
    drop_in = conf(Path(env["HOME"]) / ".config/containers/registries.conf.d/50-aliases.conf", f"[aliases]\n{entry}\n")
    res = pull(tmp_path, origin.ref(REPO, "1"), "--registries-conf", good, env=env)
    assert_config_error(res, f"{drop_in}:2:", needle)
