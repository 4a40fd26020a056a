"""``/api/v1/users`` (administrators), bootstrap, and application tokens."""

from __future__ import annotations

from flask import current_app, jsonify

from app.blueprints.api import entities
from app.blueprints.api.core import (
    ID,
    ApiError,
    body,
    bp,
    caller,
    created,
    flag,
    no_content,
    paginated,
    plugins,
    public,
    require_admin,
    saved,
    sorted_by,
    text,
)
from app.models import User
from app.services import accounts, credentials

USER_SORT = {
    "id": User.id,
    "username": User.username,
    "email": User.email,
    "created_at": User.created_at,
}


@bp.get("/v1/users")
def list_users():
    """Every user (administrators only), paginated."""
    require_admin()
    return paginated(sorted_by(accounts.users_by_name(), USER_SORT, "id"), entities.user)


@bp.get("/v1/users/<user_id>")
def get_user(user_id: str):
    """One user by id, e-mail address or username (administrators only)."""
    require_admin()
    return jsonify(entities.user(accounts.find_user_by_reference(user_id)))


@bp.post("/v1/users")
def create_user():
    """Create a user, or a bot with ``bot: true`` (administrators only)."""
    require_admin()
    data = body("user")
    bot = bool(flag(data, "bot"))
    user = accounts.create_user(
        plugins(),
        (text(data, "username", required=True, maximum=255) or "").strip(),
        text(data, "email", required=not bot, maximum=255),
        text(data, "password", required=not bot, maximum=1024),
        bot=bot,
        display_name=text(data, "display_name", maximum=255),
        actor=caller(),
    )
    return created(entities.user(user))


@bp.put(f"/v1/users/<{ID}:user_id>")
def update_user(user_id: int):
    """Change e-mail, display name, password, admin flag or enabled state (admins)."""
    require_admin()
    data = body("user")
    user = accounts.get_user_by_id(user_id)
    username = text(data, "username", maximum=255)
    if username is not None and username != user.username:
        raise ApiError(400, "usernames cannot change", {"username": ["cannot change"]})
    accounts.admin_update_user(
        plugins(),
        caller(),
        user,
        email=text(data, "email", maximum=255),
        display_name=text(data, "display_name", maximum=255),
        password=text(data, "password", maximum=1024),
        admin=flag(data, "admin"),
        enabled=flag(data, "enabled"),
    )
    return saved(entities.user(user))


@bp.delete(f"/v1/users/<{ID}:user_id>")
def delete_user(user_id: int):
    """Delete a user (not oneself; their personal namespace must be empty)."""
    require_admin()
    accounts.delete_user(plugins(), caller(), accounts.get_user_by_id(user_id))
    return no_content()


@bp.post("/v1/users/bootstrap")
@public
def bootstrap():
    """Create the first administrator and its ``bootstrap`` application token, once:
    405 when first-user-admin is off, 400 when users exist."""
    if not current_app.config["FIRST_USER_ADMIN"]:
        raise ApiError(405, "bootstrapping is switched off (WHARFINGER_FIRST_USER_ADMIN)")
    data = body("user")
    user, plain = accounts.bootstrap_admin(
        plugins(),
        text(data, "username", required=True, maximum=255) or "",
        text(data, "email", required=True, maximum=255) or "",
        text(data, "password", required=True, maximum=1024) or "",
        first_user_admin=True,
    )
    token = credentials.find_application_token(user, "bootstrap")
    return created(entities.application_token(token, plain) | {"user_id": user.id})


# --- application tokens ---------------------------------------------------------------


@bp.get(f"/v1/users/<{ID}:user_id>/application_tokens")
def list_tokens(user_id: int):
    """A user's application tokens (the owner or an administrator)."""
    owner = accounts.get_user_by_id(user_id)
    rows = credentials.list_application_tokens(owner, actor=caller())
    return jsonify([entities.application_token(row) for row in rows])


@bp.post(f"/v1/users/<{ID}:user_id>/application_tokens")
def create_token(user_id: int):
    """Create an application token (the owner or an administrator, never anyone else:
    Portus let any user mint tokens for any other); ``plain_token`` is shown once."""
    owner = accounts.get_user_by_id(user_id)
    data = body("application_token")
    expires_at = credentials.expiry_after(text(data, "expires_in", maximum=32))
    row, plain = credentials.create_application_token(
        plugins(),
        owner,
        text(data, "application", required=True, maximum=255) or "",
        actor=caller(),
        read_only=bool(flag(data, "read_only")),
        expires_at=expires_at,
    )
    return created(entities.application_token(row, plain))


@bp.delete(f"/v1/users/application_tokens/<{ID}:token_id>")
def delete_token(token_id: int):
    """Revoke an application token (its owner or an administrator)."""
    credentials.revoke_application_token(
        plugins(), credentials.get_application_token(token_id), actor=caller()
    )
    return no_content()
