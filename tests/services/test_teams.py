"""Teams service: creation, members, roles, and who may change them."""

import pytest
import sqlalchemy as sa

from app.authz.settings import AccessSettings
from app.extensions import db
from app.models import Activity
from app.models.enums import Role
from app.services import teams
from app.services.accounts import personal_team
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from tests.factories import make_role_team, make_team, make_user

SETTINGS = AccessSettings()


@pytest.fixture
def users(plugins):
    """An admin, an outsider and the three members of a role team."""
    names = ("admin", "owner", "contributor", "viewer", "outsider", "newcomer")
    return {name: make_user(plugins, name, admin=name == "admin") for name in names}


@pytest.fixture
def team(users):
    """A visible team with an owner, a contributor and a viewer."""
    return make_role_team("crew", users)


def last_activity(key):
    """The newest activity recorded with ``key``."""
    return db.session.scalar(
        sa.select(Activity).where(Activity.key == key).order_by(Activity.id.desc())
    )


def test_create_team_makes_creator_owner_and_records(plugins, users):
    team = teams.create_team(plugins, users["outsider"], "builders", " Docs ", settings=SETTINGS)
    assert teams.role_of(team, users["outsider"]) is Role.OWNER
    assert team.description == "Docs"
    activity = last_activity("team.create")
    assert (activity.target_type, activity.target_id, activity.target_name) == (
        "team",
        team.id,
        "builders",
    )
    assert activity.team_id == team.id
    assert activity.actor_id == users["outsider"].id


def test_create_team_refused_when_switched_off_for_users_not_admins(plugins, users):
    off = AccessSettings(create_team=False)
    with pytest.raises(Forbidden):
        teams.create_team(plugins, users["outsider"], "builders", settings=off)
    team = teams.create_team(plugins, users["admin"], "builders", settings=off)
    assert teams.role_of(team, users["admin"]) is Role.OWNER


def test_only_admin_may_name_another_owner(plugins, users):
    with pytest.raises(Forbidden):
        teams.create_team(
            plugins, users["outsider"], "x1", settings=SETTINGS, owner=users["viewer"]
        )
    team = teams.create_team(
        plugins, users["admin"], "x2", settings=SETTINGS, owner=users["viewer"]
    )
    assert teams.role_of(team, users["viewer"]) is Role.OWNER
    assert teams.role_of(team, users["admin"]) is None


def test_create_team_duplicate_and_invalid_names(plugins, users, team):
    with pytest.raises(Conflict):
        teams.create_team(plugins, users["outsider"], "crew", settings=SETTINGS)
    for bad in ("", "  ", "-dash", "a/b", "x" * 101):
        with pytest.raises(Invalid):
            teams.create_team(plugins, users["outsider"], bad, settings=SETTINGS)


def test_team_facts(team):
    facts = teams.team_facts(team)
    assert (facts.id, facts.name, facts.hidden) == (team.id, "crew", False)


def test_owner_adds_member_and_records(plugins, users, team):
    member = teams.add_member(
        plugins, users["owner"], team, users["newcomer"], "contributor", settings=SETTINGS
    )
    assert member.role is Role.CONTRIBUTOR
    assert teams.role_of(team, users["newcomer"]) is Role.CONTRIBUTOR
    activity = last_activity("team.add_member")
    assert (activity.target_type, activity.target_id, activity.team_id) == (
        "team",
        team.id,
        team.id,
    )
    assert activity.parameters == {"member": "newcomer", "role": "contributor"}


@pytest.mark.parametrize("who", ["contributor", "viewer", "outsider"])
def test_non_owners_cannot_manage_members(plugins, users, team, who):
    actor = users[who]
    with pytest.raises(Forbidden):
        teams.add_member(plugins, actor, team, users["newcomer"], Role.VIEWER, settings=SETTINGS)
    with pytest.raises(Forbidden):
        teams.change_role(plugins, actor, team, users["viewer"], Role.OWNER, settings=SETTINGS)
    with pytest.raises(Forbidden):
        teams.remove_member(plugins, actor, team, users["viewer"], settings=SETTINGS)


def test_admin_manages_members_even_with_manage_team_off(plugins, users, team):
    off = AccessSettings(manage_team=False)
    teams.add_member(plugins, users["admin"], team, users["newcomer"], Role.VIEWER, settings=off)
    teams.change_role(plugins, users["admin"], team, users["newcomer"], "owner", settings=off)
    teams.remove_member(plugins, users["admin"], team, users["newcomer"], settings=off)
    assert teams.role_of(team, users["newcomer"]) is None


def test_admin_added_becomes_owner(plugins, users, team):
    member = teams.add_member(
        plugins, users["owner"], team, users["admin"], Role.VIEWER, settings=SETTINGS
    )
    assert member.role is Role.OWNER


def test_admin_owner_cannot_be_demoted(plugins, users, team):
    teams.add_member(plugins, users["owner"], team, users["admin"], Role.VIEWER, settings=SETTINGS)
    with pytest.raises(Invalid):
        teams.change_role(
            plugins, users["owner"], team, users["admin"], Role.VIEWER, settings=SETTINGS
        )


def test_add_existing_member_conflicts(plugins, users, team):
    with pytest.raises(Conflict):
        teams.add_member(
            plugins, users["owner"], team, users["viewer"], Role.VIEWER, settings=SETTINGS
        )


def test_add_unknown_role_is_invalid(plugins, users, team):
    with pytest.raises(Invalid):
        teams.add_member(
            plugins, users["owner"], team, users["newcomer"], "boss", settings=SETTINGS
        )


def test_hidden_team_refuses_members_even_for_admins(plugins, users):
    hidden = personal_team(users["outsider"])
    for actor in (users["admin"], users["outsider"]):
        with pytest.raises(Forbidden, match="internal"):
            teams.add_member(
                plugins, actor, hidden, users["newcomer"], Role.VIEWER, settings=SETTINGS
            )


def test_change_role_records(plugins, users, team):
    teams.change_role(
        plugins, users["owner"], team, users["viewer"], Role.CONTRIBUTOR, settings=SETTINGS
    )
    assert teams.role_of(team, users["viewer"]) is Role.CONTRIBUTOR
    activity = last_activity("team.change_member_role")
    assert activity.team_id == team.id
    assert activity.parameters == {"member": "viewer", "old_role": "viewer", "role": "contributor"}


def test_change_role_of_non_member_not_found(plugins, users, team):
    with pytest.raises(NotFound):
        teams.change_role(
            plugins, users["owner"], team, users["outsider"], Role.VIEWER, settings=SETTINGS
        )


def test_last_owner_cannot_be_demoted_or_removed(plugins, users, team):
    with pytest.raises(Invalid):
        teams.change_role(
            plugins, users["owner"], team, users["owner"], Role.VIEWER, settings=SETTINGS
        )
    with pytest.raises(Invalid):
        teams.remove_member(plugins, users["owner"], team, users["owner"], settings=SETTINGS)
    assert teams.role_of(team, users["owner"]) is Role.OWNER


def test_second_owner_lets_first_step_down(plugins, users, team):
    teams.change_role(
        plugins, users["owner"], team, users["contributor"], Role.OWNER, settings=SETTINGS
    )
    teams.change_role(plugins, users["owner"], team, users["owner"], Role.VIEWER, settings=SETTINGS)
    assert teams.role_of(team, users["owner"]) is Role.VIEWER


def test_remove_member_records(plugins, users, team):
    teams.remove_member(plugins, users["owner"], team, users["viewer"], settings=SETTINGS)
    db.session.commit()
    assert teams.role_of(team, users["viewer"]) is None
    assert [m.user.username for m in team.members] == ["owner", "contributor"]
    activity = last_activity("team.remove_member")
    assert (activity.target_id, activity.team_id) == (team.id, team.id)
    assert activity.parameters == {"member": "viewer"}


def test_role_of_outsider_and_anonymous(users):
    team = make_team("solo", members=[(users["owner"], Role.OWNER)])
    assert teams.role_of(team, users["outsider"]) is None
    assert teams.role_of(team, None) is None
