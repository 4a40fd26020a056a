"""Friendly error pages for people, JSON errors for machines; never a traceback."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.services.errors import Forbidden, NotFound, ServiceError

bp = Blueprint("errors", __name__)
log = logging.getLogger(__name__)

MACHINE_PREFIXES = ("/v2/", "/api/")
TITLES = {
    400: "That request was not understood",
    403: "You may not do that",
    404: "Nothing here",
    405: "Not allowed here",
    500: "Something went wrong on our side",
}


def _answer(status: int, message: str):
    """The error as JSON under /v2/ and /api/, as a page everywhere else."""
    if request.path.startswith(MACHINE_PREFIXES):
        if status >= 500 and request.path.startswith("/api/"):
            return jsonify(message=message, error=message), status  # portusctl reads "error"
        return jsonify(message=message), status
    title = TITLES.get(status, "Error")
    return render_template("errors/error.html", status=status, title=title, message=message), status


@bp.app_errorhandler(Forbidden)
def forbidden(error: Forbidden):
    """A rule of the authorization engine refused the action."""
    return _answer(403, str(error))


@bp.app_errorhandler(NotFound)
def not_found(error: NotFound):
    """The object does not exist (or is not visible: same answer, so nothing leaks)."""
    return _answer(404, str(error))


@bp.app_errorhandler(ServiceError)
def invalid(error: ServiceError):
    """A refusal a view did not turn into a form error."""
    return _answer(400, str(error))


@bp.app_errorhandler(CSRFError)
def csrf_failed(error: CSRFError):
    """The form's CSRF token is missing or stale."""
    return _answer(
        400,
        f"This form has expired or was not sent by this site ({error.description}). "
        "Go back, reload the page and try again.",
    )


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    """Werkzeug's 400/404/405...: our own wording and layout."""
    return _answer(error.code or 500, error.description or TITLES.get(error.code, "Error"))


@bp.app_errorhandler(Exception)
def unexpected(error: Exception):
    """Anything unforeseen: logged with its traceback, the visitor sees a plain page."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _answer(500, "The error has been logged. Try again, or tell your administrator.")
