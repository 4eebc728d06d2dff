"""Builds OCI image layouts for the tests, with json + hashlib (no container tooling), in both
machine-image formats: machine-OS artifacts (index entries annotated `disktype`, one titled
layer) and single-layer tar images. skopeo pushes these layouts to a registry as they are."""
import hashlib
import io
import json
import tarfile
from pathlib import Path

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
TAR = "application/vnd.oci.image.layer.v1.tar"
TAR_GZIP = TAR + "+gzip"
TAR_ZSTD = TAR + "+zstd"
TITLE = "org.opencontainers.image.title"
REF_NAME = "org.opencontainers.image.ref.name"


def digest_of(data, alg="sha256"):
    return f"{alg}:{hashlib.new(alg, data).hexdigest()}"


class Layout:
    """An OCI image layout folder: oci-layout, index.json, blobs/<alg>/<hex>."""

    def __init__(self, path):
        self.path = Path(path)
        (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))

    def blob(self, data, media_type, alg="sha256", **extra):
        d = digest_of(data, alg)
        folder = self.path / "blobs" / alg
        folder.mkdir(parents=True, exist_ok=True)
        (folder / d.split(":", 1)[1]).write_bytes(data)
        desc = {"mediaType": media_type, "digest": d, "size": len(data)}
        desc.update({k: v for k, v in extra.items() if v is not None})
        return desc

    def blob_path(self, desc):
        alg, hexd = desc["digest"].split(":", 1)
        return self.path / "blobs" / alg / hexd

    def json_blob(self, obj, media_type, **extra):
        return self.blob(json.dumps(obj, indent=1).encode(), media_type, **extra)

    def config(self, arch="amd64"):
        """A container image config (for tar images) or the empty config (for artifacts)."""
        if arch is None:
            return self.blob(b"{}", OCI_EMPTY)
        cfg = {"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
        return self.json_blob(cfg, OCI_CONFIG)

    def manifest(self, layers, config=None, platform=None, annotations=None, artifact_type=None):
        """A manifest over already written layer descriptors; returns its descriptor."""
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config or self.config(None), "layers": layers}
        if artifact_type:
            doc["artifactType"] = artifact_type
        return self.json_blob(doc, OCI_MANIFEST, platform=platform, annotations=annotations)

    def disk_artifact(self, data, title, media_type="application/zstd", arch="x86_64", disktype="qemu", alg="sha256"):
        """A machine-OS disk: manifest with one titled layer; returns the index entry for it."""
        annotations = {TITLE: title} if title else None
        layer = self.blob(data, media_type, alg=alg, annotations=annotations)
        desc = self.manifest([layer], artifact_type="application/vnd.podman.machine-os.disk")
        desc["platform"] = {"architecture": arch, "os": "linux"}
        if disktype:
            desc["annotations"] = {"disktype": disktype}
        return desc

    def tar_image(self, tar_bytes, media_type=TAR, arch="amd64"):
        """A single-layer tar image; returns the index entry (with platform)."""
        layer = self.blob(tar_bytes, media_type)
        desc = self.manifest([layer], config=self.config(arch))
        desc["platform"] = {"architecture": arch, "os": "linux"}
        return desc

    def index(self, entries, annotations=None):
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        if annotations:
            doc["annotations"] = annotations
        return self.json_blob(doc, OCI_INDEX)

    def write_index(self, entries):
        """index.json; entries given as (descriptor, ref name or None)."""
        manifests = []
        for desc, name in entries:
            d = dict(desc)
            if name:
                d["annotations"] = dict(d.get("annotations") or {}, **{REF_NAME: name})
            manifests.append(d)
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        (self.path / "index.json").write_text(json.dumps(doc, indent=1))


def make_tar(files, compress=None):
    """A tar of (name, bytes | None for a directory | ('symlink', target) | ('hardlink', target))."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if content is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tf.addfile(info)
            elif isinstance(content, tuple):
                info.type = tarfile.SYMTYPE if content[0] == "symlink" else tarfile.LNKTYPE
                info.linkname = content[1]
                tf.addfile(info)
            else:
                info.size = len(content)
                info.mode = 0o644
                tf.addfile(info, io.BytesIO(content))
    data = buf.getvalue()
    if compress == "gzip":
        import gzip

        data = gzip.compress(data, compresslevel=1, mtime=0)
    elif compress == "zstd":
        import subprocess

        data = subprocess.run(["zstd", "-q", "-c", "-1"], input=data, capture_output=True, check=True).stdout
    return data
