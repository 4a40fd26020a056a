"""Leases that keep periodic jobs single across processes and instances (no Redis needed)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class JobLease(Base):
    """Who holds the named job until when; taken and released with conditional UPDATEs."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(sa.String(128))
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
