"""Signed checksum lists (issue 16): a clearsigned list (Fedora's CHECKSUM) or one with a detached
signature beside it (Ubuntu's SHA256SUMS + SHA256SUMS.gpg, --checksums-signature) must verify with
--keyring's keys (else the shipped ones), and the image is looked up only in the text the signature
covers. Keys and signatures are made by gpg (tests/servers/fixture_openpgp.py)."""
import hashlib
import lzma
import random

import pytest

from conftest import leftovers, run_vmpull

IMAGE = "sums-disk.raw.xz"


@pytest.fixture(scope="module")
def image(flaky):
    raw = random.Random(16).randbytes(128 << 10) + bytes(512 << 10)
    blob = lzma.compress(raw, preset=0)
    flaky.serve(IMAGE, blob)
    return {"raw": raw, "blob": blob, "hex": hashlib.sha256(blob).hexdigest(), "url": flaky.url(IMAGE)}


def listing(hexdigest, name=IMAGE):
    return f"SHA256 (other.raw.xz) = {'1' * 64}\nSHA256 ({name}) = {hexdigest}\n"


def pull(tmp_path, image, *args):
    out = tmp_path / "out" / "disk.raw"
    out.parent.mkdir(exist_ok=True)
    return run_vmpull("pull", "-q", "--json", "--cache-dir", tmp_path / "cache", "-o", out, *args, image["url"]), out


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


def assert_failed(res, out, code, *needles):
    assert res.rc == 1, res
    err = res.json["error"]
    assert err["code"] == code, err
    for n in needles:
        assert n in err["message"], err
    assert leftovers(out.parent) == []


def test_clearsigned_good(openpgp, image, tmp_path):
    sums = write(tmp_path, "CHECKSUM", openpgp.clearsign(listing(image["hex"])))
    res, out = pull(tmp_path, image, "--checksums", sums, "--keyring", openpgp.pub["signer"])
    assert res.rc == 0, res
    assert out.read_bytes() == image["raw"]
    assert res.json["signature"] == {"type": "openpgp", "key": openpgp.fpr["signer"]}


@pytest.mark.parametrize("where", ["before", "after"])
def test_unsigned_lines_around_the_signed_part_are_not_read(openpgp, image, tmp_path, where):
    """GPGME calls such a file good; the entry the attacker added is not in the signed text."""
    signed = openpgp.clearsign(listing("3" * 64, name="unrelated.raw.xz"))
    added = f"SHA256 ({IMAGE}) = {image['hex']}\n"
    sums = write(tmp_path, "CHECKSUM", added + "\n" + signed if where == "before" else signed + added)
    res, out = pull(tmp_path, image, "--checksums", sums, "--keyring", openpgp.pub["signer"])
    assert_failed(res, out, "not_found", f"no entry for '{IMAGE}'")


def test_unsigned_lines_cannot_change_a_signed_entry(openpgp, image, tmp_path):
    signed = openpgp.clearsign(listing("4" * 64))
    sums = write(tmp_path, "CHECKSUM", f"SHA256 ({IMAGE}) = {image['hex']}\n" + signed)
    res, out = pull(tmp_path, image, "--checksums", sums, "--keyring", openpgp.pub["signer"])
    assert_failed(res, out, "digest_mismatch", "4" * 64)


def test_clearsigned_by_another_key(openpgp, image, tmp_path):
    sums = write(tmp_path, "CHECKSUM", openpgp.clearsign(listing(image["hex"]), key="other"))
    res, out = pull(tmp_path, image, "--checksums", sums, "--keyring", openpgp.pub["signer"])
    assert_failed(res, out, "signature", "not in the keyring", str(sums))


def test_clearsigned_tampered(openpgp, image, tmp_path):
    text = openpgp.clearsign(listing("5" * 64)).replace("5" * 64, image["hex"])
    sums = write(tmp_path, "CHECKSUM", text)
    res, out = pull(tmp_path, image, "--checksums", sums, "--keyring", openpgp.pub["signer"])
    assert_failed(res, out, "signature", "bad signature")


def test_clearsigned_without_keyring_uses_the_shipped_keys(openpgp, image, tmp_path):
    """The shipped keys are Fedora's: the test key signs nothing they trust."""
    sums = write(tmp_path, "CHECKSUM", openpgp.clearsign(listing(image["hex"])))
    res, out = pull(tmp_path, image, "--checksums", sums)
    assert_failed(res, out, "signature")


def test_clearsigned_skip_signature(openpgp, image, tmp_path):
    sums = write(tmp_path, "CHECKSUM", openpgp.clearsign(listing(image["hex"]), key="other"))
    res, out = pull(tmp_path, image, "--checksums", sums, "--keyring", openpgp.pub["signer"],
                    "--insecure-skip-signature")
    assert res.rc == 0, res
    assert "its signature is not checked (--insecure-skip-signature)" in res.stderr
    assert res.json["signature"] is None


@pytest.mark.parametrize("by_url", [False, True])
def test_detached_good(flaky, openpgp, image, tmp_path, by_url):
    text = listing(image["hex"]).encode()
    sig = openpgp.detach(text)
    if by_url:
        flaky.serve("det/SHA256SUMS", text)
        flaky.serve("det/SHA256SUMS.gpg", sig)
        sums, sums_sig = flaky.url("det/SHA256SUMS"), flaky.url("det/SHA256SUMS.gpg")
    else:
        sums, sums_sig = write(tmp_path, "SHA256SUMS", text), write(tmp_path, "SHA256SUMS.gpg", sig)
    res, out = pull(tmp_path, image, "--checksums", sums, "--checksums-signature", sums_sig,
                    "--keyring", openpgp.pub["signer"])
    assert res.rc == 0, res
    assert out.read_bytes() == image["raw"]
    assert res.json["signature"] == {"type": "openpgp", "key": openpgp.fpr["signer"]}


@pytest.mark.parametrize("case", ["tampered-list", "other-key", "unknown-key", "not-a-signature"])
def test_detached_bad(openpgp, image, tmp_path, case):
    text = listing("6" * 64)
    sig = openpgp.detach(text.encode(), key="other" if case == "other-key" else "signer")
    if case == "tampered-list":
        text = text.replace("6" * 64, image["hex"])
    if case == "not-a-signature":
        sig = b"this is not a signature\n"
    sums = write(tmp_path, "SHA256SUMS", text)
    sums_sig = write(tmp_path, "SHA256SUMS.gpg", sig)
    keyring = openpgp.pub["other"] if case == "unknown-key" else openpgp.pub["signer"]
    res, out = pull(tmp_path, image, "--checksums", sums, "--checksums-signature", sums_sig, "--keyring", keyring)
    assert_failed(res, out, "signature", str(sums_sig))


def test_unsigned_list_with_keyring_is_refused(openpgp, image, tmp_path):
    sums = write(tmp_path, "SHA256SUMS", listing(image["hex"]))
    res, out = pull(tmp_path, image, "--checksums", sums, "--keyring", openpgp.pub["signer"])
    assert_failed(res, out, "signature", "not signed")
    # without --keyring it is taken, as before signatures were checked
    res, out = pull(tmp_path, image, "--checksums", sums)
    assert res.rc == 0, res
    assert res.json["signature"] is None


def test_missing_detached_signature_file(openpgp, image, tmp_path):
    sums = write(tmp_path, "SHA256SUMS", listing(image["hex"]))
    res, out = pull(tmp_path, image, "--checksums", sums, "--checksums-signature", tmp_path / "nope.gpg",
                    "--keyring", openpgp.pub["signer"])
    assert_failed(res, out, "not_found", str(tmp_path / "nope.gpg"))


def test_signature_without_checksums_is_a_usage_error(image, tmp_path):
    res, out = pull(tmp_path, image, "--checksums-signature", tmp_path / "x.gpg")
    assert res.rc == 2 and res.json["error"]["code"] == "usage", res


def test_kept_disk_by_a_signed_list_entry(flaky, openpgp, image, tmp_path):
    """The signed list is read and verified every pull, and its entry names the blob whose disk is
    kept: the disk is copied and the image server is not asked. A list that the keys of this pull
    do not verify fails the pull though the disk is kept."""
    sums = write(tmp_path, "CHECKSUM", openpgp.clearsign(listing(image["hex"])))
    res, _ = pull(tmp_path, image, "--checksums", sums, "--keyring", openpgp.pub["signer"], "--keep-uncompressed")
    assert res.rc == 0, res
    asked = len(flaky.requests(IMAGE))
    out = tmp_path / "out" / "second.raw"
    res = run_vmpull("pull", "-q", "--json", "--cache-dir", tmp_path / "cache", "-o", out, "--checksums", sums,
                     "--keyring", openpgp.pub["signer"], image["url"])
    assert res.rc == 0, res
    assert res.json["cache"] == "kept-disk" and res.json["signature"]["key"] == openpgp.fpr["signer"], res.json
    assert out.read_bytes() == image["raw"] and len(flaky.requests(IMAGE)) == asked
    out = tmp_path / "out" / "third.raw"
    res = run_vmpull("pull", "-q", "--json", "--cache-dir", tmp_path / "cache", "-o", out, "--checksums", sums,
                     "--keyring", openpgp.pub["other"], image["url"])
    assert res.rc == 1 and res.json["error"]["code"] == "signature", res
    assert not out.exists() and (tmp_path / "cache" / "disks" / "sha256" / image["hex"]).is_file()
