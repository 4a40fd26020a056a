"""Registries that Wharfinger issues tokens for (Portus supported one; we allow several)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class Registry(Base):
    """A distribution registry. ``hostname`` (or ``external_hostname``) is its token ``service``."""

    __tablename__ = "registries"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    hostname: Mapped[str] = mapped_column(sa.String(255), unique=True)
    external_hostname: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    use_ssl: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<Registry {self.name} {self.hostname}>"

    @property
    def base_url(self) -> str:
        """``https://host:port`` (or http) for talking to the registry's API."""
        return f"{'https' if self.use_ssl else 'http'}://{self.hostname}"

    @property
    def pull_host(self) -> str:
        """The host clients use in ``docker pull`` lines."""
        return self.external_hostname or self.hostname
