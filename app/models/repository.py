"""Repositories, their tags, and stars."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UTCDateTime, utcnow


class Repository(Base):
    """An image repository ``namespace/name`` (name may itself contain ``/``)."""

    __tablename__ = "repositories"
    __table_args__ = (sa.UniqueConstraint("namespace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace_id: Mapped[int] = mapped_column(sa.ForeignKey("namespaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    namespace: Mapped[Namespace] = relationship()  # noqa: F821
    tags: Mapped[list[Tag]] = relationship(
        back_populates="repository", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Repository {self.name}>"


class Tag(Base):
    """A tag pointing at a manifest digest, with who pushed it and when it was last pulled."""

    __tablename__ = "tags"
    __table_args__ = (
        sa.UniqueConstraint("repository_id", "name"),
        sa.Index("ix_tags_repository_id_digest", "repository_id", "digest"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(sa.ForeignKey("repositories.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(128))
    digest: Mapped[str] = mapped_column(sa.String(100))
    media_type: Mapped[str | None] = mapped_column(sa.String(128))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    platforms: Mapped[list | None] = mapped_column(sa.JSON)
    author_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    author_name: Mapped[str | None] = mapped_column(sa.String(128))
    pushed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    pulled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    repository: Mapped[Repository] = relationship(back_populates="tags")

    def __repr__(self) -> str:
        return f"<Tag {self.name} {self.digest[:19]}>"


class Star(Base):
    """A user's star on a repository (the dashboard's "starred" list)."""

    __tablename__ = "stars"
    __table_args__ = (sa.UniqueConstraint("user_id", "repository_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    repository_id: Mapped[int] = mapped_column(
        sa.ForeignKey("repositories.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
