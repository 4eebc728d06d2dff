"""The limits docs/SECURITY.md and the README promise are the ones in the code (issue 12: the
stream JSON limit was 8 MiB in the code and 4 MiB in the docs). Each row is read from the table
and compared with the constant that enforces it."""
import re

import pytest

from conftest import ROOT

UNITS = [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")]


def constant(path, name):
    text = (ROOT / path).read_text()
    m = re.search(rf"#define {name}\s+\(?(\d+)(?:u|ul|ull)?(?:\s*<<\s*(\d+))?\)?", text)
    assert m, f"{name} not found in {path}"
    return int(m.group(1)) << int(m.group(2) or 0)


def size(v):
    for shift, unit in UNITS:
        if v >= 1 << shift and v % (1 << shift) == 0:
            return f"{v >> shift} {unit}"
    return str(v)


def limits_table():
    text = (ROOT / "docs" / "SECURITY.md").read_text()
    section = text.split("### Limits", 1)[1].split("\n\n", 1)[0]  # the heading line, then the table
    rows = {}
    for line in section.splitlines()[1:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("limit", "---"):  # the header and its rule
            rows[cells[0]] = cells[1]
    return rows


# row -> what its value cell must say, from the code
EXPECTED = {
    "decompressed output": lambda: f"default {size(constant('include/vmpull.h', 'VMPULL_DEFAULT_MAX_SIZE'))}",
    "decoder memory (LZMA dictionary, zstd window)": lambda: size(constant("lib/pipeline/decode.h", "DECODE_MEMLIMIT")),
    "manifest / index JSON": lambda: size(constant("lib/oci/oci_manifest.h", "OCI_DOC_MAX")),
    "Fedora CoreOS stream JSON": lambda: size(constant("lib/resolve/resolve_fcos.c", "STREAM_MAX_BODY")),
    "index entries / manifest layers": lambda: str(constant("lib/oci/oci_manifest.h", "OCI_ENTRIES_MAX")),
    "index nesting": lambda: f"{constant('lib/oci/oci_manifest.h', 'OCI_NESTING_MAX')} below the first index",
    "`WWW-Authenticate`": lambda: size(constant("lib/oci/oci_challenge.c", "CHALLENGE_MAX")),
    "auth file / helper answer": lambda: (f"{size(constant('lib/oci/oci_creds.c', 'AUTH_FILE_MAX'))} / "
                                          f"{size(constant('lib/oci/oci_creds.c', 'HELPER_ANSWER_MAX'))}"),
    "SHA256SUMS": lambda: size(constant("lib/resolve/checksums.c", "CHECKSUMS_MAX")),
    "sigstore attachment: one payload or blob / payload layers / all its blobs together": lambda: (
        f"{size(constant('lib/oci/sigstore_attach.h', 'SIGSTORE_PAYLOAD_MAX'))} / "
        f"{constant('lib/oci/sigstore_attach.h', 'SIGSTORE_PAYLOADS_MAX')} / "
        f"{size(constant('lib/oci/sigstore_attach.h', 'SIGSTORE_PAYLOADS_TOTAL_MAX'))}"),
    "sigstore public key (PEM file or `keyData`) / keys in one set": lambda: (
        f"{size(constant('lib/trust/sigstore.h', 'SIGSTORE_KEY_FILE_MAX'))} / "
        f"{constant('lib/trust/sigstore.h', 'SIGSTORE_KEYS_MAX')}"),
    "policy.json / JSON nesting": lambda: f"{size(constant('lib/oci/policy.h', 'POLICY_FILE_MAX'))} / 16",
    "registries.d file / `*.yaml` files in the folder": lambda: (
        f"{size(constant('lib/oci/registries_d.h', 'REGISTRIES_D_FILE_MAX'))} / "
        f"{constant('lib/oci/registries_d.h', 'REGISTRIES_D_FILES_MAX')}"),
    "lookaside signature / signatures of one manifest": lambda: (
        f"{size(constant('lib/oci/policy_eval.h', 'LOOKASIDE_SIGNATURE_MAX'))} / "
        f"{constant('lib/oci/policy_eval.h', 'LOOKASIDE_SIGNATURES_MAX')}"),
    "OpenPGP key file (`--keyring`, the shipped keys)": lambda: size(constant("lib/trust/openpgp.c", "KEY_FILE_MAX")),
    "detached signature (fcos://, `--checksums-signature`)": lambda: (
        size(constant("lib/api/pull_signature.c", "SIGNATURE_MAX"))
        if constant("lib/api/pull_signature.c", "SIGNATURE_MAX") == constant("lib/resolve/checksums.c", "SIGNATURE_MAX")
        else "the two differ"),
    "certs.d file (`*.crt`, `*.cert`, `*.key`) / names in one folder": lambda: (
        f"{size(constant('lib/net/certs_d.h', 'CERTS_D_FILE_MAX'))} / {constant('lib/net/certs_d.h', 'CERTS_D_ENTRIES_MAX')}"),
    "registries.conf (each file) / drop-ins per folder / dots on one line": lambda: (
        f"{size(constant('lib/base/toml_read.h', 'TOML_READ_MAX'))} / "
        f"{constant('lib/oci/registries_conf.h', 'REGISTRIES_CONF_DROP_INS_MAX')} / "
        f"{constant('lib/base/toml_read.h', 'TOML_READ_DOTS_MAX')}"),
}


@pytest.mark.parametrize("row", EXPECTED)
def test_security_limits_table_matches_the_code(row):
    rows = limits_table()
    assert row in rows, f"no row '{row}' in docs/SECURITY.md's limits table: {sorted(rows)}"
    assert EXPECTED[row]() in rows[row], (row, rows[row], EXPECTED[row]())


def test_limits_said_in_prose_match_the_code():
    security = (ROOT / "docs" / "SECURITY.md").read_text()
    readme = (ROOT / "README.md").read_text()
    assert f"an error message is at most {size(constant('include/vmpull.h', 'VMPULL_ERROR_MAX'))}" in security
    assert f"central directory\n(read to check each entry's type) over {size(constant('lib/pipeline/decode_zip.c', 'CENTRAL_DIR_MAX'))}" \
        in security
    assert f"documents over {size(constant('lib/oci/oci_manifest.h', 'OCI_DOC_MAX'))}" in readme
    assert f"Stream metadata over {size(constant('lib/resolve/resolve_fcos.c', 'STREAM_MAX_BODY'))} is refused" in readme
