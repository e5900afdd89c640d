#!/usr/bin/env python3
"""Writes the `FROM scratch` image of every platform as one multi-platform OCI image layout
(OCI image-spec v1.1 `image-layout.md`, `image-index.md`, `manifest.md`, `config.md`): no
Docker, no buildx. Each platform's image has one layer holding its static binary alone as
`/spiffe-helper` (mode 0755, owner 0:0), and the `USER`, `ENTRYPOINT` and `CMD` that
`Dockerfile.scratch` sets. `index.json` names one image index, tagged VERSION, listing the
platforms. The layout is reproducible: fixed owner, order and time (SOURCE_DATE_EPOCH, else 0).

    scripts/oci-image.py OUT VERSION linux/amd64=BINARY [linux/arm64=BINARY ...]

Copy it to a registry with `skopeo copy --all oci:OUT:VERSION docker://REGISTRY/NAME:VERSION`.
"""

import gzip
import hashlib
from datetime import datetime, timezone
import io
import json
import os
import sys
import tarfile
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile.scratch"
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def dockerfile_config():
    """USER, ENTRYPOINT and CMD of Dockerfile.scratch, as an OCI config's `config` object."""
    keys = {"USER": ("User", str.strip), "ENTRYPOINT": ("Entrypoint", json.loads),
            "CMD": ("Cmd", json.loads)}
    config = {}
    for line in DOCKERFILE.read_text().splitlines():
        word, _, rest = line.partition(" ")
        if word in keys:
            key, parse = keys[word]
            config[key] = parse(rest)
    if set(config) != {"User", "Entrypoint", "Cmd"}:
        sys.exit(f"{DOCKERFILE}: expected USER, ENTRYPOINT and CMD (exec form), found {config}")
    return config


class Layout:
    def __init__(self, out):
        self.blobs = out / "blobs" / "sha256"
        self.blobs.mkdir(parents=True)

    def blob(self, media_type, data, **extra):
        """Stores `data` by digest; returns its descriptor."""
        digest = hashlib.sha256(data).hexdigest()
        (self.blobs / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data), **extra}

    def json_blob(self, media_type, value, **extra):
        return self.blob(media_type, canonical(value), **extra)


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def layer(binary, mtime):
    """The uncompressed tar holding `binary` as spiffe-helper, and its gzip."""
    data = Path(binary).read_bytes()
    info = tarfile.TarInfo("spiffe-helper")
    info.size, info.mode, info.mtime = len(data), 0o755, mtime
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    return tar_bytes, gzip.compress(tar_bytes, compresslevel=9, mtime=0)


def main():
    if len(sys.argv) < 4 or not all("=" in a for a in sys.argv[3:]):
        sys.exit(__doc__)
    out, version = Path(sys.argv[1]), sys.argv[2]
    if out.exists():
        sys.exit(f"{out} exists")
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    created = datetime.fromtimestamp(mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = dockerfile_config()
    layout = Layout(out)
    manifests = []
    for arg in sys.argv[3:]:
        platform, binary = arg.split("=", 1)
        os_name, arch = platform.split("/")
        tar_bytes, gz = layer(binary, mtime)
        image_config = {
            "created": created,
            "architecture": arch,
            "os": os_name,
            "config": config,
            "rootfs": {
                "type": "layers",
                "diff_ids": [f"sha256:{hashlib.sha256(tar_bytes).hexdigest()}"],
            },
            "history": [{"created": created, "created_by": "scripts/oci-image.py"}],
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": layout.json_blob(CONFIG, image_config),
            "layers": [layout.blob(LAYER, gz)],
        }
        manifests.append(
            layout.json_blob(MANIFEST, manifest, platform={"architecture": arch, "os": os_name})
        )
    index = layout.json_blob(
        INDEX,
        {"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests},
        annotations={"org.opencontainers.image.ref.name": version},
    )
    (out / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (out / "index.json").write_bytes(
        canonical({"schemaVersion": 2, "mediaType": INDEX, "manifests": [index]})
    )
    print(f"{out}: OCI image index {index['digest']} ({version}), "
          + ", ".join(a.split("=", 1)[0] for a in sys.argv[3:]))


if __name__ == "__main__":
    main()
