"""Readiness: can this instance serve? Database reachable and migrated, Redis reachable."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError

from app.extensions import db


@dataclass(frozen=True)
class Check:
    """One dependency's state, with a message an operator can act on."""

    name: str
    ok: bool
    message: str


def database_check(migrations_directory: str) -> Check:
    """The database answers and its schema is at the newest migration."""
    try:
        current = db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError as exc:
        db.session.rollback()
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        return Check(
            "database", False, f"unreachable or not initialised ({reason}); run 'wharfinger init'"
        )
    head = ScriptDirectory(migrations_directory).get_current_head()
    if current != head:
        return Check(
            "database",
            False,
            f"schema at {current}, code expects {head}; run 'wharfinger db upgrade'",
        )
    return Check("database", True, f"reachable, schema {current}")


def redis_check(connection) -> Check | None:
    """Redis answers PING (None when Redis is not configured)."""
    if connection is None:
        return None
    try:
        connection.ping()
    except Exception as exc:  # redis raises several unrelated types for "down"
        return Check("redis", False, f"unreachable ({exc}); check WHARFINGER_REDIS_URL")
    return Check("redis", True, "reachable")


def readiness(migrations_directory: str, redis_connection) -> list[Check]:
    """Every readiness check that applies to this configuration."""
    checks = [database_check(migrations_directory), redis_check(redis_connection)]
    return [check for check in checks if check is not None]
