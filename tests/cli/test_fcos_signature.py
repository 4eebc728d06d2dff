"""fcos:// checks the detached OpenPGP signature the stream entry names, over the bytes as they stream
(no second read), before the disk is published (issue 16). Keys and signatures are made by gpg
(tests/servers/fixture_openpgp.py); the stream file is served on loopback."""
import hashlib
import json
import lzma
import random

import pytest

from conftest import leftovers, run_vmpull

RELEASE = "41.20250101.3.0"


def make_disk(seed):
    rnd = random.Random(seed)
    raw = rnd.randbytes(256 << 10) + bytes(1 << 20) + rnd.randbytes(64 << 10)
    return raw, lzma.compress(raw, preset=0)


def serve_stream(flaky, name, entry):
    doc = {"stream": "stable", "architectures": {"x86_64": {"artifacts": {"qemu": {
        "release": RELEASE, "formats": {"qcow2.xz": {"disk": entry}}}}}}}
    flaky.serve(name, json.dumps(doc).encode())
    return flaky.url(name)


def signed_stream(flaky, openpgp, tag, key="signer", tamper_data=False, tamper_sig=False, signature=True):
    """A stream file for one disk signed by key. tamper_data: another disk is served in place of the
    signed one (a valid xz file: nothing but the signature can tell) and the stream's sha256 names
    it (whoever changed the file changed the metadata too); tamper_sig: one byte of the signature
    flipped."""
    raw, blob = make_disk(tag)
    sig = openpgp.detach(blob, key)
    served = blob
    if tamper_data:
        raw = raw[:1000] + b"X" + raw[1001:]
        served = lzma.compress(raw, preset=0)
    if tamper_sig:
        sig = bytearray(sig)
        sig[-5] ^= 0x40
        sig = bytes(sig)
    name = f"sig-{tag}.x86_64.qcow2.xz"
    flaky.serve(name, served)
    flaky.serve(name + ".sig", sig)
    entry = {"location": flaky.url(name), "sha256": hashlib.sha256(served).hexdigest()}
    if signature:
        entry["signature"] = flaky.url(name + ".sig")
    return {"url": serve_stream(flaky, f"sig-{tag}.json", entry), "raw": raw, "blob": served, "name": name}


def pull(tmp_path, url, *args):
    return run_vmpull("pull", "--json", "--cache-dir", tmp_path / "cache", "--stream-url", url, "--arch", "x86_64",
                      "--data-dir", tmp_path / "machines", *args, "fcos://stable")


def assert_nothing_left(tmp_path, blob):
    machines = tmp_path / "machines"
    assert not machines.exists() or leftovers(machines) == []
    assert not (tmp_path / "cache" / "blobs" / "sha256" / hashlib.sha256(blob).hexdigest()).exists()
    partial = tmp_path / "cache" / "partial"
    assert not partial.exists() or leftovers(partial) == []


@pytest.mark.parametrize("no_cache", [False, True])
def test_good_signature_read_once(flaky, openpgp, tmp_path, no_cache):
    s = signed_stream(flaky, openpgp, f"good-{int(no_cache)}")
    r = pull(tmp_path, s["url"], "--keyring", openpgp.pub["signer"], *(["--no-cache"] if no_cache else []))
    assert r.rc == 0, r
    assert open(r.json["path"], "rb").read() == s["raw"]
    assert r.json["signature"] == {"type": "openpgp", "key": openpgp.fpr["signer"]}
    # one request for the disk, its bytes sent once: the signature was checked as they streamed
    assert [e["status"] for e in flaky.requests(s["name"])] == [200]
    assert flaky.sent(s["name"]) == len(s["blob"])
    assert len(flaky.requests(s["name"] + ".sig")) == 1


@pytest.mark.parametrize("case,message", [
    ("other-key", "not in the keyring"),
    ("tampered-data", "bad signature"),
    ("tampered-signature", ""),
])
@pytest.mark.parametrize("no_cache", [False, True])
def test_bad_signature_fails_and_leaves_nothing(flaky, openpgp, tmp_path, case, message, no_cache):
    s = signed_stream(flaky, openpgp, f"{case}-{int(no_cache)}", key="other" if case == "other-key" else "signer",
                      tamper_data=case == "tampered-data", tamper_sig=case == "tampered-signature")
    r = pull(tmp_path, s["url"], "--keyring", openpgp.pub["signer"], *(["--no-cache"] if no_cache else []))
    assert r.rc == 1, r
    err = r.json["error"]
    assert err["code"] == "signature", err
    assert message in err["message"] and "signature " + s["url"].rsplit("/", 1)[0] in err["message"], err
    assert_nothing_left(tmp_path, s["blob"])


def test_the_other_key_alone_refuses_the_signer(flaky, openpgp, tmp_path):
    """A keyring of another key (a binary key file) does not know the signer."""
    s = signed_stream(flaky, openpgp, "unknown-key")
    r = pull(tmp_path, s["url"], "--keyring", openpgp.pub["other"])
    assert r.rc == 1 and r.json["error"]["code"] == "signature", r
    assert openpgp.fpr["signer"][-16:] in r.json["error"]["message"]


def test_shipped_keys_do_not_trust_a_test_key(flaky, openpgp, tmp_path):
    """Without --keyring the keys shipped with vmpull (Fedora's) decide: not the test key."""
    s = signed_stream(flaky, openpgp, "shipped")
    r = pull(tmp_path, s["url"])
    assert r.rc == 1 and r.json["error"]["code"] == "signature", r
    assert_nothing_left(tmp_path, s["blob"])


def test_entry_without_signature(flaky, openpgp, tmp_path):
    s = signed_stream(flaky, openpgp, "unsigned", signature=False)
    r = pull(tmp_path, s["url"], "--keyring", openpgp.pub["signer"])
    assert r.rc == 1 and r.json["error"]["code"] == "signature", r
    assert "names no signature" in r.json["error"]["message"] and "--insecure-skip-signature" in r.json["error"]["message"]
    assert not flaky.requests(s["name"])  # refused before a byte of the disk was asked for
    r = pull(tmp_path, s["url"], "--insecure-skip-signature")
    assert r.rc == 0, r
    assert r.json["signature"] is None
    assert "signature is not checked (--insecure-skip-signature)" in r.stderr
    assert open(r.json["path"], "rb").read() == s["raw"]


def test_skip_signature_takes_even_a_bad_one(flaky, openpgp, tmp_path):
    s = signed_stream(flaky, openpgp, "skip-bad", key="other")
    r = pull(tmp_path, s["url"], "--keyring", openpgp.pub["signer"], "--insecure-skip-signature")
    assert r.rc == 0, r
    assert "not checked" in r.stderr and r.json["signature"] is None
    assert not flaky.requests(s["name"] + ".sig")


def test_resumed_download_is_checked_whole(flaky, openpgp, tmp_path):
    """The bytes an interrupted pull left are replayed through the check before the rest arrives."""
    s = signed_stream(flaky, openpgp, "resume")
    flaky.script(s["name"], [("cut", len(s["blob"]) // 2)])
    r1 = pull(tmp_path, s["url"], "--keyring", openpgp.pub["signer"], "--retries", "0")
    assert r1.rc == 1, r1
    r2 = pull(tmp_path, s["url"], "--keyring", openpgp.pub["signer"])
    assert r2.rc == 0, r2
    assert r2.json["resumed_from"] > 0
    assert r2.json["signature"]["key"] == openpgp.fpr["signer"]
    assert open(r2.json["path"], "rb").read() == s["raw"]


def cached_blob(tmp_path, s):
    return tmp_path / "cache" / "blobs" / "sha256" / hashlib.sha256(s["blob"]).hexdigest()


def kept_disk(tmp_path, s):
    return tmp_path / "cache" / "disks" / "sha256" / hashlib.sha256(s["blob"]).hexdigest()


def keep_signed(flaky, openpgp, tmp_path, tag):
    """A first pull that checks the signature and keeps the decoded disk."""
    s = signed_stream(flaky, openpgp, tag)
    r = pull(tmp_path, s["url"], "--keyring", openpgp.pub["signer"], "-n", "one", "--keep-uncompressed")
    assert r.rc == 0, r
    assert kept_disk(tmp_path, s).is_file() and cached_blob(tmp_path, s).is_file()
    return s


def test_kept_disk_is_taken_once_the_cached_blob_passed_the_signature(flaky, openpgp, tmp_path):
    """The signature is checked every pull, over the cached blob (read, not decoded), and the disk
    kept from that blob is copied; without the blob in the cache the bytes are downloaded and
    decoded again (they arrive once, the check and the decoder share the pass)."""
    s = keep_signed(flaky, openpgp, tmp_path, "kept")
    key = ["--keyring", openpgp.pub["signer"]]
    blob_asked, sig_asked = len(flaky.requests(s["name"])), len(flaky.requests(s["name"] + ".sig"))
    r2 = pull(tmp_path, s["url"], *key, "-n", "two")
    assert r2.rc == 0, r2
    assert r2.json["cache"] == "kept-disk" and r2.json["bytes_transferred"] == 0, r2.json
    assert r2.json["signature"] == {"type": "openpgp", "key": openpgp.fpr["signer"]}
    assert r2.json["digest"] == "sha256:" + hashlib.sha256(s["blob"]).hexdigest()
    assert open(r2.json["path"], "rb").read() == s["raw"]
    assert len(flaky.requests(s["name"])) == blob_asked  # the disk was not asked for
    assert len(flaky.requests(s["name"] + ".sig")) == sig_asked + 1  # the signature was, again
    cached_blob(tmp_path, s).unlink()
    r3 = pull(tmp_path, s["url"], *key, "-n", "three")
    assert r3.rc == 0, r3
    assert r3.json["cache"] == "miss" and len(flaky.requests(s["name"])) == blob_asked + 1
    assert r3.json["signature"]["key"] == openpgp.fpr["signer"]
    assert open(r3.json["path"], "rb").read() == s["raw"]
    # offline with only the kept disk: refused, the signature cannot be checked
    cached_blob(tmp_path, s).unlink()
    r4 = pull(tmp_path, s["url"], *key, "-n", "four", "--offline")
    assert r4.rc == 1 and r4.json["error"]["code"] == "signature", r4


@pytest.mark.parametrize("change", ["keyring-without-the-signer", "signature-by-another-key"])
def test_kept_disk_does_not_outlive_a_changed_key_or_signature(flaky, openpgp, tmp_path, change):
    """The kept disk and its blob are in the cache, but the keys the pull is given now (or the
    signature the server has now) do not vouch for them: the pull fails and publishes nothing."""
    s = keep_signed(flaky, openpgp, tmp_path, f"changed-{change}")
    keyring = openpgp.pub["signer"]
    if change == "keyring-without-the-signer":
        keyring = openpgp.pub["other"]
    else:
        flaky.serve(s["name"] + ".sig", openpgp.detach(s["blob"], "other"))
    r = pull(tmp_path, s["url"], "--keyring", keyring, "-n", "two")
    assert r.rc == 1 and r.json["error"]["code"] == "signature", r
    assert not list((tmp_path / "machines").glob("two*"))
    assert leftovers(tmp_path / "machines") == [p.name for p in (tmp_path / "machines").iterdir()
                                               if p.name.startswith("one")]
    assert kept_disk(tmp_path, s).is_file()  # (nothing wrong with the disk itself)


def test_tampered_kept_disk_under_a_signature_is_caught(flaky, openpgp, tmp_path):
    """A kept disk changed after it was kept is caught by its record's map in the copy, removed, and
    the signed blob decoded instead (checked as it streams)."""
    s = keep_signed(flaky, openpgp, tmp_path, "tampered-disk")
    with open(kept_disk(tmp_path, s), "r+b") as f:
        f.seek(1000)
        f.write(b"tampered")
    r = pull(tmp_path, s["url"], "--keyring", openpgp.pub["signer"], "-n", "two")
    assert r.rc == 0, r
    assert "does not match its record" in r.stderr and "decoding the source again" in r.stderr, r.stderr
    assert r.json["cache"] == "hit" and r.json["signature"]["key"] == openpgp.fpr["signer"]
    assert open(r.json["path"], "rb").read() == s["raw"]
    assert not kept_disk(tmp_path, s).exists()


def test_tampered_cached_blob_is_not_vouched_for_by_its_kept_disk(flaky, openpgp, tmp_path):
    """The cached blob read for the signature is checked against its digest too: a changed one is
    dropped and the disk downloaded again (and checked), not taken from the kept disk unread."""
    s = keep_signed(flaky, openpgp, tmp_path, "tampered-blob")
    blob = cached_blob(tmp_path, s)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    before = len(flaky.requests(s["name"]))
    r = pull(tmp_path, s["url"], "--keyring", openpgp.pub["signer"], "-n", "two")
    assert r.rc == 0, r
    assert len(flaky.requests(s["name"])) == before + 1, r.stderr
    assert "cached copy" in r.stderr and "digest mismatch" in r.stderr and "fetching it again" in r.stderr, r.stderr
    assert r.json["signature"]["key"] == openpgp.fpr["signer"]
    assert open(r.json["path"], "rb").read() == s["raw"]
    assert blob.read_bytes() == s["blob"]


def test_missing_keyring_file(flaky, openpgp, tmp_path):
    s = signed_stream(flaky, openpgp, "nokeyring")
    r = pull(tmp_path, s["url"], "--keyring", tmp_path / "nope.asc")
    assert r.rc == 1, r
    assert str(tmp_path / "nope.asc") in r.json["error"]["message"]
    assert not flaky.requests(s["name"])
