"""Liveness and readiness checks."""

from flask import Blueprint, current_app, jsonify

from app.services import health

bp = Blueprint("main", __name__)


@bp.get("/-/live")
def live():
    """Liveness: the process answers (no dependency is checked)."""
    return jsonify(status="ok")


@bp.get("/-/ready")
def ready():
    """Readiness for load balancers: 200 when the database (migrated) and Redis answer,
    503 with the failing check's message otherwise."""
    runner = current_app.extensions["wharfinger.jobs"]
    checks = health.readiness(
        current_app.extensions["migrate"].directory, getattr(runner, "connection", None)
    )
    body = {c.name: {"ok": c.ok, "message": c.message} for c in checks}
    ok = all(c.ok for c in checks)
    return jsonify(status="ok" if ok else "unavailable", checks=body), 200 if ok else 503
