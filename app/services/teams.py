"""Teams: create them and manage their members (portus.md §1.2, §2.2).

Who may do what is decided only by ``app.authz``; a refusal becomes ``Forbidden``. The
caller commits.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from app.authz.settings import AccessSettings
from app.authz.subjects import TeamFacts
from app.extensions import db
from app.models import Namespace, Team, TeamMember, User
from app.models.enums import Role
from app.services import activities, names
from app.services.access import allowed_actions, require
from app.services.errors import Conflict, Invalid, NotFound


def team_facts(team: Team) -> TeamFacts:
    """The authorization engine's view of ``team``."""
    return TeamFacts(team.id, team.name, team.hidden)


def membership(team: Team, user: User) -> TeamMember | None:
    """``user``'s membership row in ``team``, if any."""
    return db.session.scalar(
        sa.select(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == user.id)
    )


def role_of(team: Team, user: User | None) -> Role | None:
    """``user``'s role in ``team``, or None for outsiders and anonymous callers."""
    if user is None:
        return None
    member = membership(team, user)
    return member.role if member else None


def _require_member_management(user: User, team: Team, settings: AccessSettings) -> None:
    """Only admins and the team's owners manage members; hidden teams get none."""
    message = (
        f"team {team.name!r} is internal and cannot get members"
        if team.hidden
        else f"only admins and owners of team {team.name!r} may manage its members"
    )
    require(
        "team.manage_members",
        user,
        message,
        team=team_facts(team),
        role=role_of(team, user),
        settings=settings,
    )


def _owner_count(team: Team) -> int:
    """How many owners ``team`` has."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(TeamMember)
        .where(TeamMember.team_id == team.id, TeamMember.role == Role.OWNER)
    )


def _check_role(role: Role | str | int) -> Role:
    """Accept a Role, its name (``"owner"``) or its number; anything else is Invalid."""
    if isinstance(role, str) and role.upper() in Role.__members__:
        return Role[role.upper()]
    try:
        return Role(role)
    except ValueError:
        choices = ", ".join(r.name.lower() for r in Role)
        raise Invalid(f"unknown role {role!r}: expected one of {choices}", field="role") from None


def _record(plugins, key: str, actor: User, team: Team, **params) -> None:
    """Record a ``team.*`` activity aimed at ``team``."""
    activities.record(plugins, key, actor, "team", team.id, team.name, team_id=team.id, **params)


def create_team(
    plugins,
    actor: User,
    name: str,
    description: str | None = None,
    *,
    settings: AccessSettings,
    owner: User | None = None,
) -> Team:
    """Create a visible team whose owner is ``actor``, or ``owner`` when an admin names one.

    Records ``team.create``.
    """
    require("team.create", actor, "you may not create teams", settings=settings)
    owner = owner or actor
    if owner.id != actor.id:  # Portus: only admins pass owner_id
        require(
            "admin.access",
            actor,
            "only admins may make another user the owner of a new team",
            settings=settings,
        )
    name = names.check_team_name(name)
    if db.session.scalar(sa.select(Team.id).where(Team.name == name)):
        raise Conflict(f"team name {name!r} is already taken", field="name")
    team = Team(name=name, description=(description or "").strip() or None)
    team.members.append(TeamMember(user=owner, role=Role.OWNER))
    db.session.add(team)
    db.session.flush()
    _record(plugins, "team.create", actor, team, owner=owner.username)
    return team


def add_member(
    plugins, actor: User, team: Team, user: User, role: Role | str, *, settings: AccessSettings
) -> TeamMember:
    """Add ``user`` to ``team`` with ``role``; a Wharfinger admin always becomes owner.

    Records ``team.add_member``.
    """
    _require_member_management(actor, team, settings)
    role = Role.OWNER if user.admin else _check_role(role)
    if membership(team, user) is not None:
        raise Conflict(f"{user.username} is already a member of {team.name!r}", field="user")
    with db.session.no_autoflush:  # the half-built row must not be flushed early
        member = TeamMember(user=user, role=role)
        team.members.append(member)
    db.session.flush()
    _record(plugins, "team.add_member", actor, team, member=user.username, role=role.name.lower())
    return member


def _existing_member(team: Team, user: User) -> TeamMember:
    """``user``'s membership in ``team``, or NotFound."""
    member = membership(team, user)
    if member is None:
        raise NotFound(f"{user.username} is not a member of {team.name!r}", field="user")
    return member


def change_role(
    plugins, actor: User, team: Team, user: User, role: Role | str, *, settings: AccessSettings
) -> TeamMember:
    """Give ``user`` a new role in ``team``. Admins cannot be demoted, nor can the last owner.

    Records ``team.change_member_role`` (nothing when the role is unchanged).
    """
    _require_member_management(actor, team, settings)
    role = _check_role(role)
    member = _existing_member(team, user)
    old = member.role
    if old == role:
        return member
    if old == Role.OWNER:
        if user.admin:
            raise Invalid(f"{user.username} is an admin and stays an owner", field="role")
        if _owner_count(team) <= 1:
            raise Invalid(f"{team.name!r} needs at least one owner", field="role")
    member.role = role
    db.session.flush()
    _record(
        plugins,
        "team.change_member_role",
        actor,
        team,
        member=user.username,
        old_role=old.name.lower(),
        role=role.name.lower(),
    )
    return member


def remove_member(
    plugins, actor: User, team: Team, user: User, *, settings: AccessSettings
) -> None:
    """Take ``user`` out of ``team``; the last owner cannot leave.

    Records ``team.remove_member``.
    """
    _require_member_management(actor, team, settings)
    member = _existing_member(team, user)
    if member.role == Role.OWNER and _owner_count(team) <= 1:
        raise Invalid(f"the last owner of {team.name!r} cannot be removed", field="user")
    team.members.remove(member)
    db.session.flush()
    _record(plugins, "team.remove_member", actor, team, member=user.username)


def get_team(team_id: int) -> Team:
    """The team with this id, or NotFound (hidden teams too: callers check ``team.view``)."""
    team = db.session.get(Team, team_id)
    if team is None:
        raise NotFound(f"no team with id {team_id}")
    return team


def require_on_team(
    action: str, user: User | None, team: Team, message: str, *, settings: AccessSettings
) -> None:
    """``require`` about ``team`` with ``user``'s role in it."""
    require(
        action, user, message, team=team_facts(team), role=role_of(team, user), settings=settings
    )


def edit_team(
    plugins,
    actor: User,
    team: Team,
    *,
    name: str | None = None,
    description: str | None = None,
    settings: AccessSettings,
) -> Team:
    """Rename ``team`` and/or change its description (``None`` leaves a field alone).

    Records ``team.change_team_name`` / ``team.change_team_description``.
    """
    require_on_team("team.edit", actor, team, "you may not edit this team", settings=settings)
    if name is not None:
        name = names.check_team_name(name)
        if name != team.name:
            taken = sa.select(Team.id).where(Team.name == name, Team.id != team.id)
            if db.session.scalar(taken):
                raise Conflict(f"team name {name!r} is already taken", field="name")
            old, team.name = team.name, name
            _record(plugins, "team.change_team_name", actor, team, old_name=old)
    if description is not None:
        text = description.strip() or None
        if text != team.description:
            team.description = text
            _record(plugins, "team.change_team_description", actor, team)
    db.session.flush()
    return team


def delete_team(plugins, actor: User, team: Team, *, settings: AccessSettings) -> None:
    """Delete a team that owns no namespace any more.

    Deliberate difference from Portus, which deleted every namespace, repository and image
    of the team in the same click: here the namespaces must be moved to another team or
    deleted first, each a separate, visible decision. Records ``team.delete``.
    """
    require_on_team("team.delete", actor, team, "you may not delete this team", settings=settings)
    owned = list(
        db.session.scalars(
            sa.select(Namespace.name).where(Namespace.team_id == team.id).order_by(Namespace.name)
        )
    )
    if owned:
        raise Invalid(
            f"team {team.name!r} still owns namespaces {', '.join(owned)}: move them to "
            "another team or delete them first",
            field="team",
        )
    _record(plugins, "team.delete", actor, team)
    db.session.delete(team)
    db.session.flush()


TEAM_ACTIONS = ("team.view", "team.edit", "team.delete", "team.manage_members", "namespace.create")


def team_permissions(user: User | None, team: Team, *, settings: AccessSettings) -> dict:
    """What ``user`` may do with ``team`` (``namespace.create``: add a namespace to it)."""
    return allowed_actions(
        user, TEAM_ACTIONS, team=team_facts(team), role=role_of(team, user), settings=settings
    )


def members(team: Team) -> list[TeamMember]:
    """The team's members, owners first, then by username."""
    return list(
        db.session.scalars(
            sa.select(TeamMember)
            .join(User, User.id == TeamMember.user_id)
            .options(contains_eager(TeamMember.user))
            .where(TeamMember.team_id == team.id)
            .order_by(TeamMember.role.desc(), User.username)
        )
    )


def owned_namespaces(team: Team) -> list[Namespace]:
    """The namespaces the team owns, by name."""
    return list(
        db.session.scalars(
            sa.select(Namespace).where(Namespace.team_id == team.id).order_by(Namespace.name)
        )
    )


def may_create_team(user: User | None, *, settings: AccessSettings) -> bool:
    """Whether ``user`` may create teams (the Teams page shows the form only then)."""
    return allowed_actions(user, ("team.create",), settings=settings)["team.create"]


def get_member(team: Team, member_id: int) -> TeamMember:
    """The membership row ``member_id`` of ``team``, or NotFound."""
    member = db.session.get(TeamMember, member_id)
    if member is None or member.team_id != team.id:
        raise NotFound(f"team {team.name!r} has no member with id {member_id}")
    return member


def get_team_by_name(name: str) -> Team:
    """The team with exactly this name, or NotFound (callers check ``team.view``)."""
    team = db.session.scalar(sa.select(Team).where(Team.name == name))
    if team is None:
        raise NotFound(f"no team named {name!r}", field="team")
    return team
