"""What every page-serving view shares: the app's plugins and access settings, the signed-in
user, pagination, and turning a service refusal into a form error."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import sqlalchemy as sa
from flask import abort, current_app, flash, request, url_for
from flask_login import current_user
from markdown_it import MarkdownIt
from markupsafe import Markup
from werkzeug.routing import IntegerConverter

from app.authz.settings import AccessSettings
from app.blueprints.phrases import sentence
from app.extensions import db
from app.models import Registry, User
from app.models.enums import NamespaceKind
from app.registry.client import RegistryClient
from app.services import accounts
from app.services.access import allowed_actions, full_name
from app.services.deletion import RegistryRefused
from app.services.errors import Forbidden, Invalid, NotFound, ServiceError
from app.services.registries import all_registries
from app.services.registry_access import client_for

PER_PAGE = 25
PER_PAGE_MAX = 100


def plugins():
    """This app's plugin manager (every service that records activities needs it)."""
    return current_app.extensions["wharfinger.plugins"]


def access_settings() -> AccessSettings:
    """The operator's access switches, as the token server uses them."""
    return current_app.extensions["wharfinger.tokens"].access_settings


def signed_in_user() -> User | None:
    """The signed-in user, or None for an anonymous visitor."""
    return current_user if current_user.is_authenticated else None


def may_administer() -> bool:
    """Whether the visitor may use the admin pages (the engine's ``admin.access``)."""
    user = signed_in_user()
    allowed = allowed_actions(user, ("admin.access",), settings=access_settings())
    return allowed["admin.access"]


def unseen(message: str) -> NoReturn:
    """Answer for an object the visitor may not see: anonymous visitors are sent to sign
    in; others get the same 404 as for a missing object, so private names do not leak."""
    if signed_in_user() is None:
        abort(current_app.login_manager.unauthorized())
    raise NotFound(message)


def browsing_user() -> User | None:
    """Like ``signed_in_user``, but an anonymous visitor is sent to sign in when anonymous
    browsing is switched off (public images stay pullable; only the pages close)."""
    user = signed_in_user()
    if user is None and not current_app.config["ANONYMOUS_BROWSING"]:
        abort(current_app.login_manager.unauthorized())
    return user


def registry_client(registry: Registry) -> RegistryClient:
    """A client for ``registry`` that authenticates with tokens Wharfinger mints itself."""
    return client_for(registry, current_app.config, current_app.extensions["wharfinger.tokens"])


def form_errors(error: ServiceError) -> dict[str, str]:
    """A service refusal as ``{field: message}``; messages without a field go under ``_``.

    Forbidden and NotFound are raised again: they are not a form mistake, and the error
    handlers answer them with the 403 and 404 pages.
    """
    if isinstance(error, Forbidden | NotFound):
        raise error
    return {error.field or "_": str(error)}


def commit_deletion(remove: Callable[[], Any]) -> Any:
    """Run a deletion that goes through the registry, then commit.

    When the registry refuses part way, what it did delete is committed before the refusal
    is raised again (our rows must not claim images the registry no longer has); any other
    refusal rolls everything back.
    """
    try:
        result = remove()
    except RegistryRefused:
        db.session.commit()
        raise
    except ServiceError:
        db.session.rollback()
        raise
    db.session.commit()
    return result


def save_profile_form(user: User) -> dict[str, str]:
    """Save the profile form (e-mail address, display name) for ``user`` as the signed-in
    user; returns the form errors, empty when it was saved and committed."""
    try:
        accounts.update_profile(
            plugins(),
            user,
            email=request.form.get("email", ""),
            display_name=request.form.get("display_name"),
            actor=current_user,
        )
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        return form_errors(error)
    return {}


def done(message: str) -> None:
    """Tell the user what just happened (shown once on the next page)."""
    flash(message, "success")


@dataclass
class Page:
    """One page of a list, with what the pager needs."""

    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        """Whether there is a page before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Whether there is a page after this one."""
        return self.page < self.pages


# Ids and page numbers: ASCII digits, no leading zero, at most 9 of them, so every value
# fits every database's INTEGER ("²".isdigit() is True, and 10**20 overflows SQLite).
ID_PATTERN = re.compile(r"[1-9][0-9]{0,8}")
ID_MAX = 999_999_999


class IdConverter(IntegerConverter):
    """The ``<int:...>`` URL converter, bounded like ``ID_PATTERN``: a larger number in a
    path is simply a URL that matches nothing (404), never a database overflow."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", ID_MAX)
        super().__init__(url_map, *args, **kwargs)


def parse_id(text: str | None) -> int | None:
    """An id or page number from a form or query string, or None when it is not one."""
    text = (text or "").strip()
    return int(text) if ID_PATTERN.fullmatch(text) else None


def require_id(text: str | None, field: str, what: str) -> int:
    """Like ``parse_id``, but a missing or malformed value is a form error on ``field``."""
    value = parse_id(text)
    if value is None:
        raise Invalid(f"choose {what}", field=field)
    return value


def _positive_int(name: str, default: int) -> int:
    """A positive integer query argument; anything else gives ``default``."""
    return parse_id(request.args.get(name)) or default


def paginate(
    select: sa.Select,
    *,
    scalars: bool = True,
    per_page: int = PER_PAGE,
    total: int | None = None,
) -> Page:
    """The page of ``select`` named by ``?page=`` (and ``?per_page=``, at most 100).

    ``scalars=False`` returns rows, for selects of several columns. ``total`` is the
    number of rows when the caller can count them more cheaply than ``select`` runs.
    """
    per_page = min(_positive_int("per_page", per_page), PER_PAGE_MAX)
    page = _positive_int("page", 1)
    if total is None:
        counted = select.order_by(None).subquery()
        total = db.session.scalar(sa.select(sa.func.count()).select_from(counted))
    page = min(page, max(1, math.ceil(total / per_page)))  # past the end: the last page
    result = db.session.execute(select.limit(per_page).offset((page - 1) * per_page))
    items = list(result.scalars() if scalars else result)
    return Page(items, page, per_page, total)


@dataclass
class KeysetPage:
    """A page of a list read backwards from an id (``?before=``): as fast deep in a list
    of millions as at its start, where OFFSET reads and throws away every skipped row."""

    items: list[Any]
    before: int | None  # the cursor this page started from (None: the newest)
    next_before: int | None  # the cursor of the next (older) page, None at the end


def keyset_page(select: sa.Select, id_column, per_page: int = PER_PAGE) -> KeysetPage:
    """The rows of ``select`` (newest id first) with ids below ``?before=``."""
    per_page = min(_positive_int("per_page", per_page), PER_PAGE_MAX)
    before = _positive_int("before", 0) or None
    if before is not None:
        select = select.where(id_column < before)
    rows = list(db.session.scalars(select.order_by(id_column.desc()).limit(per_page + 1)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    return KeysetPage(rows, before, rows[-1].id if more else None)


PAGER_ARGUMENTS = ("q", "status", "per_page")


def page_url(number: int) -> str:
    """This page's URL at page ``number``, keeping only the list's own query arguments
    (anything else a visitor typed, e.g. ``endpoint`` or ``_external``, is dropped)."""
    kept = {k: request.args[k] for k in PAGER_ARGUMENTS if k in request.args}
    return url_for(request.endpoint, **(request.view_args or {}), **kept, page=number)


def namespace_label(namespace) -> str:
    """How a namespace is shown: the global one as its registry's host (as Portus did)."""
    if namespace.kind == NamespaceKind.GLOBAL:
        return namespace.host_registry.pull_host
    return namespace.name


def refuse_nul_in_forms() -> None:
    """No form field may carry a NUL character (PostgreSQL refuses them in text, and no
    name or description needs one); the token endpoint checks its own parameters."""
    if request.path.startswith("/v2/"):
        return
    if any("\x00" in value for value in request.form.values()):
        abort(400, "Form fields may not contain NUL characters.")


def install_page_helpers(app) -> None:
    """The NUL check on forms, and the Jinja globals and filters the pages share; the
    Markdown renderer is made here, per app. Raw HTML in Markdown is escaped and images are not rendered (Portus filtered
    both), so a description can never inject markup or load third-party content."""
    renderer = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")

    def markdown(text: str | None) -> Markup:
        return Markup(renderer.render(text or ""))  # noqa: S704 - html disabled above

    app.before_request(refuse_nul_in_forms)
    app.jinja_env.filters["markdown"] = markdown
    app.context_processor(lambda: {"may_administer": may_administer})
    app.jinja_env.globals.update(
        full_name=full_name,
        page_url=page_url,
        namespace_label=namespace_label,
        sentence=sentence,
        registries_for_login=lambda: [r.pull_host for r in all_registries()],
    )
