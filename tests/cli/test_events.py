"""What vmpull tells: `--progress json` (one JSON event a line, docs/vmpull.1 PROGRESS EVENTS) read by a
parser that checks every line, for pulls with a retry, a resume, a mirror, a cache hit and a failure;
`-v` (each request with its status and time, no password or token ever); the resume line; one progress
line per disk for `save --all`."""
import base64
import gzip
import hashlib
import json
import os
import random
import re

import pytest

from conftest import node_file_name, run_vmpull
from servers.common import running, start_or_fail
from servers.fixture_registry import REGISTRY_PASSWORD, REGISTRY_USER, Registry
from servers.fixture_mirrors import machine_image
from servers.oci_layout import Layout

# Each event and the fields it must have (beyond "version" and "event").
EVENTS = {
    "resolve": {"source", "reference"},
    "transfer": {"bytes", "total", "rate", "written", "name"},
    "retry": {"reason", "attempt", "wait_s"},
    "resume": {"offset", "total"},
    "mirror": {"host"},
    "cache": {"kind"},
    "verify": {"digest"},
    "warning": {"message"},
    "log": {"level", "message"},
    "error": {"code", "message"},
    "done": {"ok", "result"},
}
CACHE_KINDS = {"hit", "revalidated", "kept-disk", "stale"}


def read_events(text):
    """Every line is one JSON object of a known event with its fields; transfer bytes and written never go
    down; exactly one done, and it is the last line."""
    events = []
    lines = text.splitlines()
    assert lines, "no events"
    for line in lines:
        ev = json.loads(line)  # fails on a line that is not JSON
        assert isinstance(ev, dict) and ev.get("version") == 1, line
        assert ev.get("event") in EVENTS, line
        missing = EVENTS[ev["event"]] - ev.keys()
        assert not missing, f"{line}: lacks {missing}"
        events.append(ev)
    transfers = [e for e in events if e["event"] == "transfer"]
    for a, b in zip(transfers, transfers[1:]):
        assert b["bytes"] >= a["bytes"] and b["written"] >= a["written"], (a, b)
    for t in transfers:
        assert isinstance(t["bytes"], int) and (t["total"] is None or isinstance(t["total"], int)), t
        assert t["rate"] >= 0
    for e in events:
        if e["event"] == "cache":
            assert e["kind"] in CACHE_KINDS, e
        if e["event"] == "retry":
            assert e["attempt"] >= 1 and e["wait_s"] >= 0 and e["reason"], e
    assert [e["event"] for e in events].count("done") == 1 and events[-1]["event"] == "done", lines
    return events


def kinds(events):
    return [e["event"] for e in events]


def one(events, kind):
    (e,) = [e for e in events if e["event"] == kind]
    return e


@pytest.fixture(scope="module")
def image():
    rnd = random.Random(19)
    raw = rnd.randbytes(2 << 20) + bytes(1 << 20) + rnd.randbytes(1 << 20)
    return raw, gzip.compress(raw, compresslevel=1)


@pytest.fixture
def served(flaky, image, request):
    name = node_file_name(request, ".raw.gz")
    flaky.serve(name, image[1])
    return name


def pull_events(tmp_path, *args, out="out.raw", env=None):
    r = run_vmpull("pull", "--progress", "json", "--cache-dir", tmp_path / "cache", "-o", tmp_path / out, *args,
                   env=env)
    return r, read_events(r.stderr)


def test_a_retried_pull(flaky, image, served, tmp_path):
    flaky.script(served, [("status", 503, {"Retry-After": "0"})])
    r, events = pull_events(tmp_path, "--json", flaky.url(served))
    assert r.rc == 0, r
    retry = one(events, "retry")
    assert "503" in retry["reason"] and retry["attempt"] == 1 and retry["wait_s"] == 0
    assert kinds(events).index("retry") < kinds(events).index("transfer")
    assert one(events, "resolve")["source"] == flaky.url(served)
    assert one(events, "verify")["digest"] == r.json["digest"]
    done = one(events, "done")
    assert done["ok"] is True and done["result"] == r.json  # what --json printed
    assert events[-2]["event"] == "verify" and events[-3]["event"] == "transfer"
    assert events[-3]["bytes"] == len(image[1]) and events[-3]["written"] == len(image[0])


def test_a_resumed_pull_and_then_a_cached_one(flaky, image, served, tmp_path):
    raw, gz = image
    at = len(gz) // 2
    flaky.script(served, [("cut", at)])
    r = run_vmpull("pull", "-q", "--retries", "0", "--cache-dir", tmp_path / "cache", "-o", tmp_path / "x.raw",
                   flaky.url(served))
    assert r.rc == 1, r
    r, events = pull_events(tmp_path, flaky.url(served))
    assert r.rc == 0, r
    resume = one(events, "resume")
    assert resume == {"version": 1, "event": "resume", "offset": at, "total": len(gz)}
    result = one(events, "done")["result"]
    assert result["resumed_from"] == at and result["bytes_transferred"] == len(gz) - at
    assert (tmp_path / "out.raw").read_bytes() == raw
    # the same URL again: the cached copy, revalidated
    r, events = pull_events(tmp_path, flaky.url(served), out="again.raw")
    assert r.rc == 0, r
    assert one(events, "cache")["kind"] == "revalidated"
    assert "resume" not in kinds(events)



def test_a_retry_is_numbered_within_its_own_request(flaky, image, served, tmp_path):
    """Two URLs of one pull fail: the checksums list once, the image twice. Each retry's attempt is its number
    for that URL, as the warning's "retry N of M" (1; then 1 and 2), not a count over the whole pull (1, 2, 3)."""
    sums = served + ".SUMS"
    flaky.serve(sums, f"{hashlib.sha256(image[1]).hexdigest()}  {served}\n".encode())
    busy = ("status", 503, {"Retry-After": "0"})
    flaky.script(sums, [busy])
    flaky.script(served, [busy, busy])
    r, events = pull_events(tmp_path, "--checksums", flaky.url(sums), flaky.url(served))
    assert r.rc == 0, r
    retries = [e for e in events if e["event"] == "retry"]
    assert [e["attempt"] for e in retries] == [1, 1, 2], retries
    warnings = [e["message"] for e in events if e["event"] == "warning"]
    assert [re.search(r"; retry (\d+) of", w).group(1) for w in warnings] == ["1", "1", "2"], warnings
    assert sums in warnings[0] and served in warnings[1] and sums not in warnings[1]
    assert (tmp_path / "out.raw").read_bytes() == image[0]

@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    yield from running(start_or_fail(Registry(tmp_path_factory.mktemp("events-mirror"))))


def test_a_pull_through_a_mirror(registry_plain, mirror, tmp_path):
    origin = registry_plain
    img = machine_image(tmp_path / "layout", "events", arches=("x86_64",), disktypes=("qemu",))
    for reg in (origin, mirror):
        reg.push(img["layout"].path, "src", "events/os", "1")
    r, events = pull_events(tmp_path, "--tls-verify=false", "--no-registries-conf", "--arch", "x86_64",
                            "--mirror", f"{origin.host}={mirror.host}", origin.ref("events/os", "1"))
    assert r.rc == 0, r
    assert one(events, "mirror")["host"] == mirror.host
    resolve = one(events, "resolve")
    assert resolve["reference"].startswith(f"docker://{origin.host}/events/os@sha256:")
    assert kinds(events).index("resolve") < kinds(events).index("mirror") < kinds(events).index("transfer")
    # the warning about --tls-verify=false is an event too: every line was JSON
    assert any("TLS" in e["message"] for e in events if e["event"] == "warning"), events
    assert one(events, "done")["result"]["mirror"] == mirror.host


def test_a_failed_pull_ends_with_error_then_done(flaky, served, tmp_path):
    flaky.script(served, [("status", 404)])
    r, events = pull_events(tmp_path, "--json", flaky.url(served))
    assert r.rc == 1
    assert kinds(events)[-2:] == ["error", "done"]
    error = one(events, "error")
    assert error["code"] == "not_found" and "404" in error["message"]
    done = one(events, "done")
    assert done["ok"] is False and done["result"] == r.json and done["result"]["error"]["http_status"] == 404
    assert not (tmp_path / "out.raw").exists()


def test_usage_errors_after_json_are_events(tmp_path):
    r = run_vmpull("pull", "--progress", "json", "--threads", "many", "x.raw")
    assert r.rc == 2
    (ev,) = [json.loads(line) for line in r.stderr.splitlines()]
    assert ev["event"] == "error" and ev["code"] == "usage" and "--threads" in ev["message"]


def test_progress_fd_takes_the_events(flaky, served, tmp_path):
    rfd, wfd = os.pipe()
    import subprocess

    from conftest import VMPULL
    proc = subprocess.run([VMPULL, "pull", "--progress", "json", "--progress-fd", str(wfd), "--cache-dir",
                           str(tmp_path / "cache"), "-o", str(tmp_path / "out.raw"), flaky.url(served)],
                          capture_output=True, text=True, pass_fds=(wfd,), timeout=120)
    os.close(wfd)
    with os.fdopen(rfd) as f:
        text = f.read()
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert one(read_events(text), "done")["ok"] is True
    r = run_vmpull("pull", "--progress-fd", "97", "x.raw")
    assert r.rc == 2 and "--progress-fd 97" in r.stderr


def test_the_resume_line_and_the_rate(flaky, image, served, tmp_path):
    """Resuming says so once, and the rate counts only what came over the network."""
    raw, gz = image
    at = len(gz) // 2
    flaky.script(served, [("cut", at)])
    r = run_vmpull("pull", "-q", "--retries", "0", "--cache-dir", tmp_path / "cache", "-o", tmp_path / "x.raw",
                   flaky.url(served))
    assert r.rc == 1
    r = run_vmpull("pull", "--progress", "never", "--cache-dir", tmp_path / "cache", "-o", tmp_path / "out.raw",
                   flaky.url(served))
    assert r.rc == 0, r
    mib = lambda n: f"{n / (1 << 20):.1f} MiB"  # noqa: E731
    assert r.stderr == f"vmpull: resuming at {mib(at)} of {mib(len(gz))}\n"
    # -q: not even that
    r = run_vmpull("pull", "-q", "--cache-dir", tmp_path / "cache2", "-o", tmp_path / "q.raw", flaky.url(served))
    assert r.rc == 0 and r.stderr == ""
    # the rest at 512 KiB/s: the done line's rate is of those bytes (all of them would make it about twice that)
    cap = 512 << 10
    flaky.script(served, [("cut", at)])
    r = run_vmpull("pull", "-q", "--retries", "0", "--cache-dir", tmp_path / "cache3", "-o", tmp_path / "y.raw",
                   flaky.url(served))
    assert r.rc == 1
    flaky.serve(served, gz, rate=cap)
    r = run_vmpull("pull", "--progress", "auto", "--cache-dir", tmp_path / "cache3", "-o", tmp_path / "slow.raw",
                   flaky.url(served), env={"TERM": "dumb"})
    assert r.rc == 0, r
    done = re.search(r"fetched in [0-9:]+ \(([0-9.]+) (B|KiB|MiB)/s\)", r.stderr.splitlines()[-1])
    assert done, r.stderr
    rate = float(done.group(1)) * {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20}[done.group(2)]
    assert rate <= cap * 1.15, r.stderr


def test_verbose_shows_requests_but_no_secret(registry_token, tmp_path):
    """-v of a registry pull with --creds: each request with its status and time, the password
    (nor a part of it, nor its base64) and the bearer tokens the issuer made never."""
    tokens = []
    sign = registry_token.issuer.sign
    registry_token.issuer.sign = lambda claims: tokens.append(sign(claims)) or tokens[-1]
    lay = Layout(tmp_path / "layout")
    entry = lay.disk_artifact(gzip.compress(b"disk" * 4096), "machine.x86_64.raw.gz",
                              media_type="application/gzip", arch="x86_64", disktype="qemu")
    lay.write_index([(lay.index([entry]), "v1")])
    registry_token.push(lay.path, "v1", "verbose/machine", "v1")
    try:
        for how in (["-v"], []):
            env = {"VMPULL_DEBUG": "1"} if not how else {"VMPULL_DEBUG": ""}
            r = run_vmpull("pull", *how, "--ca-cert", registry_token.ca, "--creds",
                           f"{REGISTRY_USER}:{REGISTRY_PASSWORD}", "--cache-dir", tmp_path / f"cache{len(how)}", "-o",
                           tmp_path / f"out{len(how)}.raw", "--progress", "never",
                           registry_token.ref("verbose/machine", "v1"), env=env)
            assert r.rc == 0, r
            lines = r.stderr.splitlines()
            requests = [line for line in lines if re.match(r"vmpull: debug: GET https://", line)]
            assert any(re.search(r"/v2/verbose/machine/manifests/v1: HTTP 200, \d+ bytes, \d+\.\d{3} s$", line)
                       for line in requests), r.stderr
            assert any(re.search(r"/token\?.*: HTTP 200, \d+ bytes, \d+\.\d{3} s$", line) for line in requests), r.stderr
            assert any(re.search(r"/blobs/sha256:[0-9a-f]{64}: HTTP 200, Content-Length \d+, headers in", line)
                       for line in requests), r.stderr
            assert any(line.startswith("vmpull: info: fetch ") for line in lines), r.stderr
            assert tokens
            basic = base64.b64encode(f"{REGISTRY_USER}:{REGISTRY_PASSWORD}".encode()).decode()
            for secret in (REGISTRY_PASSWORD, *REGISTRY_PASSWORD.split(":"), basic, *tokens,
                           *[t.split(".")[2] for t in tokens]):
                assert secret not in r.stderr and secret not in r.stdout
    finally:
        registry_token.issuer.sign = sign
    # and the same lines as log events in the stream
    r, events = pull_events(tmp_path, "-v", "--ca-cert", registry_token.ca, "--creds",
                            f"{REGISTRY_USER}:{REGISTRY_PASSWORD}", registry_token.ref("verbose/machine", "v1"),
                            out="events.raw")
    assert r.rc == 0, r
    assert any(e["event"] == "log" and e["level"] == "debug" and " HTTP 200" in e["message"] for e in events)
    assert REGISTRY_PASSWORD not in r.stderr


def test_save_all_shows_a_line_per_disk(tmp_path):
    img = machine_image(tmp_path / "layout", "saveall")
    titles = [d["title"] for d in img["disks"].values()]
    r = run_vmpull("save", "--all", "--progress", "always", f"oci-dir://{img['layout'].path}:src",
                   f"oci-dir://{tmp_path / 'out'}:all", env={"COLUMNS": "200"})
    assert r.rc == 0, r
    # one line per disk ("[i/n] title ..."), then the summary line
    rows = [row for row in r.stderr.split("\n") if row]
    named = [next((t for t in titles if t in row.split("\r")[-1]), None) for row in rows]
    n = len(titles)
    for i, title in enumerate(sorted(set(t for t in named if t), key=named.index)):
        assert any(f"[{i + 1}/{n}] {title}" in row for row in rows), r.stderr
    assert len({t for t in named if t}) == n, r.stderr
    assert f"{n} disks: " in rows[-1], r.stderr
    r = run_vmpull("save", "--all", "--progress", "json", f"oci-dir://{img['layout'].path}:src",
                   f"oci-dir://{tmp_path / 'out2'}:all")
    assert r.rc == 0, r
    events = read_events(r.stderr)
    items = {(e["item"], e["name"]) for e in events if e["event"] == "transfer" and "item" in e}
    assert {i for i, _ in items} == set(range(1, n + 1)) and {t for _, t in items} == set(titles)
    assert one(events, "done")["result"]["destination"].endswith(":all")


def test_verbose_says_which_policy_decided(tmp_path):
    lay = Layout(tmp_path / "layout")
    entry = lay.disk_artifact(gzip.compress(b"policy" * 1000), "machine.x86_64.raw.gz",
                              media_type="application/gzip", arch="x86_64", disktype="qemu")
    lay.write_index([(lay.index([entry]), "v1")])
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "reject"}],
                                  "transports": {"oci": {"": [{"type": "insecureAcceptAnything"}]}}}))
    r = run_vmpull("pull", "-v", "--progress", "never", "--arch", "x86_64", "--no-cache", "--signature-policy", policy,
                   "-o", tmp_path / "out.raw", f"oci-dir://{lay.path}:v1")
    assert r.rc == 0, r
    assert re.search(rf"^vmpull: info: policy {re.escape(str(policy))}, .*scope \"\": sha256:[0-9a-f]{{64}} accepted "
                     r"\(1 requirement, the first insecureAcceptAnything\)$", r.stderr, flags=re.M), r.stderr


def test_disk_to_stdout_keeps_stderr_all_events(flaky, image, served, tmp_path):
    """-o - with --json puts the object on stderr; with --progress json too, stderr has only events and the
    done event carries the object."""
    import subprocess

    from conftest import VMPULL
    with open(tmp_path / "disk", "wb") as out:
        proc = subprocess.run([VMPULL, "pull", "--json", "--progress", "json", "--cache-dir", str(tmp_path / "cache"),
                               "-o", "-", flaky.url(served)], stdout=out, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "disk").read_bytes() == image[0]
    done = one(read_events(proc.stderr), "done")
    assert done["ok"] and done["result"]["path"] is None and done["result"]["size"] == len(image[0])


def test_a_kept_disk_copy_reports_what_it_writes(flaky, image, served, tmp_path):
    """A pull served from a kept disk has a transfer of its own, the copy: transfer events from written 0 (before
    the copy, named like the image) to the disk's size, and on a terminal a progress line before the done line."""
    raw = image[0]
    r = run_vmpull("pull", "-q", "--keep-uncompressed", "--cache-dir", tmp_path / "cache", "-o", tmp_path / "first.raw",
                   flaky.url(served))
    assert r.rc == 0, r
    r, events = pull_events(tmp_path, flaky.url(served))
    assert r.rc == 0, r
    assert one(events, "cache")["kind"] == "kept-disk"
    transfers = [e for e in events if e["event"] == "transfer"]
    assert transfers[0]["written"] == 0 and transfers[0]["name"] == served, transfers
    assert transfers[-1]["written"] == len(raw), transfers
    assert kinds(events).index("transfer") < kinds(events).index("cache")  # told as it began, not only at its end
    assert (tmp_path / "out.raw").read_bytes() == raw
    # into a bmap too, where the disk is proved first and then streamed through the sink: written only grows
    r, events = pull_events(tmp_path, "--bmap", tmp_path / "disk.bmap", flaky.url(served), out="mapped.raw")
    assert r.rc == 0, r
    assert [e for e in events if e["event"] == "transfer"][-1]["written"] == len(raw)
    r = run_vmpull("pull", "--progress", "always", "--cache-dir", tmp_path / "cache", "-o", tmp_path / "tty.raw",
                   flaky.url(served), env={"COLUMNS": "200"})
    assert r.rc == 0, r
    drawn = [line.strip() for line in r.stderr.split("\x1b[K")[1:]]
    assert len(drawn) >= 2 and drawn[0].startswith(served + " "), r.stderr  # a line drawn during the copy
    assert drawn[-1].startswith(served + ": ") and "4.0 MiB written" in drawn[-1], r.stderr  # then the done line

