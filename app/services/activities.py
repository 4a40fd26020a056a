"""Record activities through the ``record_activity`` hook (every audit sink receives them)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.models import Activity, Namespace, TeamMember
from app.models.base import utcnow
from app.models.enums import Visibility

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActivityRecord:
    """One audit record as sinks receive it; names are copied so it outlives its objects."""

    key: str
    actor_id: int | None
    actor_name: str
    target_type: str
    target_id: int | None
    target_name: str
    team_id: int | None = None
    namespace_id: int | None = None
    parameters: dict = field(default_factory=dict)
    created_at: dt.datetime = field(default_factory=utcnow)


def record(plugins, key: str, actor, target_type: str, target_id, target_name: str, **extra):
    """Build an ActivityRecord and hand it to every audit sink.

    ``actor`` is a User or None (the system); ``actor_name=`` overrides the recorded name
    (a registry event's actor who has no account here). A failing third-party sink is logged and
    does not stop the others or the change itself.
    """
    actor_name = extra.pop("actor_name", None)
    activity = ActivityRecord(
        key=key,
        actor_id=getattr(actor, "id", None),
        actor_name=actor_name if actor_name is not None else getattr(actor, "username", "") or "",
        target_type=target_type,
        target_id=target_id,
        target_name=target_name,
        team_id=extra.pop("team_id", None),
        namespace_id=extra.pop("namespace_id", None),
        parameters=extra,
    )
    for impl in plugins.hook.record_activity.get_hookimpls():
        try:
            impl.function(activity=activity)
        except Exception:  # a sink must never break the audited change
            log.exception("audit sink %s failed for %s", impl.plugin_name, key)
    return activity


def visible_to(user) -> sa.Select:
    """Activities this user may read, newest first (Portus's dashboard rule).

    Admins see everything. Others see activities of their teams, of namespaces their teams
    own or that are public, and their own; anonymous visitors only public namespaces.
    """
    query = sa.select(Activity).order_by(Activity.created_at.desc(), Activity.id.desc())
    if user is not None and user.admin:
        return query
    public = sa.select(Namespace.id).where(Namespace.visibility == Visibility.PUBLIC)
    if user is None:
        return query.where(Activity.namespace_id.in_(public))
    teams = sa.select(TeamMember.team_id).where(TeamMember.user_id == user.id)
    own_namespaces = sa.select(Namespace.id).where(Namespace.team_id.in_(teams))
    return query.where(
        sa.or_(
            Activity.team_id.in_(teams),
            Activity.namespace_id.in_(own_namespaces.union(public)),
            Activity.actor_id == user.id,
            sa.and_(Activity.target_type == "user", Activity.target_id == user.id),
        )
    )


CSV_COLUMNS = ("time", "actor", "action", "target_type", "target", "parameters")


def csv_lines(rows) -> Iterator[str]:
    """The activities as CSV text, header first (the admin export; streams line by line)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            (
                row.created_at.isoformat(),
                row.actor_name,
                row.key,
                row.target_type,
                _csv_safe(row.target_name),
                json.dumps(row.parameters or {}, sort_keys=True, default=str),
            )
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def _csv_safe(text: str) -> str:
    """Defuse spreadsheet formulas in user-chosen names (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
