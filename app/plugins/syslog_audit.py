"""Audit sink plugin: send every activity to syslog as JSON (RFC 5424 facility ``auth``).

``WHARFINGER_PLUGINS=app.plugins.syslog_audit`` and ``WHARFINGER_AUDIT_SYSLOG`` =
``/dev/log`` (default), ``udp://host:514`` or ``tcp://host:514``.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import socket
from urllib.parse import urlsplit

from app.plugins.hookspecs import hookimpl
from app.plugins.jsonl_audit import activity_as_dict


def syslog_handler(address: str) -> logging.handlers.SysLogHandler:
    """A SysLogHandler for a socket path or a udp:// / tcp:// URL."""
    if "://" not in address:
        return logging.handlers.SysLogHandler(address=address, facility="auth")
    parts = urlsplit(address)
    if parts.scheme not in ("udp", "tcp") or not parts.hostname:
        raise ValueError(
            f"WHARFINGER_AUDIT_SYSLOG={address!r}: expected a socket path, "
            "udp://host:port or tcp://host:port"
        )
    kind = socket.SOCK_DGRAM if parts.scheme == "udp" else socket.SOCK_STREAM
    return logging.handlers.SysLogHandler(
        address=(parts.hostname, parts.port or 514), facility="auth", socktype=kind
    )


class SyslogSink:
    """Forwards activities to one syslog destination."""

    def __init__(self, address: str):
        self.logger = logging.Logger("wharfinger.audit")
        handler = syslog_handler(address)
        handler.setFormatter(logging.Formatter("wharfinger: %(message)s"))
        self.logger.addHandler(handler)

    @hookimpl
    def record_activity(self, activity):
        """One syslog message per activity, its body JSON."""
        self.logger.info(json.dumps(activity_as_dict(activity), sort_keys=True, default=str))


@hookimpl
def configure(settings, plugins):
    """Register the sink for WHARFINGER_AUDIT_SYSLOG (default /dev/log)."""
    plugins.register(
        SyslogSink(settings.get("AUDIT_SYSLOG") or "/dev/log"), name="syslog_audit_sink"
    )
