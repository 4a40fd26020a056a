"""Registry notifications, stored durably before they are acknowledged."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, str_enum, utcnow
from app.models.enums import EventStatus


class RegistryEvent(Base):
    """One event of a notification envelope; ``event_id`` de-duplicates redeliveries."""

    __tablename__ = "registry_events"
    __table_args__ = (sa.Index("ix_registry_events_status_received_at", "status", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    action: Mapped[str] = mapped_column(sa.String(16))
    repository: Mapped[str] = mapped_column(sa.String(255), default="")
    tag: Mapped[str | None] = mapped_column(sa.String(128))
    digest: Mapped[str | None] = mapped_column(sa.String(100))
    media_type: Mapped[str | None] = mapped_column(sa.String(128))
    actor_name: Mapped[str | None] = mapped_column(sa.String(128))
    request_host: Mapped[str | None] = mapped_column(sa.String(255))
    payload: Mapped[dict] = mapped_column(sa.JSON)
    status: Mapped[EventStatus] = mapped_column(str_enum(EventStatus), default=EventStatus.FRESH)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
