"""Applying stored events: tags, authors, deletes, pulls, and events that cannot apply."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.extensions import db
from app.models import Activity, RegistryEvent, Repository, Tag, utcnow
from app.models.enums import EventStatus
from app.registry.events import parse_envelope
from app.services import events
from app.services.system import SYSTEM_SUBJECT
from tests.events.conftest import DIGEST, OTHER_DIGEST, OfflineManifests, envelope, event


def store_and_apply(plugins, *raw_events):
    """Store events as the endpoint does and apply them as the job does."""
    ids = events.store(parse_envelope(envelope(*raw_events)))
    return [events.apply_event(i, plugins, OfflineManifests()) for i in ids]


def _tags():
    return {t.name: t for t in db.session.scalars(sa.select(Tag))}


def test_push_creates_repository_tag_and_activity(app, plugins, seed):
    [outcome] = store_and_apply(plugins, event())
    assert outcome.status == EventStatus.DONE
    repository = db.session.scalar(sa.select(Repository))
    assert (repository.name, repository.namespace_id) == ("etcd", seed["namespace"].id)
    tag = _tags()["2.1.1"]
    assert (tag.digest, tag.author_id, tag.author_name) == (DIGEST, seed["user"].id, "gggg")
    assert tag.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert tag.pushed_at == dt.datetime(2026, 11, 28, 0, 0, 41, 939030, tzinfo=dt.UTC)
    activity = db.session.scalar(sa.select(Activity).where(Activity.key == "repository.push"))
    assert (activity.actor_name, activity.target_name) == ("gggg", "microbox/etcd:2.1.1")
    assert activity.namespace_id == seed["namespace"].id
    assert db.session.scalar(sa.select(RegistryEvent.status)) == EventStatus.DONE


def test_repush_moves_the_tag_and_same_digest_is_a_no_op(app, plugins, seed):
    store_and_apply(plugins, event())
    [same] = store_and_apply(plugins, event())
    assert same.status == EventStatus.IGNORED
    [moved] = store_and_apply(plugins, event(digest=OTHER_DIGEST))
    assert moved.status == EventStatus.DONE
    assert _tags()["2.1.1"].digest == OTHER_DIGEST
    pushes = db.session.scalar(sa.select(sa.func.count()).where(Activity.key == "repository.push"))
    assert pushes == 2


def test_each_event_applies_exactly_once(app, plugins, seed):
    ids = events.store(parse_envelope(envelope(event())))
    assert events.apply_event(ids[0], plugins, OfflineManifests()) is not None
    assert events.apply_event(ids[0], plugins, OfflineManifests()) is None
    assert events.pending_ids() == []


def test_untagged_manifest_push_creates_no_tag(app, plugins, seed):
    [outcome] = store_and_apply(plugins, event(tag=None))
    assert outcome is None or outcome.status == EventStatus.IGNORED
    assert _tags() == {}


def test_delete_by_digest_removes_every_tag_on_it(app, plugins, seed):
    store_and_apply(plugins, event(tag="a"), event(tag="b"), event(tag="c", digest=OTHER_DIGEST))
    [outcome, *_] = store_and_apply(
        plugins,
        event("delete", tag=None, media_type=None),
        event("delete", tag="a", digest=None, media_type=None),
        event("delete", tag="b", digest=None, media_type=None),
    )
    assert outcome.status == EventStatus.DONE
    assert set(_tags()) == {"c"}
    deleted = db.session.scalars(
        sa.select(Activity.target_name).where(Activity.key == "repository.delete")
    )
    assert sorted(deleted) == ["microbox/etcd:a", "microbox/etcd:b"]


def test_get_pull_updates_last_pulled_head_does_not(app, plugins, seed):
    store_and_apply(plugins, event())
    store_and_apply(plugins, event("pull", method="HEAD"))
    assert _tags()["2.1.1"].pulled_at is None
    [outcome] = store_and_apply(plugins, event("pull"))
    assert outcome.status == EventStatus.DONE
    assert _tags()["2.1.1"].pulled_at is not None


def test_unknown_namespace_and_host_are_kept_with_a_reason(app, plugins, seed):
    [no_namespace] = store_and_apply(plugins, event(repository="nowhere/app"))
    assert no_namespace.status == EventStatus.FAILED
    assert "namespace 'nowhere' does not exist" in no_namespace.reason
    [no_host] = store_and_apply(plugins, event(host="elsewhere:5000"))
    assert no_host.status == EventStatus.FAILED and "elsewhere:5000" in no_host.reason
    failed = db.session.scalars(
        sa.select(RegistryEvent).where(RegistryEvent.status == EventStatus.FAILED)
    ).all()
    assert len(failed) == 2 and all(row.reason for row in failed)


def test_events_caused_by_wharfinger_itself_are_not_stored(app, plugins, seed):
    assert events.store(parse_envelope(envelope(event("pull", actor=SYSTEM_SUBJECT)))) == []


def test_late_push_event_names_the_author_of_a_reconciled_tag(app, plugins, seed):
    store_and_apply(plugins, event())
    tag = _tags()["2.1.1"]
    tag.author_id, tag.author_name = None, None  # as if reconciliation found it first
    db.session.commit()
    [outcome] = store_and_apply(plugins, event())
    assert outcome.status == EventStatus.DONE
    assert (_tags()["2.1.1"].author_name, _tags()["2.1.1"].author_id) == ("gggg", seed["user"].id)


def test_push_by_unknown_actor_keeps_the_name(app, plugins, seed):
    store_and_apply(plugins, event(actor="departed-user"))
    tag = _tags()["2.1.1"]
    assert (tag.author_id, tag.author_name) == (None, "departed-user")


def test_global_namespace_repositories(app, plugins, seed):
    [outcome] = store_and_apply(plugins, event(repository="busybox", tag="latest"))
    assert outcome.status == EventStatus.DONE
    assert db.session.scalar(sa.select(Repository.name)) == "busybox"


def test_sweep_reclaims_stuck_events(app, plugins, seed):
    ids = events.store(parse_envelope(envelope(event())))
    assert events.pending_ids() == ids
    events.claim(ids[0])
    assert events.pending_ids() == []
    db.session.execute(
        sa.update(RegistryEvent).values(
            claimed_at=utcnow() - events.STALE_PROCESSING - dt.timedelta(seconds=1)
        )
    )
    db.session.commit()
    assert events.pending_ids() == ids


def test_an_internal_error_keeps_the_event_as_failed(app, plugins, seed):
    class Exploding(OfflineManifests):
        def describe(self, *args):
            raise RuntimeError("boom")

    ids = events.store(parse_envelope(envelope(event())))
    outcome = events.apply_event(ids[0], plugins, Exploding())
    assert outcome.status == EventStatus.FAILED and "boom" in outcome.reason
    assert _tags() == {}


def test_out_of_order_events_do_not_undo_newer_state(app, plugins, seed):
    newer = event(digest=OTHER_DIGEST)
    newer["timestamp"] = "2026-11-28T00:05:00Z"
    older = event()  # 00:00:41, same tag, another digest
    store_and_apply(plugins, newer)
    [outcome] = store_and_apply(plugins, older)
    assert outcome.status == EventStatus.IGNORED
    assert _tags()["2.1.1"].digest == OTHER_DIGEST
    late_delete = event("delete", tag="2.1.1", digest=None, media_type=None)
    [deleted] = store_and_apply(plugins, late_delete)  # deleted at 00:00:41, re-pushed 00:05
    assert deleted.status == EventStatus.IGNORED and "2.1.1" in _tags()


def test_a_concurrent_insert_gives_the_event_back_for_a_retry(app, plugins, seed, monkeypatch):
    store_and_apply(plugins, event(tag="first"))  # the repository exists now
    ids = events.store(parse_envelope(envelope(event())))
    # As if another job had created the repository after this one looked for it:
    monkeypatch.setattr(events, "find_repository", lambda namespace, name: None)
    assert events.apply_event(ids[0], plugins, OfflineManifests()) is None
    row = db.session.get(RegistryEvent, ids[0])
    assert row.status == EventStatus.FRESH and row.claimed_at is None
    monkeypatch.undo()
    assert events.apply_event(ids[0], plugins, OfflineManifests()).status == EventStatus.DONE


def test_processed_events_are_purged_after_the_retention(app, plugins, seed):
    store_and_apply(plugins, event(), event(repository="nowhere/x"))  # done, failed
    db.session.execute(
        sa.update(RegistryEvent).values(received_at=utcnow() - dt.timedelta(days=31))
    )
    db.session.commit()
    assert events.purge_processed(dt.timedelta(days=30)) == 1
    [kept] = db.session.scalars(sa.select(RegistryEvent)).all()
    assert kept.status == EventStatus.FAILED
