"""``/api/v1/teams``: teams, their members and their namespaces."""

from __future__ import annotations

import sqlalchemy as sa
from flask import jsonify, request

from app.blueprints.api import entities
from app.blueprints.api.core import (
    ID,
    ApiError,
    access_settings,
    body,
    bp,
    caller,
    created,
    identifier,
    no_content,
    paginated,
    plugins,
    saved,
    sorted_by,
    text,
)
from app.models import Namespace, Team, TeamMember
from app.services import accounts, browse, namespaces, teams

TEAM_SORT = {"id": Team.id, "name": Team.name, "created_at": Team.created_at}


def visible_team(team_id: int) -> Team:
    """The team, if the caller may view it (403 otherwise, 404 when it does not exist)."""
    team = teams.get_team(team_id)
    teams.require_on_team(
        "team.view", caller(), team, "you are not a member of this team", settings=access_settings()
    )
    return team


def _counted(team: Team) -> dict:
    """The Team entity with its member and namespace counts."""
    return entities.team(team, len(teams.members(team)), len(teams.owned_namespaces(team)))


@bp.get("/v1/teams")
def list_teams():
    """Teams the caller may view (every visible team for an administrator)."""
    select = sorted_by(browse.teams(caller()), TEAM_SORT, "id")
    return paginated(select, entities.team_row, scalars=False)


@bp.get(f"/v1/teams/<{ID}:team_id>")
def get_team(team_id: int):
    """One team."""
    return jsonify(_counted(visible_team(team_id)))


@bp.post("/v1/teams")
def create_team():
    """Create a team owned by the caller, or by ``owner_id`` (administrators only)."""
    data = body("team")
    owner_id = identifier(data, "owner_id")
    team = teams.create_team(
        plugins(),
        caller(),
        text(data, "name", required=True, maximum=255) or "",
        text(data, "description"),
        settings=access_settings(),
        owner=accounts.get_user_by_id(owner_id) if owner_id else None,
    )
    return created(_counted(team))


@bp.put(f"/v1/teams/<{ID}:team_id>")
def update_team(team_id: int):
    """Rename a team or change its description."""
    data = body("team")
    team = teams.edit_team(
        plugins(),
        caller(),
        visible_team(team_id),
        name=text(data, "name", maximum=255),
        description=text(data, "description"),
        settings=access_settings(),
    )
    return saved(_counted(team))


@bp.delete(f"/v1/teams/<{ID}:team_id>")
def delete_team(team_id: int):
    """Delete a team; ``?new_team=ID`` first moves its namespaces to that team (Portus's
    migration), otherwise the team must own no namespace."""
    team = visible_team(team_id)
    target_id = identifier(request.args, "new_team")
    if target_id is not None:
        target = visible_team(target_id)
        for namespace in teams.owned_namespaces(team):
            namespaces.transfer(plugins(), caller(), namespace, target, settings=access_settings())
    teams.delete_team(plugins(), caller(), team, settings=access_settings())
    return no_content()


@bp.get(f"/v1/teams/<{ID}:team_id>/namespaces")
def team_namespaces(team_id: int):
    """The namespaces a team owns."""
    team = visible_team(team_id)
    select = sa.select(Namespace).where(Namespace.team_id == team.id).order_by(Namespace.name)
    return paginated(select, entities.namespace)


@bp.get(f"/v1/teams/<{ID}:team_id>/members")
def list_members(team_id: int):
    """A team's members with their roles, owners first."""
    return jsonify([entities.member(m) for m in teams.members(visible_team(team_id))])


def _user_reference(data) -> str:
    """The ``user`` parameter: a username, e-mail address or id."""
    reference = text(data, "user", maximum=255) or text(data, "username", maximum=255)
    if not reference:
        raise ApiError(400, "user is missing", {"user": ["is missing"]})
    return reference


@bp.post(f"/v1/teams/<{ID}:team_id>/members")
def add_member(team_id: int):
    """Add a user with a role (viewer, contributor or owner; admins become owners)."""
    data = body("member")
    member = teams.add_member(
        plugins(),
        caller(),
        visible_team(team_id),
        accounts.find_user_by_reference(_user_reference(data)),
        text(data, "role", maximum=32) or "viewer",
        settings=access_settings(),
    )
    return created(entities.member(member))


def _member(team_id: int, member_id: int) -> tuple[Team, TeamMember]:
    """The visible team and one of its memberships."""
    team = visible_team(team_id)
    return team, teams.get_member(team, member_id)


@bp.put(f"/v1/teams/<{ID}:team_id>/members/<{ID}:member_id>")
def update_member(team_id: int, member_id: int):
    """Give a member another role (the last owner stays owner)."""
    team, member = _member(team_id, member_id)
    role = text(body("member"), "role", required=True, maximum=32) or ""
    member = teams.change_role(
        plugins(), caller(), team, member.user, role, settings=access_settings()
    )
    return saved(entities.member(member))


@bp.delete(f"/v1/teams/<{ID}:team_id>/members/<{ID}:member_id>")
def delete_member(team_id: int, member_id: int):
    """Take a member out of a team (not the last owner)."""
    team, member = _member(team_id, member_id)
    teams.remove_member(plugins(), caller(), team, member.user, settings=access_settings())
    return no_content()
