"""Registry mirrors (--mirror, VMPULL_MIRRORS, --mirror-by-digest-only) and a pull-through cache, with
real servers: Debian's docker-registry as origin, as mirror and in proxy mode (`proxy: remoteurl:`),
nginx as a mirror that fails with 503, and a closed port as a mirror that is down."""
import base64
import json
import re
import time
from pathlib import Path

import pytest

from conftest import isolated_env, leftovers, run_vmpull
from servers.common import free_port, running, start_or_fail
from servers.fixture_mirrors import Fronts, access_log, machine_image, raw_disk
from servers.fixture_registry import REGISTRY_PASSWORD, REGISTRY_USER, Registry
from servers.oci_layout import Layout

REPO = "mirrored/os"


def pull(tmp_path, source, *args, env=None):
    out = tmp_path / "out"
    return run_vmpull("pull", "--json", "-q", "--no-cache", "--tls-verify=false", "--arch", "x86_64",
                      "--data-dir", out, *args, source, env=env or isolated_env(tmp_path))


def blob_gets(reg, digest):
    return sum(1 for method, path, _ in access_log(reg) if method == "GET" and path.endswith(f"/blobs/{digest}"))


def requests_for(reg, repo):
    return [(m, p, s) for m, p, s in access_log(reg) if p.startswith(f"/v2/{repo}/")]


def warnings(res):
    return [line for line in res.stderr.splitlines() if line.startswith("vmpull: warning: mirror ")]


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return machine_image(tmp_path_factory.mktemp("mirrored") / "layout", "mirrored", arches=("x86_64",),
                         disktypes=("qemu",))


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    yield from running(start_or_fail(Registry(tmp_path_factory.mktemp("mirror"))))


@pytest.fixture(scope="module")
def both(image, registry_plain, mirror):
    """The image at the origin (registry_plain) and at the mirror, under the same name."""
    for reg in (registry_plain, mirror):
        reg.push(image["layout"].path, "src", REPO, "1")
    return registry_plain, mirror


def disk(image):
    return image["disks"][("x86_64", "qemu")]


def assert_pulled(res, raw):
    assert res.rc == 0, res
    assert Path(res.json["path"]).read_bytes() == raw
    return res.json


def test_dead_mirror_then_a_good_one(tmp_path, image, both):
    origin, good = both
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    d = disk(image)
    before = blob_gets(origin, d["layer"])
    res = pull(tmp_path, origin.ref(REPO, "1"), "--mirror", f"{origin.host}={dead}", "--mirror",
               f"{origin.host}={good.host}")
    j = assert_pulled(res, d["raw"])
    assert j["mirror"] == good.host
    assert j["reference"] == f"docker://{origin.host}/{REPO}@{d['manifest']}"  # results name the registry
    (w,) = warnings(res)
    assert w.startswith(f"vmpull: warning: mirror {dead}: ") and w.endswith(f"; trying {good.host}")
    assert blob_gets(origin, d["layer"]) == before  # the origin was not asked for the disk


def test_mirror_without_the_image_answers_404(tmp_path, image, both):
    origin, good = both
    res = pull(tmp_path, origin.ref(REPO, "1"), "--mirror", f"{origin.host}={good.host}/elsewhere")
    j = assert_pulled(res, disk(image)["raw"])
    assert j["mirror"] is None  # served by the registry itself
    (w,) = warnings(res)
    assert f"mirror {good.host}/elsewhere: " in w and "404" in w and w.endswith(f"; trying {origin.host}")
    assert requests_for(good, f"elsewhere/{REPO}")  # it was asked, under the namespace given


def test_failing_mirror_503_is_asked_once(tmp_path, image, both):
    origin, good = both
    fronts = Fronts(tmp_path / "fronts", good).start()
    try:
        res = pull(tmp_path, origin.ref(REPO, "1"), "--mirror", f"{origin.host}={fronts.failing}")
    finally:
        fronts.stop()
    assert_pulled(res, disk(image)["raw"])
    (w,) = warnings(res)
    assert "503" in w
    log = (tmp_path / "fronts" / "access.log").read_text()
    # no retries with backoff at a failing mirror: one request, then the registry
    assert len(re.findall(rf'"GET /v2/{REPO}/manifests/1 HTTP/1.1" 503', log)) == 1, log


@pytest.mark.parametrize("what", ["blob", "manifest"])
def test_tampered_content_at_a_mirror_is_an_error(tmp_path, tmp_path_factory, registry_plain, mirror, what):
    """A mirror that serves other bytes is not skipped: the digest says the pull is wrong."""
    lay = Layout(tmp_path_factory.mktemp("tampered") / "l")
    m = lay.disk_artifact(raw_disk(f"tampered-{what}"), "t.raw", media_type="application/octet-stream")
    lay.write_index([(lay.index([m]), "t")])
    repo = f"tampered/{what}"
    for reg in (registry_plain, mirror):
        reg.push(lay.path, "t", repo, "1")
    layer = json.loads(lay.blob_path(m).read_text())["layers"][0]["digest"]
    if what == "blob":
        mirror.blob_file(layer).write_bytes(raw_disk("tampered-other"))  # same size, other bytes
        wrong = layer
    else:
        stored = mirror.blob_file(m["digest"])
        stored.write_bytes(stored.read_bytes().replace(b'"t.raw"', b'"x.raw"'))  # still a valid manifest
        wrong = m["digest"]
    before = blob_gets(registry_plain, layer)
    res = pull(tmp_path, registry_plain.ref(repo, "1"), "--mirror", f"{registry_plain.host}={mirror.host}")
    assert res.rc == 1, res
    err = res.json["error"]
    assert err["code"] == "digest_mismatch" and f"expected {wrong}" in err["message"], err
    assert not warnings(res)  # no fallthrough to the registry
    assert blob_gets(registry_plain, layer) == before
    out = tmp_path / "out"
    assert not out.exists() or leftovers(out) == []


def test_mirror_by_digest_only(tmp_path, image, both):
    origin, good = both
    d = disk(image)
    spec = f"{origin.host}={good.host}"
    asked = len(requests_for(good, REPO))
    j = assert_pulled(pull(tmp_path, origin.ref(REPO, "1"), "--mirror", spec, "--mirror-by-digest-only"), d["raw"])
    assert j["mirror"] is None and len(requests_for(good, REPO)) == asked  # a tag never goes to the mirror
    j = assert_pulled(pull(tmp_path, origin.ref(REPO, digest=image["index"]), "--replace", "--mirror", spec,
                           "--mirror-by-digest-only"), d["raw"])
    assert j["mirror"] == good.host


def test_mirrors_from_the_environment_for_inspect_and_save(tmp_path, image, both):
    origin, good = both
    env = isolated_env(tmp_path, VMPULL_MIRRORS=f"docker.io=nowhere.example, {origin.host}={good.host}")
    ins = run_vmpull("inspect", "--tls-verify=false", "--arch", "x86_64", origin.ref(REPO, "1"), env=env)
    assert ins.rc == 0, ins
    assert ins.json["mirror"] == good.host and ins.json["manifest_digest"] == disk(image)["manifest"]
    dest = tmp_path / "layout"
    res = run_vmpull("save", "--json", "-q", "--tls-verify=false", "--arch", "x86_64", origin.ref(REPO, "1"),
                     f"oci-dir://{dest}", env=env)
    assert res.rc == 0 and res.json["mirror"] == good.host, res
    assert_pulled(pull(tmp_path, f"oci-dir://{dest}:1"), disk(image)["raw"])
    # --mirror replaces the environment's list
    res = pull(tmp_path, origin.ref(REPO, "1"), "--replace", "--mirror", "example.org=cache.example.org", env=env)
    assert res.rc == 0 and res.json["mirror"] is None, res


def test_offline_after_a_pull_through_a_mirror(tmp_path, image, both):
    """The cache keeps what the tag resolved to under the registry's name: --offline (no mirror asked) finds it."""
    origin, good = both
    env = isolated_env(tmp_path)
    args = ["pull", "--json", "-q", "--tls-verify=false", "--arch", "x86_64", "--replace", "-o", tmp_path / "d.raw"]
    res = run_vmpull(*args, "--mirror", f"{origin.host}={good.host}", origin.ref(REPO, "1"), env=env)
    assert res.rc == 0 and res.json["mirror"] == good.host, res
    res = run_vmpull(*args, "--offline", origin.ref(REPO, "1"), env=env)
    assert_pulled(res, disk(image)["raw"])


@pytest.fixture(scope="module")
def auth_mirror(tmp_path_factory, image):
    """A mirror that wants Basic credentials (htpasswd, REGISTRY_USER): what it answers 200 to had
    a valid Authorization, so its access log shows whether vmpull sent it one."""
    reg = start_or_fail(Registry(tmp_path_factory.mktemp("auth-mirror"), auth="htpasswd"))
    reg.push(image["layout"].path, "src", REPO, "1")
    yield reg
    reg.stop()


def statuses_at(reg):
    return [status for _, path, status in requests_for(reg, REPO)]


@pytest.mark.parametrize("creds", [True, False], ids=["with-creds", "no-creds"])
def test_creds_stay_with_the_registry_and_a_401_mirror_is_skipped(tmp_path, image, both, auth_mirror, creds):
    """--creds belong to the registry the reference names: the mirror gets none of them (here the
    registry's credentials would be good at the mirror, so a 200 there would show they went), and a
    mirror that answers 401 is skipped like one that is down."""
    origin, _ = both
    asked = len(statuses_at(auth_mirror))
    extra = ["--creds", f"{REGISTRY_USER}:{REGISTRY_PASSWORD}"] if creds else []
    res = pull(tmp_path, origin.ref(REPO, "1"), *extra, "--mirror", f"{origin.host}={auth_mirror.host}")
    j = assert_pulled(res, disk(image)["raw"])
    assert j["mirror"] is None  # the registry served it
    (w,) = warnings(res)
    assert w.startswith(f"vmpull: warning: mirror {auth_mirror.host}: ") and w.endswith(f"; trying {origin.host}"), w
    assert "authentication required" in w
    seen = statuses_at(auth_mirror)[asked:]
    assert seen and set(seen) == {401}, seen  # asked, and never with credentials it accepts
    assert REGISTRY_PASSWORD not in res.stdout + res.stderr


@pytest.mark.parametrize("creds", [True, False], ids=["with-creds", "no-creds"])
def test_a_401_mirror_says_its_credentials_go_in_an_auth_file(tmp_path, image, both, auth_mirror, creds):
    """--creds never go to a mirror, so a mirror's 401 must not say "use --creds": it says that --creds
    are the registry's and that the mirror's own credentials go in an auth file, under its host."""
    origin, _ = both
    extra = ["--creds", f"{REGISTRY_USER}:{REGISTRY_PASSWORD}"] if creds else []
    res = pull(tmp_path, origin.ref(REPO, "1"), *extra, "--mirror", f"{origin.host}={auth_mirror.host}")
    assert_pulled(res, disk(image)["raw"])
    (w,) = warnings(res)
    assert f"--creds is for {origin.host} only: put credentials for {auth_mirror.host} in an auth file" in w, w
    assert "use --creds" not in w, w


@pytest.mark.parametrize("via_auth_file", [False, True], ids=["creds", "auth-file"])
def test_creds_do_not_follow_a_location_to_another_host(tmp_path, image, both, auth_mirror, via_auth_file):
    """A registries.conf location on another host is not the registry the user gave --creds for
    (containers/image withholds them there as from a mirror): the location gets only the auth file's
    entry for its own host. The credentials here would be good there, so a 200 would show they went."""
    origin, _ = both
    conf = tmp_path / "registries.conf"
    conf.write_text(f"""
[[registry]]
prefix = "{origin.host}/{REPO}"
location = "{auth_mirror.host}/{REPO}"
insecure = true
""")
    env = isolated_env(tmp_path)
    if via_auth_file:
        auth = tmp_path / "auth.json"
        token = base64.b64encode(f"{REGISTRY_USER}:{REGISTRY_PASSWORD}".encode()).decode()
        auth.write_text(json.dumps({"auths": {auth_mirror.host: {"auth": token}}}))
        env = isolated_env(tmp_path, REGISTRY_AUTH_FILE=str(auth))
    asked = len(statuses_at(auth_mirror))
    res = pull(tmp_path, origin.ref(REPO, "1"), "--creds", f"{REGISTRY_USER}:{REGISTRY_PASSWORD}",
               "--registries-conf", conf, env=env)
    seen = statuses_at(auth_mirror)[asked:]
    if via_auth_file:
        assert_pulled(res, disk(image)["raw"])
        assert 200 in seen, seen
        return
    assert res.rc == 1, res
    err = res.json["error"]
    assert err["code"] == "auth", err
    assert f"--creds is for {origin.host} only: put credentials for {auth_mirror.host} in an auth file" in \
        err["message"], err
    assert seen and set(seen) == {401}, seen  # asked, and never with credentials it accepts
    assert REGISTRY_PASSWORD not in res.stdout + res.stderr


def test_a_mirror_uses_the_auth_file_entry_for_its_own_host(tmp_path, image, both, auth_mirror):
    """The mirror's credentials come from the auth file, under the mirror's host; --creds (wrong
    ones here, for the registry, which needs none) do not reach it."""
    origin, _ = both
    auth = tmp_path / "auth.json"
    token = base64.b64encode(f"{REGISTRY_USER}:{REGISTRY_PASSWORD}".encode()).decode()
    auth.write_text(json.dumps({"auths": {auth_mirror.host: {"auth": token}}}))
    asked = len(statuses_at(auth_mirror))
    res = pull(tmp_path, origin.ref(REPO, "1"), "--creds", "someone:wrong-password", "--mirror",
               f"{origin.host}={auth_mirror.host}", env=isolated_env(tmp_path, REGISTRY_AUTH_FILE=str(auth)))
    j = assert_pulled(res, disk(image)["raw"])
    assert j["mirror"] == auth_mirror.host
    assert not warnings(res)
    assert 200 in statuses_at(auth_mirror)[asked:]


@pytest.mark.parametrize("spec,code,needle", [
    ("quay.io", "usage", "REGISTRY=MIRROR"),
    ("{host}=http://cache.example:5000", "usage", "without a scheme"),
    ("{host}=cache", "usage", "registry host"),
])
def test_bad_mirror_options(tmp_path, registry_plain, spec, code, needle):
    res = pull(tmp_path, registry_plain.ref(REPO, "1"), "--mirror", spec.format(host=registry_plain.host))
    assert res.rc == 2, res
    assert needle in res.stderr
    if res.stdout:
        assert res.json["error"]["code"] == code


def test_pull_through_cache(tmp_path, tmp_path_factory, image, new_registry):
    """distribution in proxy mode (`proxy: remoteurl:`) in front of an origin: two machines pull
    through it; the second pull costs the origin no blob request."""
    origin = new_registry("ptc-origin")
    origin.push(image["layout"].path, "src", REPO, "1")
    cache = new_registry("ptc-cache", extra_config=f"proxy:\n  remoteurl: http://{origin.host}\n")
    d = disk(image)
    spec = f"{origin.host}={cache.host}"
    first = assert_pulled(pull(tmp_path / "one", origin.ref(REPO, "1"), "--mirror", spec), d["raw"])
    assert first["mirror"] == cache.host
    assert blob_gets(origin, d["layer"]) >= 1  # the cache fetched it from the origin
    # The cache stores a blob in the background while it streams it to the first client (the
    # second fetch at the origin): wait until it is stored, then count.
    deadline = time.monotonic() + 20
    while not cache.blob_file(d["layer"]).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.blob_file(d["layer"]).read_bytes() == d["blob"]
    time.sleep(0.3)  # the origin logs that request as it ends
    after_first = blob_gets(origin, d["layer"])
    second = assert_pulled(pull(tmp_path / "two", origin.ref(REPO, "1"), "--mirror", spec), d["raw"])
    assert second["mirror"] == cache.host
    assert blob_gets(origin, d["layer"]) == after_first  # served from the cache
    assert blob_gets(cache, d["layer"]) == 2  # both machines got the disk from the cache
