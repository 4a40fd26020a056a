"""A reconciliation pass that finds nothing changed costs a fixed number of statements."""

from __future__ import annotations

import types

import sqlalchemy as sa

from app.extensions import db
from app.models import Tag
from app.registry import manifests
from app.registry.client import ManifestRef
from app.services import catalog
from tests.events.conftest import DIGEST, OTHER_DIGEST

REPOSITORIES = 20
TAGS = ("v1", "v2", "v3")


def _snapshot(digest_of_v3: str = OTHER_DIGEST) -> list[catalog.RemoteRepository]:
    """REPOSITORIES repositories in ``microbox`` with three tags each."""
    digests = {"v1": DIGEST, "v2": DIGEST, "v3": digest_of_v3}
    return [
        catalog.RemoteRepository(
            f"microbox/app{n:02d}",
            {t: ManifestRef(digests[t], manifests.OCI_MANIFEST, 1) for t in TAGS},
        )
        for n in range(REPOSITORIES)
    ]


def _pass(monkeypatch, plugins, registry, snapshot) -> tuple[catalog.ReconcileReport, list[str]]:
    """An update pass reading ``snapshot``; its report and the SQL statements it sent."""
    monkeypatch.setattr(catalog, "read_registry", lambda client, workers, report: snapshot)
    monkeypatch.setattr(
        catalog,
        "describe_manifest",
        lambda client, repository, digest: manifests.ManifestSummary(
            media_type=manifests.OCI_MANIFEST
        ),
    )
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        client = types.SimpleNamespace(request_count=0)
        report = catalog.Reconciler(registry, client, plugins, delete=False).run()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    return report, statements


def test_a_pass_with_nothing_changed_reads_each_table_once(app, plugins, seed, monkeypatch):
    first, _ = _pass(monkeypatch, plugins, seed["registry"], _snapshot())
    assert first.created_tags == REPOSITORIES * len(TAGS)

    report, statements = _pass(monkeypatch, plugins, seed["registry"], _snapshot())

    assert report.changes == 0
    # load_state (namespaces, repositories, tags) and changed_since; no SELECT per tag
    # after each repository's commit, and no write.
    assert len(statements) <= 5, statements
    assert not [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]


def test_a_moved_tag_is_still_updated_after_earlier_commits(app, plugins, seed, monkeypatch):
    _pass(monkeypatch, plugins, seed["registry"], _snapshot())

    report, _ = _pass(monkeypatch, plugins, seed["registry"], _snapshot(digest_of_v3=DIGEST))

    assert report.updated_tags == REPOSITORIES and report.created_tags == 0
    digests = set(db.session.scalars(sa.select(Tag.digest).where(Tag.name == "v3")))
    assert digests == {DIGEST}
