"""Envelope builders and an offline manifest reader for notification tests."""

from __future__ import annotations

import json
import uuid

import pytest

from app.models.enums import Role, Visibility
from app.registry import manifests
from tests.factories import make_namespace, make_registry, make_team, make_user

REGISTRY_HOST = "127.0.0.1:5999"
EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json"
DIGEST = "sha256:" + "a" * 64
OTHER_DIGEST = "sha256:" + "b" * 64


def event(
    action="push",
    repository="microbox/etcd",
    *,
    tag="2.1.1",
    digest=DIGEST,
    media_type=manifests.OCI_MANIFEST,
    method=None,
    actor="gggg",
    host=REGISTRY_HOST,
    event_id=None,
    size=418,
):
    """One notification event shaped like registry 2.8.2's (protocol.md §9.4)."""
    target = {"repository": repository}
    if media_type:
        target["mediaType"] = media_type
    if digest:
        target.update(digest=digest, size=size, length=size)
    if tag:
        target["tag"] = tag
    method = method or {"push": "PUT", "pull": "GET", "delete": "DELETE"}.get(action, "GET")
    return {
        "id": event_id or str(uuid.uuid4()),
        "timestamp": "2026-11-28T00:00:41.939030637Z",
        "action": action,
        "target": target,
        "request": {
            "id": str(uuid.uuid4()),
            "addr": "127.0.0.1:5555",
            "host": host,
            "method": method,
            "useragent": "skopeo/1.9.3",
        },
        "actor": {"name": actor} if actor else {},
        "source": {"addr": "vm:5000", "instanceID": str(uuid.uuid4())},
    }


def envelope(*events) -> bytes:
    """The JSON body of a notification POST."""
    return json.dumps({"events": list(events)}, indent=3).encode()


def post_events(client, body, *, secret="test-events-secret", content_type=EVENTS_TYPE):
    """POST an envelope the way the registry does."""
    headers = {"Authorization": f"Bearer {secret}"} if secret is not None else {}
    return client.post("/v2/webhooks/events", data=body, headers=headers, content_type=content_type)


class OfflineManifests:
    """Stands in for the registry read when no registry runs in a unit test: it knows
    nothing beyond the event (exactly what the real fetcher returns when the registry
    cannot be reached). The end-to-end tests use the real registry."""

    def describe(self, registry, repository, digest, media_type):
        return manifests.ManifestSummary(media_type=media_type, problem="offline")

    def close(self):
        pass


@pytest.fixture
def seed(plugins):
    """The seed's setup: registry, user gggg contributor of a team owning ``microbox``."""
    registry = make_registry(plugins, hostname=REGISTRY_HOST, use_ssl=False)
    gggg = make_user(plugins, "gggg")
    team = make_team("microbox-team", members=[(gggg, Role.CONTRIBUTOR)])
    namespace = make_namespace(registry, team, "microbox", visibility=Visibility.PRIVATE)
    return {"registry": registry, "user": gggg, "team": team, "namespace": namespace}
