"""Audit sink plugin: append every activity as one JSON line to a file.

``WHARFINGER_PLUGINS=app.plugins.jsonl_audit`` and ``WHARFINGER_AUDIT_JSONL=/var/log/wharfinger/audit.jsonl``.
Lines are written with a single ``write`` on a file opened in append mode, so several
processes can share the file; ship it with any log collector.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from app.plugins.hookspecs import hookimpl


def activity_as_dict(activity) -> dict:
    """A JSON-ready mapping of an activity (timestamps in RFC 3339)."""
    return {
        "time": activity.created_at.isoformat(),
        "key": activity.key,
        "actor": activity.actor_name,
        "actor_id": activity.actor_id,
        "target_type": activity.target_type,
        "target_id": activity.target_id,
        "target": activity.target_name,
        "team_id": activity.team_id,
        "namespace_id": activity.namespace_id,
        "parameters": activity.parameters,
    }


class JsonLinesSink:
    """Appends activities to one file."""

    def __init__(self, path: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    @hookimpl
    def record_activity(self, activity):
        """Write one line per activity."""
        line = json.dumps(activity_as_dict(activity), sort_keys=True, default=str) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)


@hookimpl
def configure(settings, plugins):
    """Register the sink for the file named by WHARFINGER_AUDIT_JSONL."""
    path = settings.get("AUDIT_JSONL")
    if not path:
        raise ValueError("app.plugins.jsonl_audit is loaded but WHARFINGER_AUDIT_JSONL is not set")
    plugins.register(JsonLinesSink(path), name="jsonl_audit_sink")
