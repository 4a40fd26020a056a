"""The landing page and liveness check."""

from flask import Blueprint, jsonify, render_template

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    """Landing page: what this server is and where to go next."""
    return render_template("main/index.html")


@bp.get("/-/live")
def live():
    """Liveness: the process answers (readiness with dependencies comes with operations)."""
    return jsonify(status="ok")
