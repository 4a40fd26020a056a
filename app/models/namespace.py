"""Namespaces: the first path component of a repository name, owned by a team."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UTCDateTime, str_enum, utcnow
from app.models.enums import NamespaceKind, Visibility

# Name of each registry's global namespace (repositories without a "/"). It is outside the
# repository-name grammar, so no user namespace can ever collide with it.
GLOBAL_NAMESPACE_NAME = "_global"


class Namespace(Base):
    """A namespace in one registry; its team's roles decide who may pull and push."""

    __tablename__ = "namespaces"
    __table_args__ = (sa.UniqueConstraint("registry_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    registry_id: Mapped[int] = mapped_column(sa.ForeignKey("registries.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    kind: Mapped[NamespaceKind] = mapped_column(str_enum(NamespaceKind), default=NamespaceKind.TEAM)
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility), default=Visibility.PRIVATE)
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    team: Mapped[Team] = relationship()  # noqa: F821
    host_registry: Mapped[Registry] = relationship()  # noqa: F821

    def __repr__(self) -> str:
        return f"<Namespace {self.name}>"
