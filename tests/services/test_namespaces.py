"""Namespaces service: creation, visibility, description, transfer, and who may do them."""

import pytest
import sqlalchemy as sa

from app.authz.settings import AccessSettings
from app.extensions import db
from app.models import GLOBAL_NAMESPACE_NAME, Activity, Namespace
from app.models.enums import NamespaceKind, PushPolicy, Visibility
from app.services import namespaces
from app.services.accounts import personal_team
from app.services.errors import Conflict, Forbidden, Invalid
from tests.factories import make_namespace, make_registry, make_role_team, make_team, make_user

SETTINGS = AccessSettings()
NON_OWNERS = ["contributor", "viewer", "outsider"]


@pytest.fixture
def users(plugins):
    """An admin, an outsider and the three members of a role team."""
    names = ("admin", "owner", "contributor", "viewer", "outsider")
    return {name: make_user(plugins, name, admin=name == "admin") for name in names}


@pytest.fixture
def registry(plugins, users):
    """A registry with its global namespace and everyone's personal namespace."""
    return make_registry(plugins)


@pytest.fixture
def team(users):
    """A visible team with an owner, a contributor and a viewer."""
    return make_role_team("crew", users)


@pytest.fixture
def namespace(registry, team):
    """A private team namespace of ``team``."""
    return make_namespace(registry, team, "crewns")


def last_activity(key):
    """The newest activity recorded with ``key``."""
    return db.session.scalar(
        sa.select(Activity).where(Activity.key == key).order_by(Activity.id.desc())
    )


def global_namespace(registry):
    """The registry's global namespace."""
    return db.session.scalar(
        sa.select(Namespace).where(
            Namespace.registry_id == registry.id, Namespace.name == GLOBAL_NAMESPACE_NAME
        )
    )


def test_create_is_private_and_records(plugins, users, registry, team):
    created = namespaces.create_namespace(
        plugins, users["contributor"], registry, team, "apps", "Our apps", settings=SETTINGS
    )
    assert (created.kind, created.visibility, created.team_id) == (
        NamespaceKind.TEAM,
        Visibility.PRIVATE,
        team.id,
    )
    assert created.description == "Our apps"
    activity = last_activity("namespace.create")
    assert (activity.target_type, activity.target_id, activity.target_name) == (
        "namespace",
        created.id,
        "apps",
    )
    assert (activity.namespace_id, activity.team_id) == (created.id, team.id)


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_create_refused_without_push(plugins, users, registry, team, who):
    with pytest.raises(Forbidden):
        namespaces.create_namespace(plugins, users[who], registry, team, "apps", settings=SETTINGS)


def test_create_refused_when_switched_off_but_admin_allowed(plugins, users, registry, team):
    off = AccessSettings(create_namespace=False)
    with pytest.raises(Forbidden):
        namespaces.create_namespace(plugins, users["owner"], registry, team, "apps", settings=off)
    created = namespaces.create_namespace(
        plugins, users["admin"], registry, team, "apps", settings=off
    )
    assert created.team_id == team.id


def test_create_in_hidden_team_refused(plugins, users, registry):
    hidden = personal_team(users["owner"])
    for actor in (users["owner"], users["admin"]):
        with pytest.raises(Forbidden, match="internal"):
            namespaces.create_namespace(plugins, actor, registry, hidden, "mine", settings=SETTINGS)


def test_create_duplicate_conflicts_per_registry(plugins, users, registry, team, namespace):
    with pytest.raises(Conflict):
        namespaces.create_namespace(
            plugins, users["owner"], registry, team, "crewns", settings=SETTINGS
        )
    other = make_registry(plugins, "second", "second.test:5000")
    created = namespaces.create_namespace(
        plugins, users["owner"], other, team, "crewns", settings=SETTINGS
    )
    assert created.registry_id == other.id


@pytest.mark.parametrize(
    "bad", ["", "Upper", "a/b", "-lead", "trail-", "a..b", GLOBAL_NAMESPACE_NAME]
)
def test_create_invalid_names(plugins, users, registry, team, bad):
    with pytest.raises(Invalid):
        namespaces.create_namespace(plugins, users["owner"], registry, team, bad, settings=SETTINGS)


def test_namespace_facts(namespace, team):
    facts = namespaces.namespace_facts(namespace)
    assert (
        facts.id,
        facts.name,
        facts.kind,
        facts.visibility,
        facts.team_id,
        facts.team_hidden,
    ) == (
        namespace.id,
        "crewns",
        NamespaceKind.TEAM,
        Visibility.PRIVATE,
        team.id,
        False,
    )


def test_owner_changes_visibility_and_records(plugins, users, namespace):
    namespaces.change_visibility(plugins, users["owner"], namespace, "public", settings=SETTINGS)
    assert namespace.visibility is Visibility.PUBLIC
    activity = last_activity("namespace.change_visibility")
    assert (activity.target_id, activity.namespace_id) == (namespace.id, namespace.id)
    assert activity.team_id == namespace.team_id
    assert activity.parameters == {"old_visibility": "private", "visibility": "public"}


@pytest.mark.parametrize("who", NON_OWNERS)
def test_non_owners_cannot_change_visibility(plugins, users, namespace, who):
    with pytest.raises(Forbidden):
        namespaces.change_visibility(
            plugins, users[who], namespace, Visibility.PUBLIC, settings=SETTINGS
        )
    assert namespace.visibility is Visibility.PRIVATE


def test_unknown_visibility_is_invalid(plugins, users, namespace):
    with pytest.raises(Invalid):
        namespaces.change_visibility(
            plugins, users["owner"], namespace, "secret", settings=SETTINGS
        )


def test_global_namespace_never_private(plugins, users, registry):
    glob = global_namespace(registry)
    with pytest.raises(Invalid, match="cannot be private"):
        namespaces.change_visibility(
            plugins, users["admin"], glob, Visibility.PRIVATE, settings=SETTINGS
        )
    namespaces.change_visibility(
        plugins, users["admin"], glob, Visibility.PROTECTED, settings=SETTINGS
    )
    assert glob.visibility is Visibility.PROTECTED


def test_unchanged_visibility_records_nothing(plugins, users, namespace):
    namespaces.change_visibility(plugins, users["owner"], namespace, "private", settings=SETTINGS)
    assert last_activity("namespace.change_visibility") is None


def test_owner_changes_description_and_records(plugins, users, namespace):
    namespaces.change_description(
        plugins, users["owner"], namespace, "  Hello  ", settings=SETTINGS
    )
    assert namespace.description == "Hello"
    activity = last_activity("namespace.change_description")
    assert (activity.target_id, activity.namespace_id, activity.team_id) == (
        namespace.id,
        namespace.id,
        namespace.team_id,
    )


@pytest.mark.parametrize("who", NON_OWNERS)
def test_non_owners_cannot_change_description(plugins, users, namespace, who):
    with pytest.raises(Forbidden):
        namespaces.change_description(plugins, users[who], namespace, "x", settings=SETTINGS)


def test_admin_only_push_policy_stops_owner_editing(plugins, users, namespace):
    strict = AccessSettings(push_policy=PushPolicy.ADMIN_ONLY)
    with pytest.raises(Forbidden):
        namespaces.change_description(plugins, users["owner"], namespace, "x", settings=strict)
    namespaces.change_description(plugins, users["admin"], namespace, "x", settings=strict)
    assert namespace.description == "x"


def test_owner_transfers_and_records(plugins, users, namespace, team):
    target = make_team("other")
    namespaces.transfer(plugins, users["owner"], namespace, target, settings=SETTINGS)
    assert namespace.team_id == target.id
    activity = last_activity("namespace.change_team")
    assert (activity.target_id, activity.namespace_id, activity.team_id) == (
        namespace.id,
        namespace.id,
        target.id,
    )
    assert activity.parameters == {"old_team": "crew", "team": "other"}


@pytest.mark.parametrize("who", NON_OWNERS)
def test_non_owners_cannot_transfer(plugins, users, namespace, team, who):
    target = make_team("other")
    with pytest.raises(Forbidden):
        namespaces.transfer(plugins, users[who], namespace, target, settings=SETTINGS)
    assert namespace.team_id == team.id


def test_transfer_needs_manage_namespace_unless_admin(plugins, users, namespace):
    off = AccessSettings(manage_namespace=False)
    target = make_team("other")
    with pytest.raises(Forbidden):
        namespaces.transfer(plugins, users["owner"], namespace, target, settings=off)
    namespaces.transfer(plugins, users["admin"], namespace, target, settings=off)
    assert namespace.team_id == target.id


def test_transfer_into_hidden_team_or_of_global_refused(plugins, users, registry, namespace):
    hidden = personal_team(users["owner"])
    with pytest.raises(Forbidden):
        namespaces.transfer(plugins, users["admin"], namespace, hidden, settings=SETTINGS)
    with pytest.raises(Forbidden):
        namespaces.transfer(
            plugins, users["admin"], global_namespace(registry), make_team("x"), settings=SETTINGS
        )
