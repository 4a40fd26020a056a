"""Logging: one line per record, text or JSON, each tagged with the request id.

The request id comes from the client's ``X-Request-ID`` header (a load balancer's) or is
generated, and is echoed in the response. Nothing here logs request bodies or headers, so
passwords, tokens and the events secret never reach the log.
"""

from __future__ import annotations

import json
import logging
import re
import uuid

from flask import Flask, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the current request's id."""
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (for log collectors)."""

    def format(self, record: logging.LogRecord) -> str:
        """Time, level, logger, request id, message, and the exception if any."""
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure_logging(app: Flask) -> None:
    """Attach one handler to the ``app`` logger tree and the request-id hooks."""
    logger = logging.getLogger("app")
    logger.setLevel(app.config["LOG_LEVEL"])
    if not any(getattr(h, "wharfinger", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.wharfinger = True
        handler.addFilter(RequestIdFilter())
        json_format = app.config["LOG_FORMAT"] == "json"
        handler.setFormatter(JsonFormatter() if json_format else logging.Formatter(TEXT_FORMAT))
        logger.addHandler(handler)
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)


def _assign_request_id() -> None:
    """Use the caller's id when it is a sane token, else make one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if _SAFE_REQUEST_ID.match(given) else uuid.uuid4().hex


def _echo_request_id(response):
    """Return the id so clients and proxies can quote it."""
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    return response
