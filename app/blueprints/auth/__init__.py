"""Sign up, sign in and sign out (Portus's Devise pages)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user

from app.blueprints.web import done, form_errors, plugins, signed_in_user
from app.extensions import db
from app.services import accounts
from app.services.authentication import AuthenticationFailed
from app.services.authentication import sign_in as authenticate_sign_in
from app.services.errors import ServiceError

bp = Blueprint("auth", __name__, url_prefix="/users")


def _signup_open() -> bool:
    """Whether the sign-up page takes new accounts now."""
    config = current_app.config
    return accounts.sign_up_open(config["SIGNUP_ENABLED"], config["FIRST_USER_ADMIN"])


@bp.app_context_processor
def signup_link():
    """Templates show a "Sign up" link only while sign-up is open."""
    return {"signup_open": _signup_open() if signed_in_user() is None else False}


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return url_for("dashboard.index")


@bp.route("/sign_up", methods=["GET", "POST"])
def sign_up():
    """Create an account; the first one becomes the administrator."""
    if signed_in_user() is not None:
        return redirect(url_for("dashboard.index"))
    first = accounts.user_count() == 0
    if not _signup_open():
        return render_template("auth/sign_up_closed.html"), 403
    errors, form = {}, request.form
    if request.method == "POST":
        if form.get("password", "") != form.get("password_confirmation", ""):
            errors = {"password_confirmation": "the two passwords differ"}
        else:
            try:
                user = accounts.sign_up(
                    plugins(),
                    form.get("username", ""),
                    form.get("email", ""),
                    form.get("password", ""),
                    signup_enabled=current_app.config["SIGNUP_ENABLED"],
                    first_user_admin=current_app.config["FIRST_USER_ADMIN"],
                )
                db.session.commit()
                session.clear()  # nothing from before sign-in carries over
                login_user(user)
                done(
                    f"Welcome, {user.username}."
                    + (" You are the administrator." if user.admin else "")
                )
                return redirect(url_for("dashboard.index"))
            except ServiceError as error:
                db.session.rollback()
                errors = form_errors(error)
    return render_template("auth/sign_up.html", errors=errors, form=form, first=first), (
        400 if errors else 200
    )


@bp.route("/sign_in", methods=["GET", "POST"])
def sign_in():
    """Sign in with username and password (locked after repeated failures)."""
    if accounts.user_count() == 0 and _signup_open():
        return redirect(url_for("auth.sign_up"))
    errors, form = {}, request.form
    if request.method == "POST":
        issuer = current_app.extensions["wharfinger.tokens"]
        try:
            user = authenticate_sign_in(
                plugins(),
                form.get("username", "").strip(),
                form.get("password", ""),
                policy=issuer.lockout,
                remote_addr=request.remote_addr,
            )
            session.clear()  # nothing from before sign-in carries over
            login_user(user, remember=bool(form.get("remember")))
            return redirect(_safe_next(request.args.get("next")))
        except AuthenticationFailed as error:
            db.session.rollback()
            errors = {"_": str(error)}
    return render_template("auth/sign_in.html", errors=errors, form=form), 401 if errors else 200


@bp.post("/sign_out")
def sign_out():
    """End the session (a POST with CSRF, so no link can sign anyone out)."""
    logout_user()
    done("You are signed out.")
    return redirect(url_for("auth.sign_in"))
