"""Application tokens and refresh tokens: create, verify, list, revoke.

Both are 256-bit random secrets with a recognisable prefix. Only their SHA-256 is stored:
for full-entropy secrets a fast hash is as safe as a KDF and lets one indexed lookup find
the row (Portus bcrypt-compared the password against every token of the user).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from app.authz.settings import AccessSettings
from app.extensions import db
from app.models import ApplicationToken, RefreshToken, User, utcnow
from app.services import activities
from app.services.access import require
from app.services.errors import Conflict, Invalid, NotFound

APPLICATION_TOKEN_PREFIX = "wh_"  # noqa: S105 (a prefix, not a secret)
REFRESH_TOKEN_PREFIX = "whr_"  # noqa: S105
APPLICATION_NAME_MAX = 128
# Writing last_used_at on every docker request would turn reads into writes; once a
# while is enough to answer "is this token still used?".
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


def secret_hash(secret: str) -> str:
    """Hex SHA-256 of a token: the only form in which tokens are stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret(prefix: str) -> str:
    """A new 256-bit token with a prefix that tells its kind (and secret scanners)."""
    return prefix + secrets.token_urlsafe(32)


def looks_like_application_token(password: str | None) -> bool:
    """True when a password has the application-token shape (skip the KDF for it)."""
    return bool(password) and password.startswith(APPLICATION_TOKEN_PREFIX)


def _touch(row, now: dt.datetime) -> None:
    """Update ``last_used_at`` at most every LAST_USED_RESOLUTION."""
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now


def check_manage_rights(actor: User | None, owner: User) -> None:
    """Only the owner, or an admin for a bot, manages a user's tokens (Portus let anyone;
    §1.10).

    ``actor`` None is the server's own CLI, which is trusted.
    """
    if actor is None:
        return
    # The token-management rule reads no access switch; the defaults stand in for them.
    require(
        "application_token.manage",
        actor,
        "only the owner (or an administrator, for a bot) may manage these tokens",
        settings=AccessSettings(),
        target_user_id=owner.id,
        target_is_bot=owner.bot,
    )


def create_application_token(
    plugins,
    owner: User,
    application: str,
    *,
    actor: User | None = None,
    read_only: bool = False,
    expires_at: dt.datetime | None = None,
) -> tuple[ApplicationToken, str]:
    """Create a named token for ``owner``; returns the row and the plain token (shown once)."""
    check_manage_rights(actor, owner)
    application = (application or "").strip()
    if not application or len(application) > APPLICATION_NAME_MAX:
        raise Invalid(
            f"token name must be 1 to {APPLICATION_NAME_MAX} characters", field="application"
        )
    if expires_at is not None and expires_at <= utcnow():
        raise Invalid("expiry must be in the future", field="expires_at")
    duplicate = sa.select(ApplicationToken.id).where(
        ApplicationToken.user_id == owner.id, ApplicationToken.application == application
    )
    if db.session.scalar(duplicate):
        raise Conflict(
            f"{owner.username} already has a token named {application!r}", field="application"
        )
    plain = new_secret(APPLICATION_TOKEN_PREFIX)
    row = ApplicationToken(
        user_id=owner.id,
        application=application,
        read_only=read_only,
        token_hash=secret_hash(plain),
        expires_at=expires_at,
    )
    db.session.add(row)
    db.session.flush()
    activities.record(
        plugins,
        "application_token.create",
        actor or owner,
        "application_token",
        row.id,
        application,
        owner=owner.username,
        read_only=read_only,
    )
    return row, plain


def list_application_tokens(owner: User, actor: User | None = None) -> list[ApplicationToken]:
    """The owner's tokens, newest first (never their secrets)."""
    check_manage_rights(actor, owner)
    query = (
        sa.select(ApplicationToken)
        .where(ApplicationToken.user_id == owner.id)
        .order_by(ApplicationToken.created_at.desc(), ApplicationToken.id.desc())
    )
    return list(db.session.scalars(query))


def find_application_token(owner: User, application: str) -> ApplicationToken:
    """The owner's token with this name, or NotFound."""
    row = db.session.scalar(
        sa.select(ApplicationToken).where(
            ApplicationToken.user_id == owner.id, ApplicationToken.application == application
        )
    )
    if row is None:
        raise NotFound(f"{owner.username} has no token named {application!r}", field="application")
    return row


def revoke_application_token(plugins, token: ApplicationToken, actor: User | None = None) -> None:
    """Delete the token; every instance refuses it from the next request on."""
    owner = db.session.get(User, token.user_id)
    check_manage_rights(actor, owner)
    activities.record(
        plugins,
        "application_token.destroy",
        actor or owner,
        "application_token",
        token.id,
        token.application,
        owner=owner.username,
    )
    db.session.delete(token)


def verify_application_token(user: User, plain: str) -> ApplicationToken | None:
    """The user's unexpired token matching ``plain``, or None."""
    row = db.session.scalar(
        sa.select(ApplicationToken).where(ApplicationToken.token_hash == secret_hash(plain))
    )
    if row is None or row.user_id != user.id:
        return None
    now = utcnow()
    if row.expires_at is not None and row.expires_at <= now:
        return None
    _touch(row, now)
    return row


def create_refresh_token(user: User, service: str, client_id: str | None) -> str:
    """A durable refresh token for ``user`` on ``service``; returns the plain value."""
    plain = new_secret(REFRESH_TOKEN_PREFIX)
    db.session.add(
        RefreshToken(
            user_id=user.id,
            service=service,
            token_hash=secret_hash(plain),
            client_id=(client_id or "")[:128] or None,
        )
    )
    return plain


def verify_refresh_token(plain: str, service: str) -> User | None:
    """The enabled user a refresh token belongs to, if it was issued for ``service``."""
    if not plain or not plain.startswith(REFRESH_TOKEN_PREFIX):
        return None
    row = db.session.scalar(
        sa.select(RefreshToken).where(RefreshToken.token_hash == secret_hash(plain))
    )
    if row is None or row.service != service:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.enabled:
        return None
    _touch(row, utcnow())
    return user


def revoke_refresh_tokens(user: User) -> int:
    """Delete every refresh token of ``user`` (password change, disabling); returns the count."""
    result = db.session.execute(sa.delete(RefreshToken).where(RefreshToken.user_id == user.id))
    return result.rowcount or 0


def get_application_token(token_id: int) -> ApplicationToken:
    """The application token with this id, or NotFound."""
    row = db.session.get(ApplicationToken, token_id)
    if row is None:
        raise NotFound(f"no application token with id {token_id}")
    return row


def application_token_owner(plain: str) -> tuple[User, ApplicationToken] | None:
    """The enabled owner of an unexpired application token and the token, or None
    (``Authorization: Bearer`` on the API names no user: the token does)."""
    if not looks_like_application_token(plain):
        return None
    row = db.session.scalar(
        sa.select(ApplicationToken).where(ApplicationToken.token_hash == secret_hash(plain))
    )
    if row is None:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or verify_application_token(user, plain) is None:
        return None
    return user, row


def expiry_after(lifetime: str | None) -> dt.datetime | None:
    """When a token created now with ``lifetime`` (``30d``, ``12h``...) expires; None
    without a lifetime. Invalid for a malformed or absurd lifetime."""
    from app.config import parse_duration

    if not lifetime:
        return None
    try:
        return utcnow() + dt.timedelta(seconds=parse_duration(lifetime))
    except (ValueError, OverflowError) as exc:
        raise Invalid(f"invalid lifetime {lifetime!r}: {exc}", field="expires_in") from None
