"""Manifest media types and summaries: the four modern formats, schema 1, and garbage."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.registry import manifests as m

CONFIG_DIGEST = "sha256:" + "c" * 64
LAYER_A = "sha256:" + "a" * 64
LAYER_B = "sha256:" + "b" * 64
CHILD_AMD64 = "sha256:" + "1" * 64
CHILD_ARM = "sha256:" + "2" * 64
ATTESTATION = "sha256:" + "3" * 64


def as_bytes(document: object) -> bytes:
    """JSON bytes with the 3-space indent registries and skopeo commonly produce."""
    return json.dumps(document, indent=3).encode()


def image(media_type: str, config_type: str, layer_type: str) -> bytes:
    """An image manifest with a 1469-byte config and two layers (sizes 100 and 2000)."""
    return as_bytes(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {"mediaType": config_type, "size": 1469, "digest": CONFIG_DIGEST},
            "layers": [
                {"mediaType": layer_type, "size": 100, "digest": LAYER_A},
                {"mediaType": layer_type, "size": 2000, "digest": LAYER_B},
            ],
        }
    )


DOCKER_V2 = image(
    m.DOCKER_MANIFEST_V2,
    m.DOCKER_IMAGE_CONFIG,
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
)
OCI_IMAGE = image(m.OCI_MANIFEST, m.OCI_IMAGE_CONFIG, "application/vnd.oci.image.layer.v1.tar+gzip")


def index(media_type: str, child_type: str, *, attestation: bool = False) -> bytes:
    """A two-platform index (amd64, arm/v7), optionally with a buildx attestation child."""
    children = [
        {
            "mediaType": child_type,
            "size": 528,
            "digest": CHILD_AMD64,
            "platform": {"architecture": "amd64", "os": "linux"},
        },
        {
            "mediaType": child_type,
            "size": 530,
            "digest": CHILD_ARM,
            "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
        },
    ]
    if attestation:
        children.append(
            {
                "mediaType": child_type,
                "size": 566,
                "digest": ATTESTATION,
                "platform": {"architecture": "unknown", "os": "unknown"},
                "annotations": {
                    "vnd.docker.reference.digest": CHILD_AMD64,
                    "vnd.docker.reference.type": "attestation-manifest",
                },
            }
        )
    return as_bytes({"schemaVersion": 2, "mediaType": media_type, "manifests": children})


SCHEMA1_SIGNED = as_bytes(
    {
        "schemaVersion": 1,
        "name": "demo/app",
        "tag": "old",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": LAYER_A}, {"blobSum": LAYER_B}],
        "history": [
            {"v1Compatibility": json.dumps({"id": "x", "os": "linux", "architecture": "amd64"})},
            {"v1Compatibility": json.dumps({"id": "y"})},
        ],
        "signatures": [{"header": {"alg": "ES256"}, "signature": "c2ln", "protected": "e30"}],
    }
)


MANIFEST_KEYS = (
    *("mediaType", "config", "layers", "manifests", "size", "digest", "platform"),
    *("os", "architecture", "variant", "schemaVersion", "history", "fsLayers", "annotations"),
)


class TestMediaTypes:
    def test_accept_header_lists_the_modern_types_then_schema1(self):
        """§10.3: without the OCI types 2.8.2 answers 404; schema 1 must come last."""
        listed = [part.strip() for part in m.ACCEPT_HEADER.split(",")]
        assert listed[:4] == [
            m.OCI_INDEX,
            m.OCI_MANIFEST,
            m.DOCKER_MANIFEST_LIST,
            m.DOCKER_MANIFEST_V2,
        ]
        assert set(listed[4:]) == {m.DOCKER_SCHEMA1_SIGNED, m.DOCKER_SCHEMA1}

    @pytest.mark.parametrize(
        ("media_type", "manifest", "index"),
        [
            (m.DOCKER_MANIFEST_V2, True, False),
            (m.DOCKER_MANIFEST_LIST, True, True),
            (m.OCI_MANIFEST, True, False),
            (m.OCI_INDEX, True, True),
            (m.DOCKER_SCHEMA1_SIGNED, True, False),
            (m.DOCKER_SCHEMA1, True, False),
            (f"{m.OCI_INDEX}; charset=utf-8", True, True),
            (m.OCI_MANIFEST.upper(), True, False),
            (m.BLOB_MEDIA_TYPE, False, False),
            (m.OCI_IMAGE_CONFIG, False, False),
            ("", False, False),
            (None, False, False),
        ],
    )
    def test_classification(self, media_type, manifest, index):
        assert m.is_manifest_media_type(media_type) is manifest
        assert m.is_index(media_type) is index


class TestImages:
    @pytest.mark.parametrize(
        ("body", "media_type", "config_type"),
        [
            (DOCKER_V2, m.DOCKER_MANIFEST_V2, m.DOCKER_IMAGE_CONFIG),
            (OCI_IMAGE, m.OCI_MANIFEST, m.OCI_IMAGE_CONFIG),
        ],
    )
    def test_size_is_config_plus_layers(self, body, media_type, config_type):
        summary = m.summarize(media_type, body)
        assert summary.media_type == media_type
        assert summary.size == 1469 + 100 + 2000
        assert summary.config_digest == summary.image_id == CONFIG_DIGEST
        assert summary.config_media_type == config_type
        assert summary.layer_count == 2
        assert summary.platforms == ()
        assert summary.children == ()
        assert summary.problem is None
        assert not summary.is_index

    def test_platform_comes_from_the_config_blob(self):
        config = json.dumps({"os": "linux", "architecture": "arm64", "variant": "v8", "rootfs": {}})
        summary = m.summarize(m.OCI_MANIFEST, OCI_IMAGE, config=config.encode())
        assert summary.platforms == ("linux/arm64/v8",)

    def test_unreadable_config_just_omits_the_platform(self):
        assert m.summarize(m.OCI_MANIFEST, OCI_IMAGE, config=b"\xff garbage").platforms == ()
        assert m.platform_from_config(b'{"os": "linux"}') is None

    def test_media_type_is_detected_when_the_header_is_generic(self):
        """OCI lets a manifest omit ``mediaType``; a ``config`` then means an image."""
        body = json.loads(OCI_IMAGE)
        del body["mediaType"]
        summary = m.summarize("application/json", as_bytes(body))
        assert summary.media_type == m.OCI_MANIFEST
        assert summary.size == 3569

    def test_a_missing_layer_size_gives_no_size_and_says_why(self):
        body = json.loads(DOCKER_V2)
        del body["layers"][1]["size"]
        summary = m.summarize(m.DOCKER_MANIFEST_V2, as_bytes(body))
        assert summary.size is None
        assert summary.layer_count == 2
        assert "size" in summary.problem

    def test_an_artifact_keeps_its_config_media_type(self):
        """Cosign signatures and Helm charts are OCI manifests with a foreign config type."""
        body = json.loads(OCI_IMAGE)
        body["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json"
        summary = m.summarize(m.OCI_MANIFEST, as_bytes(body))
        assert summary.config_media_type == "application/vnd.cncf.helm.config.v1+json"


class TestIndexes:
    @pytest.mark.parametrize(
        ("media_type", "child_type"),
        [(m.OCI_INDEX, m.OCI_MANIFEST), (m.DOCKER_MANIFEST_LIST, m.DOCKER_MANIFEST_V2)],
    )
    def test_platforms_and_children(self, media_type, child_type):
        summary = m.summarize(media_type, index(media_type, child_type))
        assert summary.is_index
        assert summary.platforms == ("linux/amd64", "linux/arm/v7")
        assert [child.digest for child in summary.children] == [CHILD_AMD64, CHILD_ARM]
        assert summary.children[0] == m.ChildManifest(CHILD_AMD64, child_type, 528, "linux/amd64")
        # Decision (module docstring): child descriptor sizes are manifest sizes, not images.
        assert summary.size is None
        assert summary.config_digest is None
        assert summary.problem is None

    def test_attestations_are_children_but_not_platforms(self):
        summary = m.summarize(m.OCI_INDEX, index(m.OCI_INDEX, m.OCI_MANIFEST, attestation=True))
        assert summary.platforms == ("linux/amd64", "linux/arm/v7")
        assert len(summary.children) == 3

    def test_entries_without_digest_are_skipped_and_reported(self):
        body = json.loads(index(m.OCI_INDEX, m.OCI_MANIFEST))
        body["manifests"].insert(0, {"mediaType": m.OCI_MANIFEST, "platform": "nonsense"})
        body["manifests"].append("not a descriptor")
        summary = m.summarize(m.OCI_INDEX, as_bytes(body))
        assert summary.platforms == ("linux/amd64", "linux/arm/v7")
        assert "2 index entries" in summary.problem

    def test_repeated_platforms_are_listed_once(self):
        body = json.loads(index(m.OCI_INDEX, m.OCI_MANIFEST))
        body["manifests"][1]["platform"] = {"os": "linux", "architecture": "amd64"}
        assert m.summarize(m.OCI_INDEX, as_bytes(body)).platforms == ("linux/amd64",)


class TestSchema1:
    """Portus raised NoMethodError on schema 1 (portus.md §4); this must not."""

    def test_signed_schema1_gives_layers_and_platform_without_size(self):
        summary = m.summarize(m.DOCKER_SCHEMA1_SIGNED, SCHEMA1_SIGNED)
        assert summary.media_type == m.DOCKER_SCHEMA1_SIGNED
        assert summary.layer_count == 2
        assert summary.platforms == ("linux/amd64",)
        assert summary.size is None
        assert summary.config_digest is None
        assert "schema 1" in summary.problem

    def test_schema1_is_detected_without_a_content_type(self):
        assert m.summarize(None, SCHEMA1_SIGNED).media_type == m.DOCKER_SCHEMA1_SIGNED
        unsigned = json.loads(SCHEMA1_SIGNED)
        del unsigned["signatures"]
        assert m.summarize(None, as_bytes(unsigned)).media_type == m.DOCKER_SCHEMA1

    def test_schema1_with_broken_history(self):
        body = json.loads(SCHEMA1_SIGNED)
        body["history"] = [{"v1Compatibility": "{not json"}]
        body["fsLayers"] = "oops"
        summary = m.summarize(m.DOCKER_SCHEMA1_SIGNED, as_bytes(body))
        assert summary.platforms == ()
        assert summary.layer_count is None


class TestGarbage:
    @pytest.mark.parametrize(
        ("media_type", "body"),
        [
            (m.OCI_MANIFEST, b""),
            (m.OCI_MANIFEST, b"\x00\xff\xfe"),
            (m.OCI_MANIFEST, b"<html>502 Bad Gateway</html>"),
            (m.OCI_MANIFEST, b"[1, 2, 3]"),
            (m.OCI_MANIFEST, b"null"),
            (m.OCI_MANIFEST, b'{"schemaVersion": 2}'),
            (m.OCI_MANIFEST, b'{"config": "x", "layers": {}}'),
            (m.OCI_MANIFEST, b'{"config": {"size": true}, "layers": [1, null]}'),
            (m.OCI_INDEX, b'{"manifests": {"a": 1}}'),
            (m.DOCKER_SCHEMA1_SIGNED, b'{"schemaVersion": 1}'),
            ("text/plain", b'{"hello": "world"}'),
            (None, b"{}"),
            (m.OCI_MANIFEST, b"[" * 100_000),
        ],
    )
    def test_never_raises_and_says_what_is_wrong(self, media_type, body):
        summary = m.summarize(media_type, body)
        assert summary.problem
        assert summary.size is None

    def test_text_bodies_are_accepted(self):
        assert m.summarize(m.OCI_MANIFEST, OCI_IMAGE.decode()).size == 3569

    @given(st.binary(max_size=300))
    def test_arbitrary_bytes_never_raise(self, body):
        m.summarize(m.OCI_MANIFEST, body)

    @given(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(MANIFEST_KEYS),
                    inner,
                    max_size=5,
                )
            ),
            max_leaves=20,
        ),
        st.sampled_from([None, m.OCI_MANIFEST, m.OCI_INDEX, m.DOCKER_SCHEMA1_SIGNED]),
    )
    def test_arbitrary_json_never_raises(self, document, media_type):
        m.summarize(media_type, json.dumps(document).encode(), config=json.dumps(document))
