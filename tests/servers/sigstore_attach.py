"""Sigstore attachments written exactly as containers/image writes them
(docker/docker_image_dest.go putSignaturesToSigstoreAttachments; signature/internal/sigstore_payload.go):

- the payload: Go's json.Marshal of {"critical": {"identity": {"docker-reference": REF},
  "image": {"docker-manifest-digest": DIGEST}, "type": "cosign container image signature"},
  "optional": {"creator": ..., "timestamp": N}} (maps: keys sorted, no spaces);
- the signature: ECDSA P-256 over SHA-256 of the payload, ASN.1 DER, base64 (StdEncoding), made by
  `openssl dgst -sha256 -sign` with a key `openssl genpkey` made (Debian's skopeo has sigstore
  disabled and Debian 12 has no cosign: openssl is the independent signer and checker);
- the attachment: an OCI image manifest, config an image config whose rootfs.diff_ids list the
  payloads, one layer per signature of media type application/vnd.dev.cosign.simplesigning.v1+json
  with the signature in its dev.cosignproject.cosign/signature annotation, tagged sha256-<hex>.sig
  in the image's repository. skopeo copies it there from an OCI layout (--preserve-digests: the
  registry then holds these very bytes), or it stays in a layout as its own index.json entry.
"""
import base64
import json
import subprocess
from pathlib import Path

from servers.oci_layout import OCI_CONFIG, OCI_MANIFEST, Layout

PAYLOAD_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_TYPE = "cosign container image signature"


def go_json(obj):
    """encoding/json's bytes for maps of strings and numbers: keys sorted, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def attachment_tag(manifest_digest):
    alg, hexd = manifest_digest.split(":", 1)
    return f"{alg}-{hexd}.sig"


def make_key(folder, name="signer", curve="P-256"):
    """An EC key pair by openssl: (private PEM path, public PEM path)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key, pub = folder / f"{name}.key", folder / f"{name}.pub"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}", "-out",
                    str(key)], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True,
                   capture_output=True)
    return key, pub


def key_id(pub):
    """"SHA256:" + sha256 of the DER SubjectPublicKeyInfo, computed by openssl."""
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", str(pub), "-outform", "DER"], check=True,
                         capture_output=True).stdout
    dgst = subprocess.run(["openssl", "dgst", "-sha256", "-r"], input=der, check=True, capture_output=True).stdout
    return "SHA256:" + dgst.decode().split()[0]


def payload(reference, manifest_digest, creator="containers/image 5.23.1", timestamp=1700000000):
    return go_json({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": manifest_digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": {"creator": creator, "timestamp": timestamp},
    })


def sign(key, data):
    """base64 of openssl's ECDSA-SHA256 signature (DER) over data."""
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key)], input=data, check=True,
                         capture_output=True).stdout
    return base64.b64encode(sig).decode()


def openssl_verifies(pub, data, sig_b64, folder):
    """The independent check: `openssl dgst -sha256 -verify PUB -signature SIG` over data."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "check.payload").write_bytes(data)
    (folder / "check.sig").write_bytes(base64.b64decode(sig_b64))
    proc = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(pub), "-signature",
                           str(folder / "check.sig"), str(folder / "check.payload")], capture_output=True)
    return proc.returncode == 0


def add_attachment(layout, manifest_digest, signatures, extra_layers=()):
    """Write the attachment of manifest_digest into layout (a servers.oci_layout.Layout): signatures
    are (payload bytes, base64 text or None for a layer without the annotation); extra_layers are
    (bytes, media type) layers of other kinds (attestations). Returns (tag, manifest descriptor)."""
    layers = []
    for data, sig in signatures:
        desc = {"mediaType": PAYLOAD_TYPE, **_blob(layout, data)}
        if sig is not None:
            desc["annotations"] = {SIGNATURE_ANNOTATION: sig}
        layers.append(desc)
    for data, media_type in extra_layers:
        layers.append({"mediaType": media_type, **_blob(layout, data)})
    # imgspecv1.Image as Go marshals it: architecture and os always, config {} (a struct), rootfs.
    config = go_json_ordered([("architecture", ""), ("os", ""), ("config", {}),
                              ("rootfs", {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]})])
    config_desc = {"mediaType": OCI_CONFIG, **_blob(layout, config)}
    # manifest.OCI1.Serialize(): struct field order, no spaces.
    doc = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc, "layers": layers},
                     separators=(",", ":")).encode()
    desc = layout.blob(doc, OCI_MANIFEST)
    return attachment_tag(manifest_digest), desc


def go_json_ordered(pairs):
    return json.dumps(dict(pairs), separators=(",", ":")).encode()


def _blob(layout, data):
    d = layout.blob(data, "x")
    return {"digest": d["digest"], "size": d["size"]}


def attachment_layout(folder, manifest_digest, signatures, extra_layers=()):
    """An OCI layout holding only the attachment, tagged; returns (layout, tag, descriptor)."""
    lay = Layout(folder)
    tag, desc = add_attachment(lay, manifest_digest, signatures, extra_layers)
    lay.write_index([(desc, tag)])
    return lay, tag, desc


def push_attachment(registry, repo, folder, manifest_digest, signatures, extra_layers=()):
    """Upload the attachment of manifest_digest to registry's repo with skopeo, as a registry holds
    what cosign or containers/image pushed there. Returns (tag, manifest descriptor)."""
    lay, tag, desc = attachment_layout(folder, manifest_digest, signatures, extra_layers)
    registry.push(lay.path, tag, repo, tag)
    return tag, desc
