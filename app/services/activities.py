"""Record activities through the ``record_activity`` hook (every audit sink receives them)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from app.models.base import utcnow

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

    ``actor`` is a User or None (the system). A failing third-party sink is logged and
    does not stop the others or the change itself.
    """
    activity = ActivityRecord(
        key=key,
        actor_id=getattr(actor, "id", None),
        actor_name=getattr(actor, "username", "") or "",
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
