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
from app.services import activities


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


INVALID_CREDENTIALS = "invalid username or password"


def find_user(username: str) -> User | None:
    """The user with exactly this username."""
    return db.session.scalar(sa.select(User).where(User.username == username))


def _check_not_locked(user: User, now: dt.datetime) -> None:
    """Refuse a locked account without checking its password; clear an expired lock."""
    if user.locked_until is None:
        return
    if user.locked_until > now:
        raise AuthenticationFailed(
            "account locked after too many failed logins; try again after "
            f"{user.locked_until:%H:%M} UTC"
        )
    db.session.execute(
        sa.update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None)
    )
    db.session.commit()
    user.failed_logins, user.locked_until = 0, None


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
    """Run the lockout check and the ``authenticate`` hook chain; raise on failure."""
    now = utcnow()
    user = find_user(username)
    if user is not None:
        _check_not_locked(user, now)
    answer = plugins.hook.authenticate(
        username=username, password=password, user=user, remote_addr=remote_addr
    )
    if not isinstance(answer, Identity):
        if user is not None:
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
        raise AuthenticationFailed(INVALID_CREDENTIALS)
    if not answer.user.enabled:
        raise AuthenticationFailed("account is disabled")
    _record_success(answer.user)
    return answer
