"""Credentials other than passwords: application tokens and refresh (identity) tokens.

Both are random 256-bit secrets, so a fast SHA-256 of the secret is a safe lookup key
(no salt or KDF is needed for full-entropy secrets); the plain value is shown once.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UTCDateTime, utcnow


class ApplicationToken(Base):
    """A named token usable as the password for ``docker login`` and the API."""

    __tablename__ = "application_tokens"
    __table_args__ = (sa.UniqueConstraint("user_id", "application"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    application: Mapped[str] = mapped_column(sa.String(128))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    read_only: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()  # noqa: F821


class RefreshToken(Base):
    """A durable, non-rotating OAuth2 refresh token bound to one user and one service.

    Docker stores it as ``identitytoken`` and reuses the same value forever, so it is never
    rotated (protocol.md §5.3); it is deleted when the password changes or the user is
    disabled.
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(sa.String(255))
    client_id: Mapped[str | None] = mapped_column(sa.String(128))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
