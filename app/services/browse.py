"""What a user may see in lists: namespaces, repositories, teams, search, dashboard figures.

Lists are SQL filters so they paginate at any size. Each filter is the set form of one
rule of ``app.authz.management`` (named in its docstring); ``tests/web/test_listing_rules``
checks every filter against the engine's per-object answer over a mixed population, so the
two cannot drift apart.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, joinedload

from app.extensions import db
from app.models import Namespace, Registry, Repository, Star, Tag, Team, TeamMember, User
from app.models.enums import NamespaceKind, Visibility

SEARCH_MAX = 100


def _team_ids(user: User):
    """The ids of the teams ``user`` belongs to (a subquery)."""
    return sa.select(TeamMember.team_id).where(TeamMember.user_id == user.id)


def listed_namespace_filter(user: User | None):
    """``namespace.list`` as SQL: anonymous → public; admin → all; user → public,
    protected or a member of the namespace's team."""
    if user is None:
        return Namespace.visibility == Visibility.PUBLIC
    if user.admin:
        return sa.true()
    return sa.or_(
        Namespace.visibility.in_((Visibility.PUBLIC, Visibility.PROTECTED)),
        Namespace.team_id.in_(_team_ids(user)),
    )


def visible_team_filter(user: User | None):
    """``team.view`` as SQL: visible (not hidden) teams of which the user is a member, or
    every visible team for an admin; nothing for anonymous visitors."""
    if user is None:
        return sa.false()
    if user.admin:
        return Team.hidden.is_(False)
    return sa.and_(Team.hidden.is_(False), Team.id.in_(_team_ids(user)))


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with LIKE's wildcards escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def namespaces(user: User | None, query: str = "") -> sa.Select:
    """Namespaces ``user`` may list, team and personal kinds before global, by name."""
    select = (
        sa.select(Namespace)
        .join(Team, Team.id == Namespace.team_id)
        .where(listed_namespace_filter(user))
        .options(contains_eager(Namespace.team), joinedload(Namespace.host_registry))
        .order_by(Namespace.name)
    )
    if query:
        pattern = _like(query)
        select = select.where(
            sa.or_(
                sa.func.lower(Namespace.name).like(pattern, escape="\\"),
                sa.func.lower(sa.func.coalesce(Namespace.description, "")).like(
                    pattern, escape="\\"
                ),
            )
        )
    return select


def _listed_repository_ids(
    user: User | None, query: str, namespace_id: int | None, public_only: bool
) -> sa.Select:
    """Ids of the repositories ``user`` may list (``repository.list``) that match."""
    select = (
        sa.select(Repository.id)
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(listed_namespace_filter(None if public_only else user))
    )
    if namespace_id is not None:
        select = select.where(Repository.namespace_id == namespace_id)
    text = query.split(":", 1)[0]  # Portus: no tag search after ":"
    if "/" in text:  # "namespace/name" as people write it
        space, name = text.split("/", 1)
        select = select.where(
            sa.func.lower(Namespace.name).like(_like(space)[1:], escape="\\"),
            sa.func.lower(Repository.name).like(_like(name), escape="\\"),
        )
    elif text:
        pattern = _like(text)
        select = select.where(
            sa.or_(
                sa.func.lower(Repository.name).like(pattern, escape="\\"),
                sa.func.lower(Namespace.name).like(pattern, escape="\\"),
            )
        )
    return select


def repositories(
    user: User | None,
    query: str = "",
    *,
    namespace_id: int | None = None,
    public_only: bool = False,
) -> sa.Select:
    """Repositories ``user`` may list (``repository.list``), with their namespace, tag
    count and last push, newest push first. ``query`` matches ``namespace/name``."""
    listed = _listed_repository_ids(user, query, namespace_id, public_only).subquery()
    last_push = sa.func.max(Tag.pushed_at).label("last_push")
    tag_count = sa.func.count(Tag.id).label("tag_count")
    return (
        sa.select(Repository, Namespace, tag_count, last_push)
        .join(listed, listed.c.id == Repository.id)
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .outerjoin(Tag, Tag.repository_id == Repository.id)
        .group_by(Repository.id, Namespace.id)
        .order_by(last_push.desc(), Repository.id.desc())
    )


def count_repositories(
    user: User | None,
    query: str = "",
    *,
    namespace_id: int | None = None,
    public_only: bool = False,
) -> int:
    """How many repositories ``repositories`` lists, without reading their tags."""
    listed = _listed_repository_ids(user, query, namespace_id, public_only).subquery()
    return db.session.scalar(sa.select(sa.func.count()).select_from(listed))


def team_repositories(user: User) -> sa.Select:
    """Repositories in namespaces of the user's teams (their personal one included)."""
    return repositories(user).where(Namespace.team_id.in_(_team_ids(user)))


def starred_repositories(user: User) -> sa.Select:
    """Repositories the user starred that they may still list."""
    starred = sa.select(Star.repository_id).where(Star.user_id == user.id)
    return repositories(user).where(Repository.id.in_(starred))


def teams(user: User | None, query: str = "") -> sa.Select:
    """Teams ``user`` may view, with their member and namespace counts, by name."""
    members = (
        sa.select(sa.func.count())
        .where(TeamMember.team_id == Team.id)
        .correlate(Team)
        .scalar_subquery()
        .label("member_count")
    )
    spaces = (
        sa.select(sa.func.count())
        .where(Namespace.team_id == Team.id)
        .correlate(Team)
        .scalar_subquery()
        .label("namespace_count")
    )
    select = sa.select(Team, members, spaces).where(visible_team_filter(user)).order_by(Team.name)
    if query:
        pattern = _like(query)
        select = select.where(
            sa.or_(
                sa.func.lower(Team.name).like(pattern, escape="\\"),
                sa.func.lower(sa.func.coalesce(Team.description, "")).like(pattern, escape="\\"),
            )
        )
    return select


def team_choices(user: User | None) -> list[Team]:
    """The teams ``user`` may view, by name, without counts (a form's choices)."""
    return list(
        db.session.scalars(sa.select(Team).where(visible_team_filter(user)).order_by(Team.name))
    )


def admin_statistics() -> dict[str, int]:
    """Portus's admin panel figures: registries, enabled users, visible teams, namespaces,
    repositories and tags."""

    def count(select) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(select.subquery()))

    return {
        "registries": count(sa.select(Registry.id)),
        "users": count(sa.select(User.id).where(User.enabled.is_(True), User.bot.is_(False))),
        "teams": count(sa.select(Team.id).where(Team.hidden.is_(False))),
        "namespaces": count(sa.select(Namespace.id).where(Namespace.kind != NamespaceKind.GLOBAL)),
        "repositories": count(sa.select(Repository.id)),
        "tags": count(sa.select(Tag.id)),
    }


def user_suggestions(text: str, exclude_team: Team | None = None, limit: int = 10) -> list[str]:
    """Usernames starting with ``text`` (the member typeahead), minus the team's members."""
    if not text:
        return []
    select = (
        sa.select(User.username)
        .where(
            sa.func.lower(User.username).like(_like(text)[1:], escape="\\"),
            User.enabled.is_(True),
        )
        .order_by(User.username)
        .limit(limit)
    )
    if exclude_team is not None:
        members = sa.select(TeamMember.user_id).where(TeamMember.team_id == exclude_team.id)
        select = select.where(User.id.not_in(members))
    return list(db.session.scalars(select))
