"""The registry-facing endpoints: ``/v2/token`` (token auth spec, GET and POST)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from app.registry import jwt
from app.registry.scopes import format_scopes
from app.services.tokens import TokenError, TokenRequest, UnsupportedGrant

bp = Blueprint("registry", __name__)

MAX_TOKEN_REQUEST_BYTES = 64 * 1024
BASIC_REALM = 'Basic realm="Wharfinger", charset="UTF-8"'
ERROR_CODES = {400: "INVALID_REQUEST", 401: "UNAUTHORIZED", 503: "UNAVAILABLE"}
TRUE_VALUES = {"true", "1", "yes"}


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


@bp.route("/v2/token", methods=["GET", "POST"])
def token():
    """Issue a registry bearer token (distribution token spec; protocol.md §4-5).

    Wrong credentials → 401 with a Basic challenge; allowed-but-not-permitted → 200 with
    the granted subset (possibly empty), never 403; malformed input → 400 naming it.
    """
    if (request.content_length or 0) > MAX_TOKEN_REQUEST_BYTES:
        return _error(400, "token request too large", "invalid_request")
    try:
        token_request = _post_request() if request.method == "POST" else _get_request()
        grant = current_app.extensions["wharfinger.tokens"].issue(token_request)
    except TokenError as exc:
        return _error(exc.status, exc.message, exc.error)
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
    return response
