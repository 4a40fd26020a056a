"""Manifest media types and what a manifest body tells about an image: size, platforms, layers.

Pure functions over bytes, no HTTP: the registry client fetches, this module reads. The
four modern formats (Docker v2 schema 2, Docker manifest list, OCI manifest, OCI index) are
understood fully; the legacy Docker schema 1 only as far as it carries the information.
``summarize`` never raises on odd input, because one strange manifest must not stop a whole
catalog pass (Portus crashed on schema 1 and ignored OCI, portus.md §4).

Size, as decided for Wharfinger:

* **image** (v2s2, OCI manifest): config size + the sum of the layer sizes, i.e. the
  compressed bytes a pull transfers. This is the number the UI shows as the tag's size.
* **index** (OCI index, Docker manifest list): ``None``. The child descriptors' sizes are
  the sizes of the child *manifest documents* (a few hundred bytes each), not of images, so
  adding them up would show a meaningless "image size". The children are listed in
  ``ManifestSummary.children``; whoever wants a per-platform size GETs and summarizes them.
* **schema 1**: ``None``. Schema 1 manifests carry no blob sizes at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"

DOCKER_IMAGE_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
# Registry 2.8 stores no media type for blobs, so every blob event says this (protocol.md §9.2).
BLOB_MEDIA_TYPE = "application/octet-stream"

INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_MEDIA_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST_V2})
SCHEMA1_MEDIA_TYPES = frozenset({DOCKER_SCHEMA1_SIGNED, DOCKER_SCHEMA1})
MANIFEST_MEDIA_TYPES = INDEX_MEDIA_TYPES | IMAGE_MEDIA_TYPES | SCHEMA1_MEDIA_TYPES

# Send all four modern types on every manifest GET/HEAD: without the OCI ones 2.8.2 answers
# 404 for OCI content, without the Docker v2 ones it down-converts to schema 1 with another
# digest (protocol.md §10.3, §11 #23). Schema 1 comes last, for registries holding old pushes.
ACCEPT_HEADER = ", ".join(
    (
        OCI_INDEX,
        OCI_MANIFEST,
        DOCKER_MANIFEST_LIST,
        DOCKER_MANIFEST_V2,
        DOCKER_SCHEMA1_SIGNED,
        DOCKER_SCHEMA1,
    )
)

# buildx stores provenance/SBOM documents in an index as "unknown/unknown" children marked
# with this annotation; they are not platforms a user can pull.
_ATTESTATION_ANNOTATION = "vnd.docker.reference.type"
_UNKNOWN_PLATFORM = "unknown/unknown"


@dataclass(frozen=True)
class ChildManifest:
    """One entry of an index: the child manifest's digest, media type, size and platform.

    ``size`` is the size of the child manifest document, not of the image it describes.
    """

    digest: str
    media_type: str | None
    size: int | None
    platform: str | None


@dataclass(frozen=True)
class ManifestSummary:
    """What a manifest tells without fetching anything else.

    ``media_type`` is the type given by the registry, else the one found in the body.
    ``size`` follows the module's size rules (``None`` for indexes and schema 1).
    ``config_digest`` is the image ID for Docker-style tooling. ``platforms`` holds
    ``os/arch[/variant]`` strings: from the descriptors for an index, from the config blob
    (when given) or the schema 1 body for an image. ``problem`` says, for an operator's
    log, why something could not be read; it is ``None`` when the manifest was understood.
    """

    media_type: str | None
    size: int | None = None
    config_digest: str | None = None
    config_media_type: str | None = None
    layer_count: int | None = None
    platforms: tuple[str, ...] = ()
    children: tuple[ChildManifest, ...] = field(default=())
    problem: str | None = None

    @property
    def image_id(self) -> str | None:
        """The image ID as ``docker images --digests`` shows it: the config blob's digest."""
        return self.config_digest

    @property
    def is_index(self) -> bool:
        """True for an OCI index or a Docker manifest list."""
        return is_index(self.media_type)


def normalize_media_type(media_type: str | None) -> str | None:
    """The bare media type, lower case, without parameters such as ``; charset=utf-8``."""
    if not media_type or not isinstance(media_type, str):
        return None
    bare = media_type.split(";", 1)[0].strip().lower()
    return bare or None


def is_manifest_media_type(media_type: str | None) -> bool:
    """True when ``media_type`` is one of the manifest types a registry stores as a manifest.

    Portus accepted only ``application/vnd.docker.distribution.manifest*``; OCI manifests and
    indexes count too (protocol.md §9.3).
    """
    return normalize_media_type(media_type) in MANIFEST_MEDIA_TYPES


def is_index(media_type: str | None) -> bool:
    """True for a multi-platform manifest: an OCI index or a Docker manifest list."""
    return normalize_media_type(media_type) in INDEX_MEDIA_TYPES


def summarize(
    media_type: str | None, body: bytes | str, config: bytes | str | None = None
) -> ManifestSummary:
    """Read a manifest body (and optionally its config blob) into a ManifestSummary.

    ``media_type`` is the registry's ``Content-Type`` or the event's ``mediaType``; when it
    is missing or generic the body's own ``mediaType``/shape decides. Never raises: an
    unreadable body yields a summary whose ``problem`` says why.
    """
    document = _json_object(body)
    declared = normalize_media_type(media_type)
    if document is None:
        return ManifestSummary(declared, problem="the manifest body is not a JSON object")
    effective = declared if declared in MANIFEST_MEDIA_TYPES else detect_media_type(document)
    if effective in INDEX_MEDIA_TYPES:
        return _summarize_index(effective, document)
    if effective in IMAGE_MEDIA_TYPES:
        return _summarize_image(effective, document, config)
    if effective in SCHEMA1_MEDIA_TYPES:
        return _summarize_schema1(effective, document)
    return ManifestSummary(declared, problem=f"unknown manifest media type {media_type!r}")


def detect_media_type(document: Mapping[str, Any]) -> str | None:
    """The media type of a parsed manifest from its ``mediaType`` field or its shape.

    OCI allows omitting ``mediaType``; then ``manifests`` means an index and ``config`` an
    image. Schema 1 has ``schemaVersion: 1`` and is signed when it carries ``signatures``.
    """
    declared = normalize_media_type(_string(document.get("mediaType")))
    if declared in MANIFEST_MEDIA_TYPES:
        return declared
    if document.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1_SIGNED if "signatures" in document else DOCKER_SCHEMA1
    if isinstance(document.get("manifests"), list):
        return OCI_INDEX
    if isinstance(document.get("config"), Mapping):
        return OCI_MANIFEST
    return None


def platform_from_config(config: bytes | str | None) -> str | None:
    """``os/arch[/variant]`` from an image config blob, or None when it does not say."""
    document = _json_object(config) if config is not None else None
    return _platform_string(document) if document is not None else None


def _summarize_index(media_type: str, document: Mapping[str, Any]) -> ManifestSummary:
    """An index: its children and their platforms; size None (see the module docstring)."""
    entries = document.get("manifests")
    if not isinstance(entries, list):
        return ManifestSummary(media_type, problem="the index has no 'manifests' list")
    pairs = [(child, raw) for raw in entries if (child := _child(raw)) is not None]
    children = tuple(child for child, _ in pairs)
    platforms = _unique(child.platform for child, raw in pairs if _is_runnable(raw))
    skipped = len(entries) - len(children)
    problem = f"{skipped} index entries without a digest were skipped" if skipped else None
    return ManifestSummary(media_type, platforms=platforms, children=children, problem=problem)


def _summarize_image(
    media_type: str, document: Mapping[str, Any], config: bytes | str | None
) -> ManifestSummary:
    """A single image: config digest, layer count, size, platform from the config blob."""
    config_descriptor = document.get("config")
    layers = document.get("layers")
    if not isinstance(config_descriptor, Mapping) or not isinstance(layers, list):
        return ManifestSummary(media_type, problem="the manifest has no 'config' or 'layers'")
    size = _total_size([config_descriptor, *layers])
    platform = platform_from_config(config)
    return ManifestSummary(
        media_type,
        size=size,
        config_digest=_string(config_descriptor.get("digest")),
        config_media_type=normalize_media_type(_string(config_descriptor.get("mediaType"))),
        layer_count=len(layers),
        platforms=(platform,) if platform else (),
        problem=None if size is not None else "some descriptors have no valid size",
    )


def _summarize_schema1(media_type: str, document: Mapping[str, Any]) -> ManifestSummary:
    """A legacy schema 1 manifest: layer count and platform only; it records no sizes."""
    layers = document.get("fsLayers")
    platform = _schema1_platform(document)
    return ManifestSummary(
        media_type,
        layer_count=len(layers) if isinstance(layers, list) else None,
        platforms=(platform,) if platform else (),
        problem="schema 1 manifest: no config blob and no layer sizes",
    )


def _schema1_platform(document: Mapping[str, Any]) -> str | None:
    """Platform of a schema 1 image: ``architecture`` at the top, ``os`` in the newest
    ``history[].v1Compatibility`` (a JSON document inside a string)."""
    history = document.get("history")
    newest = history[0] if isinstance(history, list) and history else None
    compat = newest.get("v1Compatibility") if isinstance(newest, Mapping) else None
    details = _json_object(compat) if isinstance(compat, str) else None
    os_name = _string(details.get("os")) if details else None
    return _platform_string({"os": os_name, "architecture": document.get("architecture")})


def _child(entry: Any) -> ChildManifest | None:
    """An index entry as a ChildManifest, or None when it is not a descriptor with a digest."""
    if not isinstance(entry, Mapping) or not _string(entry.get("digest")):
        return None
    platform = entry.get("platform")
    return ChildManifest(
        digest=entry["digest"],
        media_type=normalize_media_type(_string(entry.get("mediaType"))),
        size=_size(entry.get("size")),
        platform=_platform_string(platform) if isinstance(platform, Mapping) else None,
    )


def _is_runnable(entry: Mapping[str, Any]) -> bool:
    """False for attestation children and ``unknown/unknown`` entries (not pullable platforms)."""
    annotations = entry.get("annotations")
    if isinstance(annotations, Mapping) and _ATTESTATION_ANNOTATION in annotations:
        return False
    platform = entry.get("platform")
    return not (isinstance(platform, Mapping) and _platform_string(platform) == _UNKNOWN_PLATFORM)


def _platform_string(fields: Mapping[str, Any]) -> str | None:
    """``os/architecture[/variant]`` from a platform object or config; None if either is missing."""
    os_name, arch = _string(fields.get("os")), _string(fields.get("architecture"))
    if not os_name or not arch:
        return None
    variant = _string(fields.get("variant"))
    return f"{os_name}/{arch}/{variant}" if variant else f"{os_name}/{arch}"


def _total_size(descriptors: Iterable[Any]) -> int | None:
    """Sum of the descriptors' sizes, or None if any descriptor lacks a valid size."""
    total = 0
    for descriptor in descriptors:
        size = _size(descriptor.get("size")) if isinstance(descriptor, Mapping) else None
        if size is None:
            return None
        total += size
    return total


def _size(value: Any) -> int | None:
    """A descriptor size: a non-negative int (JSON booleans are not sizes)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _string(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def _unique(values: Iterable[str | None]) -> tuple[str, ...]:
    """The non-empty values in first-seen order, without repeats."""
    return tuple(dict.fromkeys(v for v in values if v))


def _json_object(data: bytes | str | None) -> dict[str, Any] | None:
    """``data`` parsed as a JSON object, or None for anything else (never raises)."""
    try:
        value = json.loads(data) if data is not None else None
    except (ValueError, TypeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
