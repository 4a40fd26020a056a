"""Job functions. Each runs inside an app context and cleans its database session up.

Under ``wharfinger worker`` the app exists already; under a bare ``rq worker`` the first
job creates it with the factory (never at import).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging

import sqlalchemy as sa
from flask import current_app, has_app_context

from app.extensions import db
from app.jobs.locks import claim_interval_slot, exclusive
from app.models import Registry
from app.models.enums import EventStatus
from app.services import catalog, events

log = logging.getLogger(__name__)

RECONCILE_LOCK_SECONDS = 3600
EVENT_OUTCOMES = {
    EventStatus.DONE: "applied",
    EventStatus.IGNORED: "ignored",
    EventStatus.FAILED: "failed",
}
_fallback_app = None


def _app():
    """The app for a job running outside any app context (a plain ``rq worker``)."""
    global _fallback_app
    if _fallback_app is None:
        from app import create_app

        _fallback_app = create_app()
    return _fallback_app


def job(func):
    """Run the job in an app context and always release its database session."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not has_app_context():
            with _app().app_context():
                return wrapper(*args, **kwargs)
        try:
            return func(*args, **kwargs)
        finally:
            db.session.remove()

    return wrapper


def _plugins():
    """The plugin manager of the app this job runs in."""
    return current_app.extensions["wharfinger.plugins"]


def _metrics():
    """The metrics recorder of the app this job runs in."""
    return current_app.extensions["wharfinger.metrics"]


def _redis():
    """The Redis connection when jobs run on RQ (for the reconciliation lock), else None."""
    runner = current_app.extensions["wharfinger.jobs"]
    return getattr(runner, "connection", None)


@job
def apply_events(row_ids: list[int]) -> int:
    """Apply stored registry events (each exactly once); returns how many this job applied."""
    from app.services.registry_access import ManifestFetcher

    manifests, plugins = ManifestFetcher.for_app(current_app), _plugins()
    outcomes = [events.apply_event(i, plugins, manifests) for i in row_ids]
    applied = [outcome for outcome in outcomes if outcome is not None]
    for outcome in applied:
        _metrics().event_processed(EVENT_OUTCOMES[outcome.status])
    return len(applied)


APPLY_PENDING = "apply-events"


@job
def apply_pending_events() -> int:
    """Apply every fresh event, until none is left (what the webhook queues, at most one
    queued at a time however many notifications arrive: see ``enqueue_once``).

    The queued mark is cleared before the first read, so an event stored after that read
    queues the next job, and one stored before it is read here. Each event is still
    claimed (fresh → processing) before it is applied, so two such jobs on two workers
    never apply one event twice.
    """
    current_app.extensions["wharfinger.jobs"].started(APPLY_PENDING)
    total = 0
    while ids := events.pending_ids():
        applied = apply_events(ids)
        if not applied:  # all claimed elsewhere or given back: the sweep retries those
            break
        total += applied
    return total


@job
def sweep_events() -> int:
    """Apply events left fresh (a crash, a lost job) or stuck mid-processing, and drop
    processed events past their retention."""
    events.purge_processed(dt.timedelta(seconds=int(current_app.config["EVENTS_RETENTION"])))
    ids = events.pending_ids()
    return apply_events(ids) if ids else 0


@job
def reconcile(
    at_start: bool = False,
    strategy: str | None = None,
    registry_name: str | None = None,
    periodic: bool = False,
) -> list[catalog.ReconcileReport]:
    """One reconciliation pass over every registry (or one), never two passes at once.

    ``periodic`` passes (from the schedule) run once per interval however many workers or
    web processes enqueue them: each first claims that interval's slot.
    """
    strategy = strategy or current_app.config["SYNC_STRATEGY"]
    interval = int(current_app.config["SYNC_INTERVAL"])
    if periodic and not claim_interval_slot("reconcile", interval, _redis()):
        log.debug("[catalog] this interval's pass already ran in another process")
        return []
    with exclusive("reconcile", RECONCILE_LOCK_SECONDS, _redis()) as held:
        if not held:
            log.info("[catalog] another reconciliation pass is running; this one is skipped")
            return []
        return [
            _reconcile_one(registry, strategy, at_start)
            for registry in _registries(registry_name)
            if catalog.should_run(strategy, registry, at_start=at_start)
        ]


def _registries(name: str | None) -> list[Registry]:
    """All registries, or the one named."""
    query = sa.select(Registry).order_by(Registry.id)
    if name:
        query = query.where(Registry.name == name)
    return list(db.session.scalars(query))


def _reconcile_one(registry: Registry, strategy: str, at_start: bool) -> catalog.ReconcileReport:
    """A pass over one registry with a client authenticating as Wharfinger itself."""
    from app.services.registry_access import client_for

    with client_for(
        registry, current_app.config, current_app.extensions["wharfinger.tokens"]
    ) as client:
        report = catalog.reconcile_registry(
            registry, client, _plugins(), "update-delete" if strategy == "on-start" else strategy
        )
    _metrics().reconcile_pass(
        registry.name,
        report.seconds,
        created=len(report.created_namespaces) + report.created_repositories + report.created_tags,
        updated=report.updated_tags,
        deleted=report.removed_tags,
    )
    return report
