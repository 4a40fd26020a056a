"""Activities: the audit trail and the dashboard's "recent activities"."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class Activity(Base):
    """Who did what to which object, when.

    Names are copied into the row (actor_name, target_name) and the id columns are not
    foreign keys, so the record stays readable after the actor or target is deleted.
    ``team_id``/``namespace_id`` drive per-user visibility on the dashboard.
    """

    __tablename__ = "activities"
    __table_args__ = (
        sa.Index("ix_activities_created_at", "created_at"),
        sa.Index("ix_activities_namespace_id_created_at", "namespace_id", "created_at"),
        sa.Index("ix_activities_team_id_created_at", "team_id", "created_at"),
        sa.Index("ix_activities_actor_id_created_at", "actor_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    key: Mapped[str] = mapped_column(sa.String(64))
    actor_id: Mapped[int | None] = mapped_column()
    actor_name: Mapped[str] = mapped_column(sa.String(128), default="")
    target_type: Mapped[str] = mapped_column(sa.String(32))
    target_id: Mapped[int | None] = mapped_column()
    target_name: Mapped[str] = mapped_column(sa.String(512), default="")
    team_id: Mapped[int | None] = mapped_column()
    namespace_id: Mapped[int | None] = mapped_column()
    parameters: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    def __repr__(self) -> str:
        return f"<Activity {self.key} {self.target_name}>"
