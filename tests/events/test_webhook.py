"""POST /v2/webhooks/events: authentication, content types, durable de-duplicated storage."""

from __future__ import annotations

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.jobs import tasks
from app.models import RegistryEvent
from app.models.enums import EventStatus
from tests.events.conftest import envelope, event, post_events


def _stored():
    return list(db.session.scalars(sa.select(RegistryEvent).order_by(RegistryEvent.id)))


def test_secret_is_required(client, seed):
    body = envelope(event())
    assert post_events(client, body, secret=None).status_code == 401
    assert post_events(client, body, secret="wrong").status_code == 401
    assert _stored() == []


def test_stores_and_deduplicates(client, seed, monkeypatch):
    enqueued = []
    runner = client.application.extensions["wharfinger.jobs"]
    monkeypatch.setattr(runner, "enqueue_once", lambda name, func: enqueued.append(name))
    push = event(event_id="fc53d836-0f68-44fd-9bb7-a72571e773ba")
    first = post_events(client, envelope(push))
    assert first.status_code == 202 and first.get_json() == {"accepted": 1, "stored": 1}
    again = post_events(client, envelope(push))
    assert again.status_code == 202 and again.get_json()["stored"] == 0
    rows = _stored()
    assert len(rows) == 1
    row = rows[0]
    assert (row.event_id, row.action, row.repository, row.tag, row.actor_name) == (
        push["id"],
        "push",
        "microbox/etcd",
        "2.1.1",
        "gggg",
    )
    assert (
        row.status == EventStatus.FRESH
        and row.payload["target"]["digest"] == push["target"]["digest"]
    )
    assert enqueued == [tasks.APPLY_PENDING]  # the redelivery stored nothing, queued nothing


def test_unused_events_are_accepted_and_not_stored(client, seed):
    blob = event(tag=None, media_type="application/octet-stream")
    head = event("pull", method="HEAD")
    mount = event("mount", tag=None, media_type="application/octet-stream")
    response = post_events(client, envelope(blob, head, mount))
    assert response.status_code == 202
    assert _stored() == []


def test_content_types(client, seed):
    body = envelope(event())
    for accepted in ("application/vnd.docker.distribution.events.v2+json", "application/json"):
        assert post_events(client, body, content_type=accepted).status_code == 202
    refused = post_events(client, body, content_type="text/plain")
    assert refused.status_code == 415
    assert "events.v1+json" in refused.get_json()["errors"][0]["message"]


def test_malformed_envelopes_are_400_with_a_reason(client, seed):
    for body, words in (
        (b"not json", "not JSON"),
        (b'{"events": 3}', "'events' list"),
        (b'{"events": [{"action": "push"}]}', "id"),
    ):
        response = post_events(client, body)
        assert response.status_code == 400, body
        assert words in response.get_json()["errors"][0]["message"]


def test_database_down_answers_503_so_the_registry_retries(app_config, seed):
    app_config["DATABASE_URL"] = "mysql+pymysql://nobody@127.0.0.1:1/wharfinger"
    broken = create_app(app_config)
    response = post_events(broken.test_client(), envelope(event()))
    assert response.status_code == 503
    assert "retry" in response.get_json()["errors"][0]["message"]


def test_the_sending_registry_comes_from_the_endpoint_not_the_host_header(
    client, seed, plugins, monkeypatch
):
    from tests.factories import make_registry

    runner = client.application.extensions["wharfinger.jobs"]
    monkeypatch.setattr(runner, "enqueue", lambda func, *args: None)
    spoofed = event(host="other.test:5000")  # the pushing client chose this Host header
    assert post_events(client, envelope(spoofed)).status_code == 202
    assert _stored()[-1].request_host == seed["registry"].hostname  # the only registry
    make_registry(plugins, "second", "second.test:5000")
    named = event(host=seed["registry"].hostname)
    response = client.post(
        "/v2/webhooks/events?registry=second",
        data=envelope(named),
        headers={"Authorization": "Bearer test-events-secret"},
        content_type="application/json",
    )
    assert response.status_code == 202
    assert _stored()[-1].request_host == "second.test:5000"
    unknown = client.post(
        "/v2/webhooks/events?registry=nope",
        data=envelope(event()),
        headers={"Authorization": "Bearer test-events-secret"},
        content_type="application/json",
    )
    assert unknown.status_code == 400 and "nope" in unknown.get_json()["errors"][0]["message"]
