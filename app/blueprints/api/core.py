"""What every API view shares: the blueprint, authentication (``Portus-Auth``, Bearer
application tokens, or the browser session with CSRF), request bodies, errors in Portus's
shapes, pagination and sorting."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from app.authz.settings import AccessSettings
from app.extensions import csrf, db
from app.models import User
from app.services import access, credentials
from app.services.authentication import find_user
from app.services.deletion import RegistryRefused
from app.services.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError

bp = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger(__name__)

# Largest id a path accepts: beyond a 32-bit INTEGER the databases raise, so the router
# answers 404 instead.
ID = "int(max=2147483647)"
PER_PAGE_DEFAULT = 15
PER_PAGE_MAX = 100
PAGE_MAX = 1_000_000
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ApiError(Exception):
    """An answer other than 2xx that a view decides itself: ``status`` and a body."""

    def __init__(self, status: int, message: str, errors: Mapping[str, list[str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = dict(errors or {})


def public(view: Callable) -> Callable:
    """Mark a view as answering without authentication (ping, health, bootstrap, docs)."""
    view.api_public = True
    return view


def plugins():
    """This app's plugin manager."""
    return current_app.extensions["wharfinger.plugins"]


def access_settings() -> AccessSettings:
    """The operator's access switches, as the token server and the UI use them."""
    return current_app.extensions["wharfinger.tokens"].access_settings


def caller() -> User:
    """The authenticated caller (views not marked ``public`` always have one)."""
    return g.api_user


def require_admin(message: str = "only administrators may do this") -> None:
    """Refuse (403) unless the caller is an administrator: the engine's ``admin.access``."""
    access.require("admin.access", caller(), message, settings=access_settings())


# --- authentication -------------------------------------------------------------------


def _refuse(message: str) -> ApiError:
    """A 401 with Portus's body."""
    return ApiError(401, message)


def _from_portus_header(value: str) -> tuple[User, bool]:
    """``Portus-Auth: username:application-token`` → the user and whether it is read-only."""
    username, colon, token = value.partition(":")
    user = find_user(username.strip()) if colon and "\x00" not in username else None
    row = credentials.verify_application_token(user, token.strip()) if user else None
    if row is None or not user.enabled:
        raise _refuse("invalid Portus-Auth credentials (expected username:application-token)")
    return user, row.read_only


def _from_bearer(token: str) -> tuple[User, bool]:
    """``Authorization: Bearer <application token>`` → the user and read-only flag."""
    found = credentials.application_token_owner(token.strip())
    if found is None or not found[0].enabled:
        raise _refuse("invalid or expired application token")
    return found[0], found[1].read_only


def authenticate() -> tuple[User | None, str]:
    """Who is calling and how: a header credential wins over the browser session."""
    portus = request.headers.get("Portus-Auth")
    if portus is not None:
        return (*_header_user(_from_portus_header(portus)), "token")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return (*_header_user(_from_bearer(token)), "token")
    if current_user.is_authenticated:
        return access.mark_read_only(current_user._get_current_object(), False), "session"
    return None, "anonymous"


def _header_user(found: tuple[User, bool]) -> tuple[User]:
    """The user, marked with its token's read-only flag for the engine."""
    user, read_only = found
    return (access.mark_read_only(user, read_only),)


@bp.before_request
def check_caller():
    """Authenticate every request; anonymous callers only reach ``public`` views, and
    browser-session callers need the CSRF token on unsafe methods."""
    view = current_app.view_functions.get(request.endpoint or "")
    is_public = getattr(view, "api_public", False)
    try:
        user, method = authenticate()
    except ApiError:
        if not is_public:
            raise
        # portusctl sends ``PORTUS-AUTH: :`` on bootstrap (no user yet) and a stale
        # token on health: a public view answers them as it answers anyone.
        user, method = None, "anonymous"
    g.api_user, g.api_auth = user, method
    if user is None and not is_public:
        raise _refuse("authentication required: send Portus-Auth: username:application-token")
    if method == "session" and request.method not in SAFE_METHODS:
        csrf.protect()


@bp.after_request
def cors_and_cache(response):
    """No caching of API answers (they depend on who asks)."""
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# --- errors ---------------------------------------------------------------------------


# Rails's wording for a duplicate, which Portus answered and portusctl prints as
# ``- Name: has already been taken``.
TAKEN = "has already been taken"


def error_body(message: str, errors: Mapping[str, list[str]] | None = None) -> dict:
    """Portus's error body: ``{"message": ...}``, plus ``errors`` per field when known."""
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = dict(errors)
    return body


def unprocessable(field: str, message: str):
    """Portus's 422 (``unprocessable_entity!(model.errors)``): ``message`` is the object
    of messages per field, which portusctl decodes as ``map[string][]string`` and prints
    as ``- Field: message`` (portusctl ``http.go`` ``handleCode``); ``errors`` repeats it
    in this API's usual place."""
    db.session.rollback()
    errors = {field: [message]}
    return jsonify({"message": errors, "errors": errors}), 422


@bp.errorhandler(ApiError)
def api_error(error: ApiError):
    """A view's own refusal."""
    db.session.rollback()
    if error.status == 422 and len(error.errors) == 1:
        [(field, [message, *_])] = error.errors.items()
        return unprocessable(field, message)
    response = jsonify(error_body(error.message, error.errors))
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Portus-Auth realm="wharfinger"'
    return response, error.status


SERVICE_STATUS = ((Forbidden, 403), (NotFound, 404), (RegistryRefused, 502))


@bp.errorhandler(ServiceError)
def service_error(error: ServiceError):
    """A service refusal: 403, 404, 502 (the registry refused), 422 for a duplicate (as
    Portus), or 400 with the field."""
    db.session.rollback()
    if isinstance(error, Conflict) and error.field:
        return unprocessable(error.field, TAKEN)
    status = next((code for kind, code in SERVICE_STATUS if isinstance(error, kind)), 400)
    errors = {error.field: [str(error)]} if status == 400 and error.field else None
    answer = error_body(str(error), errors)
    if status >= 500:
        answer["error"] = str(error)  # what portusctl prints for a 5xx (``http.go``)
    return jsonify(answer), status


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    """Werkzeug's errors (400, 404, 405...) as ``{"message": ...}``."""
    db.session.rollback()
    response = error.get_response()
    response.data = jsonify(error_body(error.description or error.name)).get_data()
    response.content_type = "application/json"
    return response


# --- request bodies -------------------------------------------------------------------


def body(wrapper: str | None = None) -> dict[str, Any]:
    """The request's parameters: a JSON object (optionally wrapped as Portus sent them,
    e.g. ``{"user": {...}}``) or a form; malformed JSON is a 400, never a 500."""
    if request.is_json or (request.data and not request.form):
        data = request.get_json(silent=True)
        if data is None and request.get_data():
            raise ApiError(400, "the request body is not valid JSON")
        data = {} if data is None else data
    else:
        data = request.form.to_dict()
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    inner = data.get(wrapper) if wrapper else None
    return inner if isinstance(inner, dict) else data


def _bad(field: str, message: str) -> ApiError:
    """A 400 naming one field."""
    return ApiError(400, f"{field} {message}", {field: [message]})


def text(
    data: Mapping[str, Any], field: str, *, required: bool = False, maximum: int = 10_000
) -> str | None:
    """A string parameter (numbers are accepted as text); None when absent."""
    value = data.get(field)
    if required and (value is None or value == ""):
        raise _bad(field, "is missing")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _bad(field, "must be a string")
    value = str(value)
    if "\x00" in value:  # PostgreSQL refuses NUL in text: a 400, not a 500
        raise _bad(field, "must not contain NUL characters")
    if len(value) > maximum:
        raise _bad(field, f"must be at most {maximum} characters")
    return value


def flag(data: Mapping[str, Any], field: str) -> bool | None:
    """A boolean parameter (true/false, 1/0, "true"/"false"); None when absent."""
    value = data.get(field)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if isinstance(value, str | int) and str(value).lower() in words:
        return words[str(value).lower()]
    raise _bad(field, "must be true or false")


def identifier(data: Mapping[str, Any], field: str, *, required: bool = False) -> int | None:
    """A positive integer id parameter; None when absent."""
    value = data.get(field)
    if value is None or value == "":
        if required:
            raise _bad(field, "is missing")
        return None
    if isinstance(value, bool) or not _digits(str(value)) or not 0 < int(value) < 2**31:
        raise _bad(field, "must be a positive integer id")
    return int(value)


def saved(payload: dict, status: int = 200):
    """Commit and answer ``payload``."""
    db.session.commit()
    return jsonify(payload), status


def created(payload: dict):
    """Commit and answer ``payload`` with 201."""
    return saved(payload, 201)


def no_content():
    """Commit and answer 204."""
    db.session.commit()
    return "", 204


# --- pagination and sorting -----------------------------------------------------------


def _digits(value: str) -> bool:
    """ASCII digits only, at most 10 of them: ``"²".isdigit()`` is True but ``int("²")``
    fails, and a thousand digits would be parsed before any range check."""
    return value.isascii() and value.isdigit() and len(value) <= 10


def _query_int(name: str, default: int, maximum: int) -> int:
    """A positive integer query parameter up to ``maximum``; 400 otherwise."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if not _digits(value) or not 0 < int(value) <= maximum:
        raise _bad(name, f"must be an integer from 1 to {maximum}")
    return int(value)


def sorted_by(select: sa.Select, columns: Mapping[str, Any], default: str) -> sa.Select:
    """Order ``select`` by the whitelisted ``sort_attr`` (``sort_order`` asc or desc)."""
    attr = request.args.get("sort_attr") or default
    order = (request.args.get("sort_order") or "asc").lower()
    if attr not in columns:
        raise _bad("sort_attr", f"must be one of {', '.join(sorted(columns))}")
    if order not in ("asc", "desc"):
        raise _bad("sort_order", "must be asc or desc")
    column = columns[attr]
    return select.order_by(None).order_by(
        column.asc() if order == "asc" else column.desc(), columns["id"].asc()
    )


def paginated(select: sa.Select, render: Callable[[Any], dict], *, scalars: bool = True):
    """The page of ``select`` named by ``page``/``per_page`` (or everything with
    ``all=true``) as a JSON list, with Portus's pagination headers."""
    everything = flag(request.args, "all")
    per_page = _query_int("per_page", PER_PAGE_DEFAULT, PER_PAGE_MAX)
    page = _query_int("page", 1, PAGE_MAX)
    counted = select.order_by(None).subquery()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(counted))
    if everything:
        page, per_page = 1, max(total, 1)
    else:
        select = select.limit(per_page).offset((page - 1) * per_page)
    result = db.session.execute(select)
    items = [render(item) for item in (result.scalars() if scalars else result)]
    response = jsonify(items)
    _pagination_headers(response.headers, total, page, per_page)
    return response


def _pagination_headers(headers, total: int, page: int, per_page: int) -> None:
    """``X-Total``, ``X-Total-Pages``, ``X-Page``, ``X-Per-Page``, ``X-Next-Page``,
    ``X-Prev-Page`` and ``Link`` (first, prev, next, last) as Portus's Grape API sent."""
    pages = max(1, math.ceil(total / per_page))
    next_page = page + 1 if page < pages else None
    prev_page = page - 1 if 1 < page <= pages + 1 else None
    headers.update(
        {
            "X-Total": str(total),
            "X-Total-Pages": str(pages),
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(next_page or ""),
            "X-Prev-Page": str(prev_page or ""),
        }
    )
    links = [("first", 1), ("prev", prev_page), ("next", next_page), ("last", pages)]
    headers["Link"] = ", ".join(
        f'<{_page_url(number, per_page)}>; rel="{rel}"' for rel, number in links if number
    )


def _page_url(page: int, per_page: int) -> str:
    """This request's URL with another page."""
    args = request.args.to_dict()
    args.update(page=str(page), per_page=str(per_page))
    args.pop("all", None)
    return f"{request.base_url}?{urlencode(args)}"


__all__ = [
    "ID",
    "ApiError",
    "Conflict",
    "Invalid",
    "bp",
    "caller",
    "public",
]
