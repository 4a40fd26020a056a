"""``GET /metrics``: Prometheus metrics, protected as WHARFINGER_METRICS says."""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, request

bp = Blueprint("metrics", __name__)


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback; False for anything else."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _bearer_ok(expected: str) -> bool:
    """``Authorization: Bearer <WHARFINGER_METRICS_TOKEN>``, compared in constant time."""
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {expected}".encode())


def _refusal(mode: str) -> Response | None:
    """Why this client may not read the metrics, or None when it may.

    The client address is the one ProxyFix derived (WHARFINGER_PROXY_COUNT), so a
    forwarded request from a remote client is not mistaken for a local one.
    """
    if mode == "off":
        return Response("metrics are disabled (WHARFINGER_METRICS=off)\n", 404)
    if mode == "localhost" and not is_loopback(request.remote_addr):
        return Response("metrics are served to loopback clients only\n", 403)
    if mode == "token" and not _bearer_ok(current_app.config["METRICS_TOKEN"]):
        return Response(
            "metrics need Authorization: Bearer <WHARFINGER_METRICS_TOKEN>\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return None


@bp.get("/metrics")
def metrics():
    """The Prometheus text format, summed over every gunicorn worker."""
    refusal = _refusal(current_app.config["METRICS"])
    if refusal is not None:
        refusal.mimetype = "text/plain"
        return refusal
    body, content_type = current_app.extensions["wharfinger.metrics"].exposition()
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})
