"""Registry notification envelopes: parse them into typed records and classify each event.

The registry POSTs ``{"events": [...]}`` to the receiver (protocol.md §9.1, §9.2). In 2.8.2
every envelope carries one event, but the format allows several, so everything here works
on lists. The same JSON arrives as ``application/vnd.docker.distribution.events.v1+json``
(2.8) or ``...v2+json`` (v3); the shape is identical, so the content type is not checked.

What the receiver should do with a malformed envelope is its own decision, but note that
the registry retries a rejected delivery forever and holds back every later event behind it
(§9.1): log it and answer 2xx rather than 4xx.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.registry.manifests import is_manifest_media_type

EVENTS_MEDIA_TYPES = (
    "application/vnd.docker.distribution.events.v1+json",
    "application/vnd.docker.distribution.events.v2+json",
)


class EnvelopeError(ValueError):
    """A notification body that is not a registry envelope; the message says what is wrong."""


class EventKind(StrEnum):
    """What an event means for Wharfinger's database (protocol.md §9.5)."""

    TAG_PUSH = "tag_push"
    """A manifest was pushed by tag: the tag now points to ``digest``."""
    MANIFEST_PUSH_UNTAGGED = "manifest_push_untagged"
    """A manifest was pushed by digest only, e.g. a child of a multi-platform index."""
    MANIFEST_DELETE = "manifest_delete"
    """A digest was deleted. Blob deletes look the same: check the digest is a known manifest."""
    TAG_DELETE = "tag_delete"
    """A tag went away because the manifest it pointed to was deleted."""
    MANIFEST_PULL = "manifest_pull"
    """A manifest was downloaded with GET (HEAD checks are not pulls)."""
    IGNORED = "ignored"
    """Blob pushes, pulls and mounts, HEAD requests, unknown actions."""


@dataclass(frozen=True)
class RegistryNotification:
    """One registry event with the fields Wharfinger uses, plus the event as received.

    ``timestamp`` is aware UTC (nanoseconds truncated to microseconds), or None if the
    event had no readable one. ``actor`` is the token's ``sub``, None for anonymous.
    Optional fields of the wrong JSON type are read as None; ``raw`` keeps the original.
    """

    id: str
    action: str
    kind: EventKind
    repository: str
    timestamp: dt.datetime | None = None
    tag: str | None = None
    digest: str | None = None
    media_type: str | None = None
    size: int | None = None
    url: str | None = None
    from_repository: str | None = None
    actor: str | None = None
    request_id: str | None = None
    request_addr: str | None = None
    request_host: str | None = None
    request_method: str | None = None
    request_useragent: str | None = None
    source_addr: str | None = None
    source_instance: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_manifest(self) -> bool:
        """True when the target's media type is a manifest type (not a blob)."""
        return is_manifest_media_type(self.media_type)


def parse_envelope(body: bytes | str | Mapping[str, Any]) -> list[RegistryNotification]:
    """Every event of a notification body, in order; raises EnvelopeError if any is malformed.

    ``body`` is the raw request body or already-decoded JSON. Use ``parse_event`` on
    ``events`` items directly to keep the good events of a partly broken envelope.
    """
    document = body if isinstance(body, Mapping) else _decode_json(body)
    events = document.get("events")
    if not isinstance(events, list):
        raise EnvelopeError("not a registry notification: the body has no 'events' list")
    return [_parse_numbered(number, event) for number, event in enumerate(events, start=1)]


def parse_event(event: Any) -> RegistryNotification:
    """One event object as a RegistryNotification; raises EnvelopeError if it is malformed.

    Required: ``id``, ``action``, and a ``target`` object naming the ``repository``.
    """
    if not isinstance(event, Mapping):
        raise EnvelopeError(f"an event must be a JSON object, got {_json_type(event)}")
    event_id = _required_string(event, "id")
    action = _required_string(event, "action")
    target = event.get("target")
    if not isinstance(target, Mapping):
        raise EnvelopeError(f"event {event_id}: 'target' must be a JSON object")
    repository = _optional_string(target, "repository")
    if repository is None:
        raise EnvelopeError(f"event {event_id}: the target names no 'repository'")
    request = _section(event, "request")
    notification_fields = {
        "id": event_id,
        "action": action,
        "repository": repository,
        "timestamp": parse_timestamp(event.get("timestamp")),
        **_target_fields(target),
        "actor": _optional_string(_section(event, "actor"), "name"),
        **_request_fields(request),
        "source_addr": _optional_string(_section(event, "source"), "addr"),
        "source_instance": _optional_string(_section(event, "source"), "instanceID"),
    }
    kind = classify(
        action,
        notification_fields["request_method"],
        notification_fields["tag"],
        notification_fields["digest"],
        notification_fields["media_type"],
    )
    return RegistryNotification(kind=kind, raw=event, **notification_fields)


def classify(
    action: str,
    method: str | None,
    tag: str | None,
    digest: str | None,
    media_type: str | None,
) -> EventKind:
    """The kind of an event from its action, request method and target (protocol.md §9.3, §9.5).

    A manifest delete by digest is followed by one tag delete per tag that pointed to it;
    2.8.2 gives both no media type (a delete naming a blob media type is ignored). HEAD pulls are ignored: skopeo, podman and the reconciler
    itself HEAD constantly, and the registry even reports HEADs that ended in 404.
    """
    manifest = is_manifest_media_type(media_type)
    if action == "push" and manifest:
        return EventKind.TAG_PUSH if tag else EventKind.MANIFEST_PUSH_UNTAGGED
    if action == "delete" and (manifest or not media_type):
        if tag:
            return EventKind.TAG_DELETE
        if digest:
            return EventKind.MANIFEST_DELETE
    if action == "pull" and manifest and (method or "").upper() == "GET":
        return EventKind.MANIFEST_PULL
    return EventKind.IGNORED


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An RFC 3339 event time (``...:41.939030637Z``) as aware UTC, or None if unreadable.

    Python 3.11's ``fromisoformat`` reads nanoseconds (keeping microseconds) and ``Z``. A
    time without a zone is taken as UTC, which is what the registry writes.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _parse_numbered(number: int, event: Any) -> RegistryNotification:
    """``parse_event`` with the event's position added to any error message."""
    try:
        return parse_event(event)
    except EnvelopeError as error:
        raise EnvelopeError(f"event #{number} of the envelope: {error}") from None


def _decode_json(body: bytes | str) -> Mapping[str, Any]:
    """The body as a JSON object, or EnvelopeError saying why it is not one."""
    if not body:
        raise EnvelopeError("the notification body is empty")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise EnvelopeError(f"the notification body is not JSON: {error}") from None
    if not isinstance(document, Mapping):
        raise EnvelopeError(
            f"the notification body must be a JSON object, got {_json_type(document)}"
        )
    return document


def _target_fields(target: Mapping[str, Any]) -> dict[str, Any]:
    """The target's optional fields. ``size`` falls back to the deprecated ``length``."""
    size = _optional_int(target, "size")
    return {
        "tag": _optional_string(target, "tag"),
        "digest": _optional_string(target, "digest"),
        "media_type": _optional_string(target, "mediaType"),
        "size": size if size is not None else _optional_int(target, "length"),
        "url": _optional_string(target, "url"),
        "from_repository": _optional_string(target, "fromRepository"),
    }


def _request_fields(request: Mapping[str, Any]) -> dict[str, Any]:
    """The ``request`` section: id, client address, Host header, method and user agent."""
    return {
        "request_id": _optional_string(request, "id"),
        "request_addr": _optional_string(request, "addr"),
        "request_host": _optional_string(request, "host"),
        "request_method": _optional_string(request, "method"),
        "request_useragent": _optional_string(request, "useragent"),
    }


def _section(event: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A sub-object of the event (``request``, ``actor``, ``source``); {} when absent or odd."""
    value = event.get(name)
    return value if isinstance(value, Mapping) else {}


def _required_string(event: Mapping[str, Any], key: str) -> str:
    """A required non-empty string field of the event, or EnvelopeError naming it."""
    value = _optional_string(event, key)
    if value is None:
        label = _optional_string(event, "id")
        where = f"event {label}" if label else "an event"
        raise EnvelopeError(f"{where} has no {key!r} (a non-empty string is required)")
    return value


def _optional_string(section: Mapping[str, Any], key: str) -> str | None:
    """A non-empty string field, or None when absent, empty or of another type."""
    value = section.get(key)
    return value if isinstance(value, str) and value else None


def _optional_int(section: Mapping[str, Any], key: str) -> int | None:
    """A non-negative integer field, or None (JSON booleans and floats do not count)."""
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")
