"""Catalog reconciliation: bring the database in line with what the registry holds.

For when notifications were lost. Network work (catalog, tag lists, a HEAD per tag, a GET
only for digests we have not seen) runs on a bounded thread pool; database work runs on
the calling thread, committed per repository. Unlike Portus (portus.md §4):

- a pass that could not read the whole catalog, or a repository's tag list, deletes
  nothing for what it could not read;
- authorship and push times of existing tags are kept; removals keep their history as a
  ``repository.delete`` activity saying "removed by reconciliation";
- unchanged data causes no write and no activity;
- every media type is understood (OCI, Docker v2, indexes and manifest lists).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.models import Namespace, Registry, RegistryEvent, Repository, Tag, Team, utcnow
from app.models.enums import NamespaceKind, Visibility
from app.registry import manifests
from app.registry.client import CatalogIncomplete, RegistryClient, RegistryError, map_bounded
from app.services import activities
from app.services.access import full_name, name_in_namespace, namespace_name_of
from app.services.registries import global_team_name
from app.services.registry_access import describe_manifest

log = logging.getLogger("wharfinger.catalog")

STRATEGIES = ("initial", "on-start", "update", "update-delete", "off")
DELETING_STRATEGIES = ("on-start", "update-delete")
RECONCILER = "(reconciliation)"


@dataclass
class ReconcileReport:
    """What one pass saw and changed; ``complete`` is False when something was not read."""

    registry: str
    complete: bool = True
    repositories: int = 0
    tags: int = 0
    created_namespaces: list[str] = field(default_factory=list)
    created_repositories: int = 0
    created_tags: int = 0
    updated_tags: int = 0
    removed_tags: int = 0
    requests: int = 0
    seconds: float = 0.0
    skipped_busy: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        """How many rows this pass changed."""
        return (
            len(self.created_namespaces)
            + self.created_repositories
            + self.created_tags
            + self.updated_tags
            + self.removed_tags
        )


@dataclass
class RemoteRepository:
    """One repository as the registry showed it: tag → manifest reference (None: unread)."""

    name: str
    tags: dict[str, object] | None
    problem: str | None = None


def _read_repository(client: RegistryClient, name: str) -> RemoteRepository:
    """The tag list and each tag's digest (HEAD with the full Accept list)."""
    try:
        tags = client.tags(name)
        refs = {tag: client.head_manifest(name, tag) for tag in (tags or [])}
    except RegistryError as exc:
        return RemoteRepository(name, None, f"{name}: {exc}")
    return RemoteRepository(name, {t: r for t, r in refs.items() if r is not None})


def read_registry(
    client: RegistryClient, workers: int, report: ReconcileReport
) -> list[RemoteRepository]:
    """Walk the catalog, then every repository concurrently; notes what could not be read."""
    names: list[str] = []
    try:
        names.extend(client.catalog())
    except CatalogIncomplete as exc:
        report.complete = False
        report.problems.append(f"catalog incomplete: {exc}")
    remote = map_bounded(lambda n: _read_repository(client, n), names, workers)
    for repository in remote:
        if repository.problem:
            report.complete = False
            report.problems.append(repository.problem)
    return remote


@dataclass
class LocalState:
    """The database's view of one registry: full name → (namespace, repository, tags)."""

    namespaces: dict[str, Namespace]
    repositories: dict[str, Repository]
    tags: dict[str, dict[str, Tag]]


def load_state(registry: Registry) -> LocalState:
    """Namespaces, repositories and tags of one registry in three queries."""
    namespaces = {
        n.name: n
        for n in db.session.scalars(
            sa.select(Namespace).where(Namespace.registry_id == registry.id)
        )
    }
    by_id = {n.id: n for n in namespaces.values()}
    repositories = {}
    for repository in db.session.scalars(
        sa.select(Repository).where(Repository.namespace_id.in_(list(by_id)))
    ):
        repositories[full_name(by_id[repository.namespace_id], repository.name)] = repository
    names = {r.id: n for n, r in repositories.items()}
    tags: dict[str, dict[str, Tag]] = {name: {} for name in repositories}
    for tag in db.session.scalars(sa.select(Tag).where(Tag.repository_id.in_(list(names)))):
        tags[names[tag.repository_id]][tag.name] = tag
    return LocalState(namespaces, repositories, tags)


class Reconciler:
    """One pass over one registry."""

    def __init__(
        self, registry: Registry, client: RegistryClient, plugins, *, delete: bool, workers: int = 8
    ):
        self.registry = registry
        self.client = client
        self.plugins = plugins
        self.delete = delete
        self.workers = workers
        self.report = ReconcileReport(registry.name)

    def run(self) -> ReconcileReport:
        """Read the registry, then apply the differences repository by repository."""
        started, read_began = time.monotonic(), utcnow()
        remote = read_registry(self.client, self.workers, self.report)
        state = load_state(self.registry)
        busy = changed_since(read_began)
        readable = [r for r in remote if r.tags is not None and r.name not in busy]
        details = self._new_manifest_details(readable, state)
        with loaded_rows_kept():
            for repository in readable:
                self._apply_repository(repository, state, details)
            if self.delete and self.report.complete:
                self._remove_vanished(remote, state, busy)
        self.report.skipped_busy = len(busy)
        self.report.repositories = len(remote)
        self.report.tags = sum(len(r.tags or {}) for r in remote)
        self.report.requests = self.client.request_count
        self.report.seconds = time.monotonic() - started
        return self.report

    def _new_manifest_details(
        self, remote, state
    ) -> dict[tuple[str, str], manifests.ManifestSummary]:
        """GET (concurrently) only the manifests whose digest the database does not have."""
        wanted = {
            (r.name, ref.digest)
            for r in remote
            for tag, ref in (r.tags or {}).items()
            if getattr(state.tags.get(r.name, {}).get(tag), "digest", None) != ref.digest
        }
        summaries = map_bounded(
            lambda item: describe_manifest(self.client, *item), sorted(wanted), self.workers
        )
        return dict(zip(sorted(wanted), summaries, strict=True))

    def _apply_repository(self, remote: RemoteRepository, state: LocalState, details) -> None:
        """Create/update/remove one repository's tags in its own transaction."""
        try:
            namespace = self._namespace(namespace_name_of(remote.name), state)
            repository = self._repository(remote.name, namespace, state)
            local = state.tags.setdefault(remote.name, {})
            for tag, ref in remote.tags.items():
                self._upsert_tag(namespace, repository, local, tag, ref, details)
            if self.delete:
                for name in sorted(set(local) - set(remote.tags)):
                    self._remove_tag(namespace, repository, local.pop(name))
            db.session.commit()
        except SQLAlchemyError as exc:  # e.g. an event changed the same rows; next pass fixes
            db.session.rollback()
            self.report.problems.append(f"{remote.name}: not updated ({type(exc).__name__})")

    def _namespace(self, name: str, state: LocalState) -> Namespace:
        """The namespace, created admin-only (private, hidden global team) when unknown."""
        namespace = state.namespaces.get(name)
        if namespace is not None:
            return namespace
        team = db.session.scalar(
            sa.select(Team).where(Team.name == global_team_name(self.registry))
        )
        namespace = Namespace(
            name=name,
            registry_id=self.registry.id,
            team_id=team.id,
            kind=NamespaceKind.TEAM,
            visibility=Visibility.PRIVATE,
            description="Created by catalog reconciliation: the registry had "
            "images here. Transfer it to a team.",
        )
        db.session.add(namespace)
        db.session.flush()
        state.namespaces[name] = namespace
        self.report.created_namespaces.append(name)
        activities.record(
            self.plugins,
            "namespace.create",
            None,
            "namespace",
            namespace.id,
            name,
            actor_name=RECONCILER,
            team_id=team.id,
            namespace_id=namespace.id,
            reason="found in the registry catalog",
        )
        log.info("[catalog] Created the namespace '%s' (admin-only, from the registry)", name)
        return namespace

    def _repository(self, full_name: str, namespace: Namespace, state: LocalState) -> Repository:
        """The repository row, created when the registry has it and we do not."""
        repository = state.repositories.get(full_name)
        if repository is None:
            repository = Repository(namespace_id=namespace.id, name=name_in_namespace(full_name))
            db.session.add(repository)
            db.session.flush()
            state.repositories[full_name] = repository
            self.report.created_repositories += 1
            log.info("[catalog] Created the repository '%s'", full_name)
        return repository

    def _upsert_tag(self, namespace, repository, local, name, ref, details) -> None:
        """Create a missing tag or move a tag whose digest changed; authorship is kept."""
        tag = local.get(name)
        if tag is not None and tag.digest == ref.digest:
            return
        summary = details.get((full_name(namespace, repository.name), ref.digest))
        created = tag is None
        if created:
            tag = Tag(repository_id=repository.id, name=name)
            db.session.add(tag)
            local[name] = tag
        tag.digest = ref.digest
        tag.media_type = (summary and summary.media_type) or ref.media_type
        tag.size = summary.size if summary else None
        tag.platforms = list(summary.platforms) if summary and summary.platforms else None
        verb = "Created" if created else "Updated"
        self.report.created_tags += created
        self.report.updated_tags += not created
        activities.record(
            self.plugins,
            "repository.push",
            None,
            "repository",
            repository.id,
            f"{full_name(namespace, repository.name)}:{name}",
            actor_name=RECONCILER,
            team_id=namespace.team_id,
            namespace_id=namespace.id,
            tag=name,
            digest=ref.digest,
            reason="found by reconciliation",
        )
        log.info(
            "[catalog] %s the tag '%s' of %s", verb, name, full_name(namespace, repository.name)
        )

    def _remove_tag(self, namespace: Namespace, repository: Repository, tag: Tag) -> None:
        """Delete a tag the registry no longer has, keeping the history as an activity."""
        full = full_name(namespace, repository.name)
        activities.record(
            self.plugins,
            "repository.delete",
            None,
            "repository",
            repository.id,
            f"{full}:{tag.name}",
            actor_name=RECONCILER,
            team_id=namespace.team_id,
            namespace_id=namespace.id,
            tag=tag.name,
            digest=tag.digest,
            reason="removed by reconciliation",
        )
        db.session.delete(tag)
        self.report.removed_tags += 1
        log.info("[catalog] Removed the tag '%s' of %s (gone from the registry)", tag.name, full)

    def _remove_vanished(self, remote, state: LocalState, busy: set[str]) -> None:
        """Tags of repositories missing from a completely read catalog."""
        present = {r.name for r in remote}
        for name, repository in state.repositories.items():
            if name in present or name in busy or not state.tags.get(name):
                continue
            namespace = db.session.get(Namespace, repository.namespace_id)
            for tag in list(state.tags[name].values()):
                self._remove_tag(namespace, repository, tag)
            state.tags[name].clear()
        db.session.commit()


@contextmanager
def loaded_rows_kept() -> Iterator[None]:
    """Commits leave the loaded rows as they are instead of expiring them.

    The pass holds every tag of the registry and commits once per repository. By default
    each commit expires every object in the session, so 1,000 commits over 5,000+ objects
    cost O(repositories x tags) in SQLAlchemy alone, and the next repository's comparison
    re-read each of its tags with a SELECT: ~20 s of CPU for a pass that changes nothing
    (1,000 x 5). The loaded state is the snapshot the pass compares against anyway; rows
    that events change meanwhile belong to repositories ``changed_since`` excludes. A
    rollback still expires everything, as it must; so does the end of the block, once.
    """
    session = db.session()
    previous = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = previous
        session.expire_all()


def changed_since(moment) -> set[str]:
    """Repositories that registry events touched since ``moment``.

    The registry is read first and the database compared afterwards; an event applied in
    between would look like a difference (a new tag "missing" from the registry, a moved
    tag "moved back"). Those repositories are left to the events; the next pass sees them.
    """
    return set(
        db.session.scalars(
            sa.select(RegistryEvent.repository)
            .where(RegistryEvent.received_at >= moment)
            .distinct()
        )
    )


def should_run(strategy: str, registry: Registry, *, at_start: bool) -> bool:
    """Whether a pass runs now: ``initial`` only while the registry has no repositories,
    ``on-start`` only at start, ``update*`` always, ``off`` never."""
    if strategy == "off":
        return False
    if strategy == "on-start":
        return at_start
    if strategy == "initial":
        return at_start and not db.session.scalar(
            sa.select(Repository.id)
            .join(Namespace)
            .where(Namespace.registry_id == registry.id)
            .limit(1)
        )
    return True


def reconcile_registry(
    registry: Registry, client: RegistryClient, plugins, strategy: str, workers: int = 8
) -> ReconcileReport:
    """One pass; deletes only with a deleting strategy and a complete read."""
    reconciler = Reconciler(
        registry, client, plugins, workers=workers, delete=strategy in DELETING_STRATEGIES
    )
    report = reconciler.run()
    for problem in report.problems:
        log.warning("[catalog] %s: %s", registry.hostname, problem)
    log.info(
        "[catalog] %s: %d repositories, %d tags, %d changes, %d requests, %.1f s%s",
        registry.hostname,
        report.repositories,
        report.tags,
        report.changes,
        report.requests,
        report.seconds,
        "" if report.complete else " (incomplete read)",
    )
    return report
