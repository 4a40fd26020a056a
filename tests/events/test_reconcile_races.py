"""Reconciliation never undoes what events applied while it was reading the registry."""

from __future__ import annotations

import types

import sqlalchemy as sa

from app.extensions import db
from app.models import Activity, Tag
from app.registry.client import ManifestRef
from app.services import catalog
from tests.events.conftest import DIGEST, OTHER_DIGEST, event
from tests.events.test_apply import store_and_apply


def _pass_with_snapshot(monkeypatch, plugins, registry, snapshot, during_read):
    """Run an update-delete pass whose registry read returns ``snapshot``; ``during_read``
    runs meanwhile, as events applied by another worker would."""

    def read(client, workers, report):
        during_read()
        return snapshot

    monkeypatch.setattr(catalog, "read_registry", read)
    client = types.SimpleNamespace(request_count=0)
    return catalog.Reconciler(registry, client, plugins, delete=True).run()


def test_tags_pushed_during_the_read_are_not_removed_or_moved_back(app, plugins, seed, monkeypatch):
    store_and_apply(plugins, event(tag="old"))
    snapshot = [catalog.RemoteRepository("microbox/etcd", {"old": ManifestRef(DIGEST, None, 1)})]

    def pushes_arrive():
        store_and_apply(
            plugins, event(tag="new"), event(tag="old", digest=OTHER_DIGEST, event_id=None)
        )

    report = _pass_with_snapshot(monkeypatch, plugins, seed["registry"], snapshot, pushes_arrive)
    tags = {t.name: t.digest for t in db.session.scalars(sa.select(Tag))}
    assert tags == {"old": OTHER_DIGEST, "new": DIGEST}
    assert report.removed_tags == report.updated_tags == 0 and report.skipped_busy == 1
    reasons = [a.parameters.get("reason") for a in db.session.scalars(sa.select(Activity))]
    assert "removed by reconciliation" not in reasons


def test_an_untouched_repository_is_still_reconciled(app, plugins, seed, monkeypatch):
    store_and_apply(plugins, event(tag="old"))
    report = _pass_with_snapshot(
        monkeypatch,
        plugins,
        seed["registry"],
        [catalog.RemoteRepository("microbox/etcd", {})],
        lambda: None,
    )
    assert report.removed_tags == 1
    assert db.session.scalar(sa.select(sa.func.count(Tag.id))) == 0
