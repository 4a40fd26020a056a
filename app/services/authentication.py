"""Authentication for the token endpoint: lockout around the ``authenticate`` hook chain.

Lockout state lives in the ``users`` row (failed_logins, locked_until) and is changed with
atomic UPDATEs, so it holds across gunicorn workers and instances sharing the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.models import User, utcnow
from app.services import activities, credentials


@dataclass(frozen=True)
class Identity:
    """An accepted login: the user, how they proved it, and whether the credential is
    read-only (a read-only application token)."""

    user: User
    method: str  # "password", "application_token", "refresh_token", or a plugin's name
    read_only: bool = False


@dataclass(frozen=True)
class Rejection:
    """An authenticator's explicit "no" (stops the chain); ``reason`` is for the log."""

    reason: str


class AuthenticationFailed(Exception):
    """Login refused; ``str()`` is the message shown to the client."""


@dataclass(frozen=True)
class LockoutPolicy:
    """Portus's Devise lockout: ``attempts`` failures lock for ``minutes``."""

    attempts: int = 10
    minutes: int = 10


def find_user(username: str) -> User | None:
    """The user with exactly this username."""
    return db.session.scalar(sa.select(User).where(User.username == username))


def _is_locked(user: User, now: dt.datetime) -> bool:
    """True while the account is locked; an expired lock is cleared (only if still expired,
    so a lock another request has just set survives)."""
    if user.locked_until is None:
        return False
    if user.locked_until > now:
        return True
    db.session.execute(
        sa.update(User)
        .where(User.id == user.id, User.locked_until <= now)
        .values(failed_logins=0, locked_until=None)
    )
    db.session.commit()
    user.failed_logins, user.locked_until = 0, None
    return False


def record_failure(user: User, policy: LockoutPolicy, now: dt.datetime) -> None:
    """Count a failure atomically (and commit it with its audit record); the N-th failure
    in a row locks the account.

    ``ordered_values`` puts locked_until first: MariaDB evaluates SET clauses left to
    right with already-updated values, PostgreSQL and SQLite with the old ones.
    """
    lock = sa.case(
        (User.failed_logins + 1 >= policy.attempts, now + dt.timedelta(minutes=policy.minutes)),
        else_=User.locked_until,
    )
    db.session.execute(
        sa.update(User)
        .where(User.id == user.id)
        .ordered_values((User.locked_until, lock), (User.failed_logins, User.failed_logins + 1))
    )
    db.session.commit()


def _record_success(user: User) -> None:
    """Reset the failure counter (only when there is something to reset: no write per pull);
    the change is committed with the token request."""
    if user.failed_logins:
        user.failed_logins = 0


def authenticate(
    plugins, username: str, password: str, *, policy: LockoutPolicy, remote_addr: str | None = None
) -> Identity:
    """Run the lockout check and the ``authenticate`` hook chain; raise on failure.

    Lockout guards passwords only: an application token is a 256-bit secret that cannot be
    guessed, so its failures are not counted and a locked account's tokens keep working
    (otherwise anyone could lock a CI bot out by sending ten wrong tokens). Every refusal
    has the same message, so it does not tell which usernames exist.
    """
    now = utcnow()
    user = find_user(username)
    counted = user is not None and not credentials.looks_like_application_token(password)
    if counted and _is_locked(user, now):
        raise AuthenticationFailed(refusal(policy))
    answer = plugins.hook.authenticate(
        username=username, password=password, user=user, remote_addr=remote_addr
    )
    if not isinstance(answer, Identity):
        if counted:
            activities.record(
                plugins,
                "user.login_failed",
                user,
                "user",
                user.id,
                username,
                remote_addr=remote_addr,
            )
            record_failure(user, policy, now)
        raise AuthenticationFailed(refusal(policy))
    if not answer.user.enabled:
        raise AuthenticationFailed(refusal(policy))
    _record_success(answer.user)
    return answer


def refusal(policy: LockoutPolicy) -> str:
    """The one message for every refused login."""
    return (
        f"invalid username or password (after {policy.attempts} failed logins in a row an "
        f"account is locked for {policy.minutes} minutes)"
    )


def sign_in(
    plugins, username: str, password: str, *, policy: LockoutPolicy, remote_addr: str | None
) -> User:
    """The web sign-in: the same lockout and ``authenticate`` chain as the token endpoint,
    but only a password (or a plugin's own method) opens a browser session; application
    tokens are for the CLI, and bots never sign in to the web UI."""
    identity = authenticate(plugins, username, password, policy=policy, remote_addr=remote_addr)
    if identity.method in ("application_token", "refresh_token") or identity.user.bot:
        raise AuthenticationFailed(
            "application tokens and bot accounts cannot sign in to the web interface"
        )
    user = identity.user
    user.last_login_at = utcnow()
    activities.record(
        plugins,
        "user.login",
        user,
        "user",
        user.id,
        user.username,
        method="web",
        remote_addr=remote_addr,
    )
    db.session.commit()
    return user
