"""Events received, applied, ignored and failed, and reconciliation passes, as metrics."""

from __future__ import annotations

import threading

from app.jobs import tasks
from app.registry import manifests
from app.registry.client import ManifestRef
from app.services import catalog, registry_access
from tests.events.conftest import (
    DIGEST,
    OTHER_DIGEST,
    OfflineManifests,
    envelope,
    event,
    post_events,
)
from tests.support.metrics import sample_value, scrape

PROCESSED = "wharfinger_registry_events_processed_total"


def test_webhook_and_event_jobs_are_counted(app, client, seed, monkeypatch):
    offline = classmethod(lambda cls, app: OfflineManifests())  # no registry runs here
    monkeypatch.setattr(registry_access.ManifestFetcher, "for_app", offline)
    runner = app.extensions["wharfinger.jobs"]
    push = event(tag="1.0")
    same_digest_again = event(tag="1.0")  # tag already points there: ignored
    unknown_namespace = event(repository="nowhere/app")  # failed, kept with a reason
    blob = event(tag=None, media_type="application/octet-stream")  # received, not stored
    response = post_events(client, envelope(push, same_digest_again, unknown_namespace, blob))
    assert response.status_code == 202
    assert runner.wait_idle(10)
    text = scrape(client)
    assert sample_value(text, "wharfinger_registry_events_received_total") == 4
    counted = {
        o: sample_value(text, PROCESSED, outcome=o) for o in ("applied", "ignored", "failed")
    }
    assert counted == {"applied": 1, "ignored": 1, "failed": 1}


def test_refused_deliveries_are_not_counted_as_received(client, seed):
    assert post_events(client, envelope(event()), secret="wrong").status_code == 401
    assert sample_value(scrape(client), "wharfinger_registry_events_received_total") == 0


def test_a_reconcile_pass_records_duration_and_changes(app, client, seed, monkeypatch):
    name = seed["registry"].name
    snapshot = [
        catalog.RemoteRepository(
            "microbox/etcd",
            {
                "a": ManifestRef(DIGEST, manifests.OCI_MANIFEST, 1),
                "b": ManifestRef(OTHER_DIGEST, None, 1),
            },
        )
    ]
    monkeypatch.setattr(catalog, "read_registry", lambda client, workers, report: snapshot)
    monkeypatch.setattr(
        catalog,
        "describe_manifest",
        lambda client, repository, digest, media_type=None: manifests.ManifestSummary(
            media_type=media_type, problem="offline"
        ),
    )
    reports = tasks.reconcile(strategy="update-delete")
    assert [r.created_tags for r in reports] == [2]
    snapshot[0].tags.pop("b")
    snapshot[0].tags["a"] = ManifestRef(OTHER_DIGEST, manifests.OCI_MANIFEST, 1)
    tasks.reconcile(strategy="update-delete")
    text = scrape(client)
    changes = {
        change: sample_value(
            text, "wharfinger_reconcile_changes_total", registry=name, change=change
        )
        for change in ("created", "updated", "deleted")
    }
    assert changes == {"created": 3, "updated": 1, "deleted": 1}  # repository and two tags
    assert sample_value(text, "wharfinger_reconcile_duration_seconds_count", registry=name) == 2


def test_queue_depth_is_read_at_scrape_time(app, client):
    runner, release = app.extensions["wharfinger.jobs"], threading.Event()
    runner.enqueue(release.wait, 10)  # runs and blocks
    runner.enqueue(release.wait, 10)  # waits behind it
    assert sample_value(scrape(client), "wharfinger_job_queue_depth") == 2
    release.set()
    assert runner.wait_idle(10)
    assert sample_value(scrape(client), "wharfinger_job_queue_depth") == 0
