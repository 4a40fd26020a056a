"""Registry notifications: store durably (de-duplicated), then apply exactly once.

``store`` runs inside the webhook request and only inserts rows; ``apply_event`` runs as a
job. A row is claimed with a conditional UPDATE (fresh → processing) so a redelivery, the
periodic sweep and the webhook's own job can never apply the same event twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Namespace, RegistryEvent, Repository, Tag, User, utcnow
from app.models.enums import EventStatus
from app.registry import events as protocol
from app.services import activities, registries
from app.services.access import full_name, name_in_namespace, namespace_name_of
from app.services.authentication import find_user
from app.services.errors import Invalid, NotFound
from app.services.system import SYSTEM_SUBJECT

log = logging.getLogger(__name__)

# A row still "processing" after this long belongs to a job that died; the sweep retries it.
STALE_PROCESSING = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Outcome:
    """How applying an event ended: DONE, IGNORED or FAILED with a reason for admins."""

    status: EventStatus
    reason: str | None = None


def store(notifications, registry_host: str | None = None) -> list[int]:
    """Insert the events worth keeping; returns the row ids of the new ones.

    ``registry_host`` is the hostname of the registry the endpoint knows sent them; without
    it the event's ``request.host`` is kept, which the pushing client chose (the Host
    header), so it is trusted only when a single registry is registered.
    Duplicates (the registry redelivers the same id until it gets a 2xx) are skipped, and
    so are events Wharfinger's own reads caused (reconciliation, manifest details).
    Raises the database's error when it is down, so the endpoint can answer 503.
    """
    wanted = [
        n
        for n in notifications
        if n.kind != protocol.EventKind.IGNORED and n.actor != SYSTEM_SUBJECT
    ]
    if not wanted:
        return []
    # No look-up first: redeliveries are rare, and the unique event id catches them.
    rows = [_row(n, registry_host) for n in wanted]
    try:
        db.session.add_all(rows)
        db.session.flush()
        ids = [row.id for row in rows]  # before the commit expires them (a SELECT each)
        db.session.commit()
    except IntegrityError:  # a redelivery, or a concurrent delivery of the same id
        db.session.rollback()
        return _store_one_by_one(wanted, registry_host)
    return ids


def _store_one_by_one(notifications, registry_host: str | None) -> list[int]:
    """Slow path after a race: insert each event alone, skipping duplicates."""
    ids = []
    for notification in notifications:
        row = _row(notification, registry_host)
        try:
            db.session.add(row)
            db.session.flush()
            row_id = row.id
            db.session.commit()
            ids.append(row_id)
        except IntegrityError:
            db.session.rollback()
    return ids


def _row(n, registry_host: str | None) -> RegistryEvent:
    """The database row for one parsed notification."""
    return RegistryEvent(
        event_id=n.id,
        action=n.action,
        repository=n.repository or "",
        tag=n.tag,
        digest=n.digest,
        media_type=n.media_type,
        actor_name=n.actor,
        request_host=registry_host or n.request_host,
        payload=n.raw,
        status=EventStatus.FRESH,
    )


def claim(row_id: int) -> RegistryEvent | None:
    """Take a fresh event for processing; None when another worker already has it."""
    result = db.session.execute(
        sa.update(RegistryEvent)
        .where(RegistryEvent.id == row_id, RegistryEvent.status == EventStatus.FRESH)
        .values(status=EventStatus.PROCESSING, claimed_at=utcnow())
    )
    db.session.commit()
    return db.session.get(RegistryEvent, row_id) if result.rowcount == 1 else None


def apply_event(row_id: int, plugins, manifests) -> Outcome | None:
    """Claim and apply one stored event; the outcome is written to the row.

    ``manifests`` fetches manifest details from the registry (``ManifestFetcher``).
    """
    row = claim(row_id)
    if row is None:
        return None
    event_id, payload, host = row.event_id, row.payload, row.request_host
    try:
        outcome = _apply(protocol.parse_event(payload), host, plugins, manifests)
    except IntegrityError:  # a concurrent job created the same repository or tag: retry
        db.session.rollback()
        _release(row_id)
        return None
    except Exception as exc:  # keep the event and say why; never lose it
        db.session.rollback()
        log.exception("applying registry event %s failed", event_id)
        outcome = Outcome(EventStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}")
    row = db.session.get(RegistryEvent, row_id)
    row.status, row.reason, row.processed_at = outcome.status, outcome.reason, utcnow()
    db.session.commit()
    return outcome


def _release(row_id: int) -> None:
    """Give a claimed event back as fresh, for the next sweep."""
    db.session.execute(
        sa.update(RegistryEvent)
        .where(RegistryEvent.id == row_id)
        .values(status=EventStatus.FRESH, claimed_at=None)
    )
    db.session.commit()


def pending_ids(limit: int = 500) -> list[int]:
    """Fresh events, and events stuck in processing, oldest first (the periodic sweep)."""
    stale = utcnow() - STALE_PROCESSING
    db.session.execute(
        sa.update(RegistryEvent)
        .where(RegistryEvent.status == EventStatus.PROCESSING, RegistryEvent.claimed_at < stale)
        .values(status=EventStatus.FRESH)
    )
    db.session.commit()
    return list(
        db.session.scalars(
            sa.select(RegistryEvent.id)
            .where(RegistryEvent.status == EventStatus.FRESH)
            .order_by(RegistryEvent.id)
            .limit(limit)
        )
    )


def _apply(n, host: str | None, plugins, manifests) -> Outcome:
    """Route one event to its handler after the checks every handler needs."""
    handler = HANDLERS.get(n.kind)
    if handler is None:
        return Outcome(EventStatus.IGNORED, f"not used ({n.kind})")
    if n.actor == SYSTEM_SUBJECT:
        return Outcome(EventStatus.IGNORED, "caused by Wharfinger itself")
    registry = registries.find_by_service(host or "")
    if registry is None:
        return Outcome(
            EventStatus.FAILED,
            f"unknown registry host {host!r}: register the registry with "
            "this hostname or external hostname",
        )
    namespace = db.session.scalar(
        sa.select(Namespace).where(
            Namespace.registry_id == registry.id, Namespace.name == namespace_name_of(n.repository)
        )
    )
    if namespace is None:
        return Outcome(
            EventStatus.FAILED,
            f"namespace {namespace_name_of(n.repository)!r} does not exist on "
            f"{registry.hostname}; create it (reconciliation will pick the image up)",
        )
    return handler(n, namespace, registry, plugins, manifests)


def find_repository(namespace: Namespace, name: str) -> Repository | None:
    """The repository of this namespace with this name."""
    return db.session.scalar(
        sa.select(Repository).where(
            Repository.namespace_id == namespace.id, Repository.name == name
        )
    )


def _user(name: str | None) -> User | None:
    """The user an event's actor names, if they exist."""
    return find_user(name) if name else None


def _record(plugins, key, n, namespace, repository, tag_name, **parameters):
    """An activity on a repository, attributed to the event's actor."""
    name = (
        f"{full_name(namespace, repository.name)}:{tag_name}"
        if tag_name
        else full_name(namespace, repository.name)
    )
    activities.record(
        plugins,
        key,
        _user(n.actor),
        "repository",
        repository.id,
        name,
        actor_name=n.actor or "",
        team_id=namespace.team_id,
        namespace_id=namespace.id,
        tag=tag_name,
        **parameters,
    )


def _apply_tag_push(n, namespace, registry, plugins, manifests) -> Outcome:
    """Create or move a tag; details (size, platforms) come from the manifest itself."""
    name = name_in_namespace(n.repository)
    repository = find_repository(namespace, name)
    if repository is None:
        repository = Repository(namespace_id=namespace.id, name=name)
        db.session.add(repository)
        db.session.flush()
    tag = db.session.scalar(
        sa.select(Tag).where(Tag.repository_id == repository.id, Tag.name == n.tag)
    )
    if tag is not None and tag.digest == n.digest:
        return _fill_in_author(tag, n)
    if tag is not None and _newer_than(tag, n):
        return Outcome(EventStatus.IGNORED, "the tag was pushed again after this event")
    details = manifests.describe(registry, n.repository, n.digest, n.media_type)
    author = _user(n.actor)
    if tag is None:
        tag = Tag(repository_id=repository.id, name=n.tag)
    tag.digest, tag.media_type = n.digest, details.media_type or n.media_type
    tag.size, tag.platforms = details.size, details.platforms or None
    tag.author_id, tag.author_name = (author.id if author else None), n.actor
    tag.pushed_at = n.timestamp or utcnow()
    db.session.add(tag)
    _record(plugins, "repository.push", n, namespace, repository, n.tag, digest=n.digest)
    return Outcome(EventStatus.DONE)


def _newer_than(tag: Tag, n) -> bool:
    """True when the tag changed after the event happened (events may apply out of order)."""
    return bool(n.timestamp and tag.pushed_at and tag.pushed_at > n.timestamp)


def _fill_in_author(tag: Tag, n) -> Outcome:
    """The tag is known (reconciliation saw it first): only name its pusher if unknown."""
    if tag.author_name or not n.actor:
        return Outcome(EventStatus.IGNORED, "tag already points at this digest")
    author = _user(n.actor)
    tag.author_id, tag.author_name = (author.id if author else None), n.actor
    return Outcome(EventStatus.DONE, "author recorded for a tag found by reconciliation")


def _delete_tags(tags, n, namespace, repository, plugins) -> None:
    """Delete tags, recording one activity each (history survives the rows)."""
    for tag in tags:
        _record(plugins, "repository.delete", n, namespace, repository, tag.name, digest=tag.digest)
        db.session.delete(tag)


def _apply_manifest_delete(n, namespace, registry, plugins, manifests) -> Outcome:
    """A manifest was deleted: every tag on that digest is gone."""
    repository = find_repository(namespace, name_in_namespace(n.repository))
    if repository is None:
        return Outcome(EventStatus.IGNORED, "repository not known")
    tags = [
        tag
        for tag in db.session.scalars(
            sa.select(Tag).where(Tag.repository_id == repository.id, Tag.digest == n.digest)
        )
        if not _newer_than(tag, n)
    ]
    _delete_tags(tags, n, namespace, repository, plugins)
    return Outcome(
        EventStatus.DONE if tags else EventStatus.IGNORED,
        None if tags else "no tag had this digest",
    )


def _apply_tag_delete(n, namespace, registry, plugins, manifests) -> Outcome:
    """The registry's per-tag delete event (follows a manifest delete)."""
    repository = find_repository(namespace, name_in_namespace(n.repository))
    tag = repository and db.session.scalar(
        sa.select(Tag).where(Tag.repository_id == repository.id, Tag.name == n.tag)
    )
    if not tag:
        return Outcome(EventStatus.IGNORED, "tag already gone")
    if _newer_than(tag, n):
        return Outcome(EventStatus.IGNORED, "the tag was pushed again after this delete")
    _delete_tags([tag], n, namespace, repository, plugins)
    return Outcome(EventStatus.DONE)


def _apply_manifest_pull(n, namespace, registry, plugins, manifests) -> Outcome:
    """A GET of a manifest: remember when its tags were last pulled."""
    repository = find_repository(namespace, name_in_namespace(n.repository))
    if repository is None:
        return Outcome(EventStatus.IGNORED, "repository not known")
    condition = Tag.name == n.tag if n.tag else Tag.digest == n.digest
    when = n.timestamp or utcnow()
    db.session.execute(
        sa.update(Tag).where(Tag.repository_id == repository.id, condition).values(pulled_at=when)
    )
    return Outcome(EventStatus.DONE)


HANDLERS = {
    protocol.EventKind.TAG_PUSH: _apply_tag_push,
    protocol.EventKind.MANIFEST_DELETE: _apply_manifest_delete,
    protocol.EventKind.TAG_DELETE: _apply_tag_delete,
    protocol.EventKind.MANIFEST_PULL: _apply_manifest_pull,
}


def purge_processed(older_than: dt.timedelta) -> int:
    """Delete applied and ignored events older than the retention (Portus kept them all);
    failed events stay for admins. Returns how many rows went."""
    result = db.session.execute(
        sa.delete(RegistryEvent).where(
            RegistryEvent.status.in_([EventStatus.DONE, EventStatus.IGNORED]),
            RegistryEvent.received_at < utcnow() - older_than,
        )
    )
    db.session.commit()
    return result.rowcount or 0


def problem_events(status: EventStatus) -> sa.Select:
    """Stored events with this status (failed or ignored), newest first, for admins."""
    return (
        sa.select(RegistryEvent)
        .where(RegistryEvent.status == status)
        .order_by(RegistryEvent.received_at.desc(), RegistryEvent.id.desc())
    )


def retry(event_id: int) -> RegistryEvent:
    """Put a failed event back in line (after an admin fixed its cause, e.g. created the
    missing namespace); the caller commits and enqueues ``apply_events``."""
    row = db.session.get(RegistryEvent, event_id)
    if row is None:
        raise NotFound(f"no registry event with id {event_id}")
    if row.status != EventStatus.FAILED:
        raise Invalid(f"event {event_id} is {row.status.value}; only failed events are retried")
    row.status, row.reason, row.claimed_at, row.processed_at = EventStatus.FRESH, None, None, None
    return row
