"""Notification envelopes: parsing real-shaped bodies, the classification table, bad input."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from app.registry.events import (
    EVENTS_MEDIA_TYPES,
    EnvelopeError,
    EventKind,
    RegistryNotification,
    classify,
    parse_envelope,
    parse_event,
    parse_timestamp,
)
from app.registry.manifests import (
    BLOB_MEDIA_TYPE,
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST_V2,
    OCI_INDEX,
    OCI_MANIFEST,
)

MANIFEST_DIGEST = "sha256:" + "4e" * 32
BLOB_DIGEST = "sha256:" + "b1" * 32
REGISTRY = "http://127.0.0.1:15100"

# Shaped like protocol.md §9.4 (a manifest push by skopeo), values of our own.
PUSH_EVENT = {
    "id": "0b6f7f3e-2f4c-4d0e-9a51-5d6c3c7a9e01",
    "timestamp": "2026-11-28T00:00:41.939030637Z",
    "action": "push",
    "target": {
        "mediaType": OCI_MANIFEST,
        "size": 418,
        "digest": MANIFEST_DIGEST,
        "length": 418,
        "repository": "team/app",
        "url": f"{REGISTRY}/v2/team/app/manifests/{MANIFEST_DIGEST}",
        "tag": "v1",
    },
    "request": {
        "id": "7a0c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d",
        "addr": "127.0.0.1:56824",
        "host": "127.0.0.1:15100",
        "method": "PUT",
        "useragent": "skopeo/1.9.3",
    },
    "actor": {"name": "alice"},
    "source": {"addr": "vm:15100", "instanceID": "5e1d2c3b-4a59-4867-9a8b-7c6d5e4f3a2b"},
}


def event(**changes) -> dict:
    """PUSH_EVENT with top-level keys replaced; ``target``/``request`` dicts are merged."""
    result = copy.deepcopy(PUSH_EVENT)
    for key, value in changes.items():
        if key in ("target", "request") and isinstance(value, dict):
            result[key] = {k: v for k, v in {**result[key], **value}.items() if v is not None}
        elif value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def envelope_bytes(*events: dict) -> bytes:
    """An envelope as the registry writes it: ``json.MarshalIndent`` with three spaces."""
    return json.dumps({"events": list(events)}, indent=3).encode()


class TestParsing:
    def test_a_manifest_push_reads_every_field(self):
        (notification,) = parse_envelope(envelope_bytes(PUSH_EVENT))
        assert notification == RegistryNotification(
            id=PUSH_EVENT["id"],
            action="push",
            kind=EventKind.TAG_PUSH,
            repository="team/app",
            timestamp=dt.datetime(2026, 11, 28, 0, 0, 41, 939030, tzinfo=dt.UTC),
            tag="v1",
            digest=MANIFEST_DIGEST,
            media_type=OCI_MANIFEST,
            size=418,
            url=f"{REGISTRY}/v2/team/app/manifests/{MANIFEST_DIGEST}",
            actor="alice",
            request_id="7a0c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d",
            request_addr="127.0.0.1:56824",
            request_host="127.0.0.1:15100",
            request_method="PUT",
            request_useragent="skopeo/1.9.3",
            source_addr="vm:15100",
            source_instance="5e1d2c3b-4a59-4867-9a8b-7c6d5e4f3a2b",
        )
        assert notification.raw == PUSH_EVENT
        assert notification.is_manifest

    def test_str_bytes_and_dict_bodies_give_the_same_records(self):
        body = envelope_bytes(PUSH_EVENT)
        assert (
            parse_envelope(body)
            == parse_envelope(body.decode())
            == parse_envelope(json.loads(body))
        )

    def test_several_events_keep_their_order(self):
        """2.8.2 sends one event per POST, but the format allows more (§9.1)."""
        delete = event(
            id="e2", action="delete", target={"mediaType": None, "size": None, "length": None}
        )
        parsed = parse_envelope(envelope_bytes(PUSH_EVENT, delete))
        assert [n.id for n in parsed] == [PUSH_EVENT["id"], "e2"]
        assert parse_envelope(b'{"events": []}') == []

    def test_anonymous_actor_and_missing_sections(self):
        """An anonymous pull has ``actor: {}``; request/source may be absent altogether."""
        notification = parse_event(event(actor={}, request=None, source=None))
        assert notification.actor is None
        assert notification.request_method is None
        assert notification.source_instance is None

    def test_mount_keeps_the_source_repository(self):
        mount = event(
            action="mount",
            target={
                "mediaType": BLOB_MEDIA_TYPE,
                "digest": BLOB_DIGEST,
                "tag": None,
                "fromRepository": "other/src",
            },
            request={"method": "POST"},
        )
        notification = parse_event(mount)
        assert notification.from_repository == "other/src"
        assert notification.kind is EventKind.IGNORED
        assert not notification.is_manifest

    def test_deprecated_length_stands_in_for_size(self):
        assert parse_event(event(target={"size": None, "length": 77})).size == 77

    def test_optional_fields_of_the_wrong_type_read_as_none(self):
        odd = event(target={"size": "418", "length": 4.5, "tag": 5, "digest": ["x"]}, actor="alice")
        notification = parse_event(odd)
        assert (notification.size, notification.tag, notification.digest) == (None, None, None)
        assert notification.actor is None
        assert notification.kind is EventKind.MANIFEST_PUSH_UNTAGGED

    def test_the_events_media_types_are_both_known(self):
        assert "application/vnd.docker.distribution.events.v1+json" in EVENTS_MEDIA_TYPES
        assert "application/vnd.docker.distribution.events.v2+json" in EVENTS_MEDIA_TYPES


class TestTimestamps:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2026-11-28T00:00:41.939030637Z", dt.datetime(2026, 11, 28, 0, 0, 41, 939030)),
            ("2026-11-28T00:05:24.416354024Z", dt.datetime(2026, 11, 28, 0, 5, 24, 416354)),
            ("2026-11-28T00:00:41Z", dt.datetime(2026, 11, 28, 0, 0, 41)),
            ("2026-11-28T02:00:41.5+02:00", dt.datetime(2026, 11, 28, 0, 0, 41, 500000)),
            ("2026-11-28T00:00:41.1", dt.datetime(2026, 11, 28, 0, 0, 41, 100000)),
        ],
    )
    def test_rfc3339_with_nanoseconds_becomes_aware_utc(self, text, expected):
        parsed = parse_timestamp(text)
        assert parsed == expected.replace(tzinfo=dt.UTC)
        assert parsed.tzinfo is dt.UTC

    @pytest.mark.parametrize("value", [None, "", "yesterday", "2026-13-45T00:00:00Z", 1700000000])
    def test_unreadable_timestamps_are_none_not_errors(self, value):
        assert parse_timestamp(value) is None
        assert parse_event(event(timestamp=value)).timestamp is None


# (action, method, target changes, expected kind): protocol.md §9.3 and §9.5.
CLASSIFICATION = [
    ("push", "PUT", {}, EventKind.TAG_PUSH),
    ("push", "PUT", {"mediaType": DOCKER_MANIFEST_V2}, EventKind.TAG_PUSH),
    ("push", "PUT", {"mediaType": OCI_INDEX}, EventKind.TAG_PUSH),
    ("push", "PUT", {"mediaType": DOCKER_MANIFEST_LIST}, EventKind.TAG_PUSH),
    ("push", "PUT", {"tag": None}, EventKind.MANIFEST_PUSH_UNTAGGED),
    ("push", "PUT", {"tag": ""}, EventKind.MANIFEST_PUSH_UNTAGGED),
    ("push", "PUT", {"mediaType": BLOB_MEDIA_TYPE, "tag": None}, EventKind.IGNORED),
    ("delete", "DELETE", {"mediaType": None, "size": None, "tag": None}, EventKind.MANIFEST_DELETE),
    (
        "delete",
        "DELETE",
        {"mediaType": None, "size": None, "digest": None, "tag": "v2"},
        EventKind.TAG_DELETE,
    ),
    ("delete", "DELETE", {"mediaType": BLOB_MEDIA_TYPE, "tag": None}, EventKind.IGNORED),
    ("delete", "DELETE", {"mediaType": None, "digest": None, "tag": None}, EventKind.IGNORED),
    ("pull", "GET", {}, EventKind.MANIFEST_PULL),
    ("pull", "get", {"tag": None}, EventKind.MANIFEST_PULL),
    ("pull", "HEAD", {}, EventKind.IGNORED),
    ("pull", None, {}, EventKind.IGNORED),
    ("pull", "GET", {"mediaType": BLOB_MEDIA_TYPE, "tag": None}, EventKind.IGNORED),
    ("pull", "HEAD", {"mediaType": BLOB_MEDIA_TYPE, "tag": None}, EventKind.IGNORED),
    ("mount", "POST", {"mediaType": BLOB_MEDIA_TYPE, "tag": None}, EventKind.IGNORED),
    ("teleport", "PUT", {}, EventKind.IGNORED),
]


@pytest.mark.parametrize(("action", "method", "target", "kind"), CLASSIFICATION)
def test_classification_table(action, method, target, kind):
    notification = parse_event(event(action=action, request={"method": method}, target=target))
    assert notification.kind is kind
    raw_target = notification.raw["target"]
    assert (
        classify(
            action,
            method,
            raw_target.get("tag"),
            raw_target.get("digest"),
            raw_target.get("mediaType"),
        )
        is kind
    )


def test_kinds_are_plain_strings_for_storage():
    assert EventKind.TAG_PUSH == "tag_push"
    assert json.dumps(EventKind.MANIFEST_PULL) == '"manifest_pull"'


class TestMalformed:
    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"", "empty"),
            (b"not json at all", "not JSON"),
            (b"\xff\xfe\x00", "not JSON"),
            (b"[1, 2]", "JSON object, got an array"),
            (b'"events"', "JSON object, got a string"),
            (b"{}", "no 'events' list"),
            (b'{"events": null}', "no 'events' list"),
            (b'{"events": {"id": "x"}}', "no 'events' list"),
            (b'{"events": [42]}', "event #1 of the envelope: an event must be a JSON object"),
            (b"[" * 50_000, "not JSON"),
        ],
    )
    def test_bodies_that_are_not_envelopes(self, body, message):
        with pytest.raises(EnvelopeError, match=message):
            parse_envelope(body)

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"id": None}, "an event has no 'id'"),
            ({"id": ""}, "an event has no 'id'"),
            ({"id": 12}, "an event has no 'id'"),
            ({"action": None}, f"event {PUSH_EVENT['id']} has no 'action'"),
            ({"target": None}, "'target' must be a JSON object"),
            ({"target": "team/app"}, "'target' must be a JSON object"),
            ({"target": {"repository": None}}, "names no 'repository'"),
        ],
    )
    def test_events_missing_required_fields(self, changes, message):
        with pytest.raises(EnvelopeError, match=message):
            parse_envelope(envelope_bytes(PUSH_EVENT, event(**changes)))
        with pytest.raises(EnvelopeError, match="event #2 of the envelope"):
            parse_envelope(envelope_bytes(PUSH_EVENT, event(**changes)))

    def test_envelope_error_is_a_value_error(self):
        assert issubclass(EnvelopeError, ValueError)

    def test_parse_event_lets_a_receiver_keep_the_good_events(self):
        """A receiver may parse item by item to store the good events of a broken envelope."""
        document = json.loads(envelope_bytes(PUSH_EVENT, {"id": "broken"}))
        kept = []
        for item in document["events"]:
            try:
                kept.append(parse_event(item))
            except EnvelopeError:
                continue
        assert [n.id for n in kept] == [PUSH_EVENT["id"]]
