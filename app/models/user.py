"""Users: people and bots who sign in to the UI, ``docker login`` or call the API."""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UTCDateTime, utcnow


def new_security_stamp() -> str:
    """A random stamp; changing it invalidates cached credentials and refresh tokens."""
    return secrets.token_hex(16)


class User(Base):
    """An account. Bots have no password and authenticate with application tokens only."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(128), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    display_name: Mapped[str | None] = mapped_column(sa.String(255))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    admin: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True)
    bot: Mapped[bool] = mapped_column(default=False)
    security_stamp: Mapped[str] = mapped_column(sa.String(32), default=new_security_stamp)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    memberships: Mapped[list[TeamMember]] = relationship(  # noqa: F821
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<User {self.username}>"

    # flask-login protocol
    @property
    def is_authenticated(self) -> bool:
        """Every loaded user is authenticated (flask-login)."""
        return True

    @property
    def is_active(self) -> bool:
        """Disabled users and bots cannot hold a web session."""
        return self.enabled and not self.bot

    @property
    def is_anonymous(self) -> bool:
        """Never anonymous (flask-login)."""
        return False

    def get_id(self) -> str:
        """Session id: the user id plus the security stamp, so a password change logs out."""
        return f"{self.id}:{self.security_stamp}"
