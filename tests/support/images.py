"""Build OCI image layouts on disk without a container engine.

``skopeo copy oci:DIR:TAG docker://...`` reads these layouts directly, so tests can push
images, multi-arch indexes and (with ``--format v2s2``) Docker manifests to a real
registry without Docker, buildah or network access.

Everything is deterministic: tar entries and gzip headers carry fixed timestamps and
owners, JSON is written with sorted keys, so the same payload always yields the same
digests and different payloads yield different ones. Several tags may share one layout
directory; building a tag again replaces its ``index.json`` entry.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"

FIXED_MTIME = 946684800  # 2000-01-01T00:00:00Z, for every tar entry
FIXED_CREATED = "2000-01-01T00:00:00Z"

Platform = tuple[str, str] | tuple[str, str, str]


def _canonical_json(value: object) -> bytes:
    """Compact JSON with sorted keys, so equal documents always have equal digests."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _digest(data: bytes) -> str:
    """The ``sha256:<hex>`` digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _write_blob(layout: Path, data: bytes) -> str:
    """Store ``data`` under ``blobs/sha256/`` and return its digest."""
    digest = _digest(data)
    path = layout / "blobs" / "sha256" / digest.removeprefix("sha256:")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def _descriptor(media_type: str, data: bytes, layout: Path) -> dict:
    """Write ``data`` as a blob and describe it (mediaType, digest, size)."""
    return {"mediaType": media_type, "digest": _write_blob(layout, data), "size": len(data)}


def _tar_with_file(name: str, content: bytes) -> bytes:
    """An uncompressed tar holding one regular file with fixed owner, mode and mtime."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mtime = FIXED_MTIME
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _layer_file(payload: bytes, index: int) -> tuple[str, bytes]:
    """Name and content of the single file in layer ``index`` (each layer differs)."""
    if index == 0:
        return "hello.txt", payload
    return f"layer-{index}.txt", payload + f"\nlayer {index}\n".encode()


def _platform_fields(platform: Platform) -> dict[str, str]:
    """``os``/``architecture`` (and ``variant`` when given) for configs and descriptors."""
    fields = {"os": platform[0], "architecture": platform[1]}
    if len(platform) > 2:
        fields["variant"] = platform[2]
    return fields


def _write_layers(layout: Path, payload: bytes, layers: int) -> tuple[list[dict], list[str]]:
    """Write ``layers`` gzip tar layers; return their descriptors and uncompressed diff_ids."""
    descriptors, diff_ids = [], []
    for index in range(layers):
        tar = _tar_with_file(*_layer_file(payload, index))
        # mtime=0 and no file name keep the gzip header byte-identical between runs.
        compressed = gzip.compress(tar, compresslevel=6, mtime=0)
        descriptors.append(_descriptor(OCI_LAYER_GZIP, compressed, layout))
        diff_ids.append(_digest(tar))
    return descriptors, diff_ids


def _image_config(platform: Platform, diff_ids: list[str]) -> bytes:
    """The image config JSON: platform, rootfs diff_ids and one history entry per layer."""
    history = [{"created": FIXED_CREATED, "created_by": "wharfinger test harness"}] * len(diff_ids)
    config = {
        **_platform_fields(platform),
        "created": FIXED_CREATED,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    return _canonical_json(config)


def _write_image_manifest(layout: Path, payload: bytes, layers: int, platform: Platform) -> dict:
    """Write layers, config and manifest blobs; return the manifest's descriptor."""
    if layers < 1:
        raise ValueError("an image needs at least one layer")
    layer_descriptors, diff_ids = _write_layers(layout, payload, layers)
    config = _descriptor(OCI_CONFIG, _image_config(platform, diff_ids), layout)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config,
        "layers": layer_descriptors,
    }
    return _descriptor(OCI_MANIFEST, _canonical_json(manifest), layout)


def _tag_in_layout(layout: Path, tag: str, descriptor: dict) -> None:
    """Point ``tag`` at ``descriptor`` in ``index.json`` (replacing an older entry for it)."""
    index_path = layout / "index.json"
    index = {"schemaVersion": 2, "manifests": []}
    if index_path.exists():
        index = json.loads(index_path.read_text())
    kept = [d for d in index["manifests"] if d.get("annotations", {}).get(REF_NAME) != tag]
    index["manifests"] = [*kept, {**descriptor, "annotations": {REF_NAME: tag}}]
    index_path.write_bytes(_canonical_json(index))
    (layout / "oci-layout").write_bytes(_canonical_json({"imageLayoutVersion": "1.0.0"}))


def _as_bytes(payload: bytes | str) -> bytes:
    """Payloads may be given as text; encode them as UTF-8."""
    return payload.encode() if isinstance(payload, str) else payload


def build_oci_image(
    directory: Path | str,
    tag: str,
    payload: bytes | str,
    layers: int = 1,
    platform: Platform = ("linux", "amd64"),
) -> Path:
    """Write a single-platform OCI image tagged ``tag`` into the layout ``directory``.

    Returns the layout path; refer to the image as ``oci_ref(path, tag)``. The layers hold
    ``hello.txt`` (= payload) and, for more layers, ``layer-N.txt``.
    """
    layout = Path(directory)
    layout.mkdir(parents=True, exist_ok=True)
    descriptor = _write_image_manifest(layout, _as_bytes(payload), layers, platform)
    _tag_in_layout(layout, tag, {**descriptor, "platform": _platform_fields(platform)})
    return layout


def build_oci_index(
    directory: Path | str,
    tag: str,
    platforms: tuple[Platform, ...] | list[Platform] = (("linux", "amd64"), ("linux", "arm64")),
    payload: bytes | str | None = None,
) -> Path:
    """Write a multi-arch OCI image index tagged ``tag``: one child image per platform.

    Each child's payload is ``payload`` (default: the tag) plus its platform, so children
    differ from each other. Push it with ``skopeo copy --all`` to keep every child.
    """
    layout = Path(directory)
    layout.mkdir(parents=True, exist_ok=True)
    base = _as_bytes(tag if payload is None else payload)
    children = []
    for platform in platforms:
        child_payload = base + (" " + "/".join(platform)).encode()
        descriptor = _write_image_manifest(layout, child_payload, 1, platform)
        children.append({**descriptor, "platform": _platform_fields(platform)})
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
    _tag_in_layout(layout, tag, _descriptor(OCI_INDEX, _canonical_json(index), layout))
    return layout


def manifest_digest(directory: Path | str, tag: str) -> str:
    """The digest ``tag`` points to in a layout (manifest or index): what a push should keep."""
    index = json.loads((Path(directory) / "index.json").read_text())
    for descriptor in index["manifests"]:
        if descriptor.get("annotations", {}).get(REF_NAME) == tag:
            return descriptor["digest"]
    raise KeyError(f"tag {tag!r} not in {directory}/index.json")


def read_blob(directory: Path | str, digest: str) -> bytes:
    """The bytes of one blob of a layout (e.g. a manifest, to compare with the registry)."""
    return (Path(directory) / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


def oci_ref(directory: Path | str, tag: str) -> str:
    """The skopeo/podman reference ``oci:DIR:TAG`` for an image in a layout."""
    return f"oci:{Path(directory).resolve()}:{tag}"
