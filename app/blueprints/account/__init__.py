"""The user's own pages: profile, password, application tokens."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user

from app.blueprints.web import done, form_errors, parse_id, plugins, save_profile_form
from app.extensions import db
from app.models import ApplicationToken, User, utcnow
from app.services import accounts, credentials
from app.services.errors import Invalid, NotFound, ServiceError

bp = Blueprint("account", __name__)


@bp.before_request
@login_required
def require_login():
    """Every account page needs a signed-in user."""


def _profile(errors=None, status=200):
    """The profile page, optionally with a form's errors."""
    return render_template("account/profile.html", errors=errors or {}, form=request.form), status


@bp.get("/profile")
def profile():
    """E-mail address, display name and password."""
    return _profile()


@bp.post("/profile")
def update_profile():
    """Save e-mail address and display name."""
    errors = save_profile_form(current_user)
    if errors:
        return _profile(errors, 400)
    done("Profile saved.")
    return redirect(url_for("account.profile"))


@bp.post("/profile/password")
def change_password():
    """Change the password; other sessions and docker refresh tokens end."""
    form = request.form
    try:
        user = accounts.change_own_password(
            plugins(),
            current_user,
            form.get("current_password", ""),
            form.get("password", ""),
            form.get("password_confirmation", ""),
        )
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        return _profile(form_errors(error), 400)
    login_user(user)  # this browser stays signed in under the new security stamp
    done(
        "Password changed. Log in again on the Docker CLI (docker login) on every machine: "
        "the old password no longer works there."
    )
    return redirect(url_for("account.profile"))


def _owner(user_id: int) -> User:
    """The owner of the tokens page; the engine decides whether the visitor may manage them."""
    owner = accounts.get_user_by_id(user_id)
    credentials.check_manage_rights(current_user, owner)
    return owner


def _tokens_page(owner: User, errors=None, status=200):
    """The token list with the creation form."""
    return render_template(
        "account/tokens.html",
        owner=owner,
        tokens=credentials.list_application_tokens(owner, actor=current_user),
        errors=errors or {},
        form=request.form,
        now=utcnow(),
    ), status


@bp.get("/tokens")
def own_tokens():
    """The signed-in user's application tokens."""
    return redirect(url_for("account.tokens", user_id=current_user.id))


@bp.get("/users/<int:user_id>/tokens")
def tokens(user_id: int):
    """A user's application tokens (their own, or a bot's for an admin)."""
    return _tokens_page(_owner(user_id))


def _expiry(text: str) -> dt.datetime | None:
    """Days from now as a datetime; empty means never."""
    text = (text or "").strip()
    if not text:
        return None
    days = parse_id(text)
    if days is None or days > 3650:
        raise Invalid("expiry must be a number of days from 1 to 3650", field="expires_days")
    return utcnow() + dt.timedelta(days=days)


@bp.post("/users/<int:user_id>/tokens")
def create_token(user_id: int):
    """Create a token and show it once, with a ready ``docker login`` line."""
    owner = _owner(user_id)
    form = request.form
    try:
        _, plain = credentials.create_application_token(
            plugins(),
            owner,
            form.get("application", ""),
            actor=current_user,
            read_only=form.get("read_only") == "1",
            expires_at=_expiry(form.get("expires_days", "")),
        )
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        return _tokens_page(owner, form_errors(error), 400)
    return render_template("account/token_created.html", owner=owner, token=plain)


@bp.post("/users/<int:user_id>/tokens/<int:token_id>/revoke")
def revoke_token(user_id: int, token_id: int):
    """Revoke a token at once (every instance checks the database on each use)."""
    owner = _owner(user_id)
    token = db.session.get(ApplicationToken, token_id)
    if token is None or token.user_id != owner.id:
        raise NotFound(f"{owner.username} has no token with id {token_id}")
    credentials.revoke_application_token(plugins(), token, actor=current_user)
    db.session.commit()
    done(f"Token {token.application} revoked.")
    return redirect(url_for("account.tokens", user_id=owner.id))
