"""Named leases in the database: at most one holder per job across every process.

Used when no Redis is configured (and as the fallback): a lease is taken with one
conditional UPDATE, so two processes or instances racing for it cannot both win; a holder
that dies loses it when it expires.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import JobLease, utcnow


def _ensure_row(name: str) -> None:
    """Create the lease row once (a concurrent creator wins harmlessly)."""
    if db.session.get(JobLease, name) is not None:
        return
    try:
        db.session.add(JobLease(name=name))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


def acquire(name: str, holder: str, ttl_seconds: int) -> bool:
    """Take the lease for ``ttl_seconds`` if it is free, expired, or already ours."""
    _ensure_row(name)
    now = utcnow()
    result = db.session.execute(
        sa.update(JobLease)
        .where(
            JobLease.name == name,
            sa.or_(
                JobLease.expires_at.is_(None), JobLease.expires_at < now, JobLease.holder == holder
            ),
        )
        .values(holder=holder, expires_at=now + dt.timedelta(seconds=ttl_seconds))
    )
    db.session.commit()
    return result.rowcount == 1


def release(name: str, holder: str) -> None:
    """Give the lease back (only if we still hold it), whatever state the session is in."""
    db.session.rollback()  # a failed job must neither block the release nor commit its work
    db.session.execute(
        sa.update(JobLease)
        .where(JobLease.name == name, JobLease.holder == holder)
        .values(holder=None, expires_at=None)
    )
    db.session.commit()
