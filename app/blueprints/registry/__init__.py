"""The registry-facing endpoints: ``/v2/token`` (token auth spec, GET and POST) and
``/v2/webhooks/events`` (the registry's notifications)."""

from __future__ import annotations

import hmac
import logging
import time

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.jobs import tasks
from app.registry import events as notification_protocol
from app.registry import jwt
from app.registry.scopes import format_scopes
from app.services import events as event_service
from app.services import registries
from app.services.errors import ServiceError
from app.services.memo import ExpiringMemo
from app.services.tokens import TokenError, TokenRequest, UnsupportedGrant

log = logging.getLogger(__name__)

bp = Blueprint("registry", __name__)
# How long a process remembers which registry sends notifications (every notification asks;
# a registry added or renamed is noticed within this time, as for token services).
SENDER_MEMO_SECONDS = 5.0


@bp.record_once
def _remember_senders(state) -> None:
    """Give the app its memo of notification senders' hostnames."""
    state.app.extensions["wharfinger.sender_hosts"] = ExpiringMemo(SENDER_MEMO_SECONDS)


MAX_TOKEN_REQUEST_BYTES = 64 * 1024
BASIC_REALM = 'Basic realm="Wharfinger", charset="UTF-8"'
ERROR_CODES = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    413: "TOO_LARGE",
    415: "UNSUPPORTED",
    503: "UNAVAILABLE",
}
TRUE_VALUES = {"true", "1", "yes"}
# The metrics outcome of each error status the token endpoint answers.
ERROR_OUTCOMES = {400: "bad_request", 401: "unauthorized", 503: "unavailable"}


def _error(status: int, message: str, oauth_error: str):
    """A JSON error both docker (``errors[]``) and OAuth2 clients (``error``) understand."""
    body = {
        "errors": [
            {"code": ERROR_CODES.get(status, "INVALID_REQUEST"), "message": message, "detail": None}
        ],
        "error": oauth_error,
        "error_description": message,
    }
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if status == 401:
        response.headers["WWW-Authenticate"] = BASIC_REALM
    return response


def _basic_credentials():
    """(username, password) from Basic auth, None without a header; other schemes → 401."""
    header = request.headers.get("Authorization")
    if not header:
        return None
    auth = request.authorization
    if auth is None or auth.type != "basic" or auth.username is None:
        raise TokenError("only Basic authentication is accepted here")
    return auth.username, auth.password or ""


def _get_request() -> TokenRequest:
    """GET: query string plus optional Basic auth (docker, skopeo, podman)."""
    credentials = _basic_credentials()
    return TokenRequest(
        service=request.args.get("service"),
        scopes=tuple(request.args.getlist("scope")),
        account=request.args.get("account"),
        username=credentials[0] if credentials else None,
        password=credentials[1] if credentials else None,
        offline=request.args.get("offline_token", "").lower() in TRUE_VALUES,
        client_id=request.args.get("client_id"),
        remote_addr=request.remote_addr,
    )


def _post_request() -> TokenRequest:
    """POST: the OAuth2 form (containerd, buildkit, clients holding an identity token)."""
    form = request.form
    grant_type = form.get("grant_type")
    if not grant_type:
        raise TokenError("grant_type is required: password or refresh_token")
    if grant_type not in ("password", "refresh_token"):
        raise UnsupportedGrant(
            f"unsupported grant_type {grant_type!r}: use password or refresh_token"
        )
    return TokenRequest(
        service=form.get("service"),
        scopes=tuple(form.getlist("scope")),
        username=form.get("username") if grant_type == "password" else None,
        password=form.get("password") if grant_type == "password" else None,
        grant_type=grant_type,
        refresh_token=form.get("refresh_token"),
        offline=form.get("access_type", "").lower() == "offline",
        client_id=form.get("client_id"),
        remote_addr=request.remote_addr,
    )


def _refuse_nul_bytes(token_request: TokenRequest) -> TokenRequest:
    """No database stores NUL in text (PostgreSQL refuses it): a 400, not a server error."""
    values = [
        token_request.service,
        token_request.account,
        token_request.username,
        token_request.password,
        token_request.refresh_token,
        token_request.client_id,
        *token_request.scopes,
    ]
    if any("\x00" in value for value in values if value):
        raise TokenError("the request contains a NUL character")
    return token_request


@bp.route("/v2/token", methods=["GET", "POST"])
def token():
    """Issue a registry bearer token (distribution token spec; protocol.md §4-5).

    Wrong credentials → 401 with a Basic challenge; allowed-but-not-permitted → 200 with
    the granted subset (possibly empty), never 403; malformed input → 400 naming it.
    """
    started = time.perf_counter()
    response, outcome = _token_response()
    current_app.extensions["wharfinger.metrics"].token_request(
        outcome, time.perf_counter() - started
    )
    return response


def _token_response():
    """The token endpoint's response and its outcome for the metrics."""
    if (request.content_length or 0) > MAX_TOKEN_REQUEST_BYTES:
        return _refused(400, "token request too large", "invalid_request")
    try:
        token_request = _refuse_nul_bytes(
            _post_request() if request.method == "POST" else _get_request()
        )
        grant = current_app.extensions["wharfinger.tokens"].issue(token_request)
    except TokenError as exc:
        return _refused(exc.status, exc.message, exc.error)
    except DBAPIError:
        db.session.rollback()
        log.exception("token request failed: database unavailable")
        return _refused(
            503, "the database is unavailable; retry shortly", "temporarily_unavailable"
        )
    except Exception:  # a plugin failed: deny (fail closed) with a clear answer, never a 500
        db.session.rollback()
        log.exception("token request failed in an authentication or authorization plugin")
        return _refused(
            503,
            "authorization is temporarily unavailable (see the server log)",
            "temporarily_unavailable",
        )
    scope = format_scopes(grant.granted) if request.method == "POST" else None
    body = jwt.token_response(
        grant.token,
        grant.expires_in,
        grant.issued_at,
        scope=scope,
        refresh_token=grant.refresh_token,
    )
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response, grant.outcome


def _refused(status: int, message: str, oauth_error: str):
    """An error response and its metrics outcome."""
    return _error(status, message, oauth_error), ERROR_OUTCOMES.get(status, "bad_request")


EVENT_CONTENT_TYPES = (
    "application/vnd.docker.distribution.events.v1+json",
    "application/vnd.docker.distribution.events.v2+json",
    "application/json",
)
MAX_ENVELOPE_BYTES = 4 * 1024 * 1024


def _message(status: int, message: str):
    """A small JSON error for the notification endpoint."""
    response = jsonify(errors=[{"code": ERROR_CODES.get(status, "ERROR"), "message": message}])
    response.status_code = status
    return response


def _events_secret_ok() -> bool:
    """The registry's configured ``Authorization: Bearer <secret>``, compared in constant time."""
    expected = "Bearer " + current_app.config["EVENTS_SECRET"]
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), expected.encode())


@bp.post("/v2/webhooks/events")
def webhook_events():
    """Receive registry notifications: store durably, answer at once, apply in a job.

    401 without the shared secret (Portus accepted anyone); 400 for a malformed envelope;
    503 when the database cannot store the events, so the registry retries the same ids.
    """
    if not _events_secret_ok():
        return _message(401, "missing or wrong notification secret (WHARFINGER_EVENTS_SECRET)")
    content_type = (request.mimetype or "").lower()
    if content_type not in EVENT_CONTENT_TYPES:
        return _message(
            415,
            f"unsupported content type {content_type!r}: expected "
            + " or ".join(EVENT_CONTENT_TYPES),
        )
    if (request.content_length or 0) > MAX_ENVELOPE_BYTES:
        return _message(413, "notification envelope too large")
    try:
        notifications = notification_protocol.parse_envelope(request.get_data())
    except notification_protocol.EnvelopeError as exc:
        return _message(400, str(exc))
    try:
        name = request.args.get("registry")
        sender_host = current_app.extensions["wharfinger.sender_hosts"].get(
            name, lambda: registries.notifying_host(name)
        )
        stored = event_service.store(notifications, sender_host)
    except ServiceError as exc:
        return _message(400, str(exc))
    except DBAPIError:
        db.session.rollback()
        log.exception("cannot store registry notifications; answering 503 so the registry retries")
        return _message(503, "cannot store the events right now; retry")
    current_app.extensions["wharfinger.metrics"].events_received(len(notifications))
    if stored:
        current_app.extensions["wharfinger.jobs"].enqueue_once(
            tasks.APPLY_PENDING, tasks.apply_pending_events
        )
    return jsonify(accepted=len(notifications), stored=len(stored)), 202
