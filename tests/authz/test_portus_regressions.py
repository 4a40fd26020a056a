"""Regressions for Portus bugs we must not replicate (portus.md §6 "Do not replicate")."""

import pytest

from app.authz import (
    AccessSettings,
    Actor,
    namespace_rights,
    registry_actions,
    repository_actions,
    scope_actions,
)
from app.models.enums import PushPolicy, Role

from .facts import NAMESPACES, ROLES, actor

DEFAULT = AccessSettings()
PRIVATE = NAMESPACES["team-private"]


# --- Wildcard scope bypass (portus.md §3.7): "*,push" must not smuggle push through. ------


@pytest.mark.parametrize(
    ("column", "namespace_key", "requested", "expected"),
    [
        ("anonymous", "team-private", ["*", "push"], ()),
        ("anonymous", "team-private", ["*", "pull"], ()),
        ("anonymous", "team-private", ["*", "pull", "push", "delete"], ()),
        ("anonymous", "team-private", ["push", "*"], ()),
        ("anonymous", "team-public", ["*", "push"], ("pull",)),
        ("anonymous", "team-public", ["*", "delete"], ("pull",)),
        ("non-member", "team-private", ["*", "pull"], ()),
        ("non-member", "team-protected", ["*", "push"], ("pull",)),
        ("viewer", "team-private", ["*", "push"], ("pull",)),
        ("viewer", "team-private", ["*", "delete"], ("pull",)),
        ("contributor", "team-private", ["*", "delete"], ("pull", "push")),
        ("non-member", "personal-private", ["*", "push", "pull"], ()),
        ("non-member", "global-public", ["*", "push"], ("pull",)),
    ],
)
def test_wildcard_never_adds_unheld_actions(column, namespace_key, requested, expected):
    """Every action after a "*" is checked on its own; nothing unheld survives."""
    namespace = NAMESPACES[namespace_key]
    granted = repository_actions(actor(column), namespace, ROLES[column], requested, DEFAULT)
    assert granted == expected


def test_wildcard_bypass_through_scope_actions():
    """The same holds through the dispatcher the token service calls."""
    granted = scope_actions(
        actor("anonymous"), "repository", "devs/x", PRIVATE, None, ["*", "push"], DEFAULT
    )
    assert granted == ()


# --- Admins were granted push into namespaces that do not exist (§2.1 last row, §6). -----


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (["pull", "push"], ("pull",)),
        (["push"], ()),
        (["delete"], ()),
        (["*"], ("pull",)),
        (["*", "push"], ("pull",)),
    ],
)
def test_admin_cannot_push_or_delete_in_missing_namespace(requested, expected):
    """Such pushes vanished from the UI in Portus; here they are refused up front."""
    assert repository_actions(actor("admin"), None, None, requested, DEFAULT) == expected


@pytest.mark.parametrize("policy", list(PushPolicy))
def test_missing_namespace_under_every_policy(policy):
    """No push policy brings push back for a missing namespace."""
    rights = namespace_rights(actor("admin"), None, Role.OWNER, AccessSettings(push_policy=policy))
    assert rights == frozenset({"pull"})


# --- An unknown push policy silently denied everyone, admins included (§1.16, §6). ------


@pytest.mark.parametrize("value", ["allow-everyone", "Allow-Teams", "", None, 3, "admin_only"])
def test_unknown_push_policy_is_rejected_with_a_clear_error(value):
    """The error names the setting and every allowed value, at startup not at push time."""
    with pytest.raises(ValueError) as error:
        AccessSettings.from_mapping({"push_policy": value})
    message = str(error.value)
    assert "push_policy" in message
    assert all(allowed in message for allowed in ("allow-teams", "allow-personal", "admin-only"))


def test_unknown_push_policy_rejected_by_the_constructor_too():
    """Building the settings directly cannot bypass the validation."""
    with pytest.raises(ValueError, match="push_policy"):
        AccessSettings(push_policy="allow-everyone")


@pytest.mark.parametrize("value", ["allow-teams", "allow-personal", "admin-only"])
def test_known_push_policy_strings_are_accepted(value):
    """Config files carry strings; they become PushPolicy members."""
    settings = AccessSettings.from_mapping({"push_policy": value})
    assert settings.push_policy is PushPolicy(value)


@pytest.mark.parametrize("value", ["false", "true", 0, 1, None])
def test_switches_must_be_booleans(value):
    """A string "false" is truthy; refusing non-bools keeps it from enabling a switch."""
    with pytest.raises(ValueError, match=r"delete_enabled.*true or false"):
        AccessSettings.from_mapping({"delete_enabled": value})


def test_unknown_setting_names_are_rejected():
    """A misspelt switch would otherwise be ignored and leave the default in force."""
    with pytest.raises(ValueError, match=r"delete_contributor.*known: .*delete_contributors"):
        AccessSettings.from_mapping({"delete_contributor": True})


def test_from_mapping_fills_defaults():
    """Only the given settings change."""
    settings = AccessSettings.from_mapping({"delete_contributors": True})
    assert settings == AccessSettings(delete_contributors=True)


# --- Catalog for admins only; other registry scopes passed through unfiltered (§3.8). ---


@pytest.mark.parametrize(
    ("who", "name", "requested", "expected"),
    [
        ("admin", "catalog", ["*"], ("*",)),
        ("admin", "catalog", ["pull"], ()),
        ("admin", "catalog", ["pull", "push"], ()),
        ("admin", "catalog", ["*", "pull"], ("*",)),
        ("admin", "other", ["*"], ()),
        ("admin", "other", ["pull"], ()),
        ("admin", "", ["*"], ()),
        ("owner", "catalog", ["*"], ()),
        ("owner", "catalog", ["pull"], ()),
        ("non-member", "catalog", ["*"], ()),
        ("anonymous", "catalog", ["*"], ()),
        ("anonymous", "other", ["*"], ()),
        ("read-only admin", "catalog", ["*"], ()),
    ],
)
def test_registry_scopes(who, name, requested, expected):
    """Only admins list the catalog, only with "*"; nothing else is ever granted."""
    subject = Actor(1, "root", is_admin=True, read_only=True) if who == "read-only admin" else None
    granted = registry_actions(subject or actor(who), name, requested, DEFAULT)
    assert granted == expected


def test_actor_cannot_be_anonymous_and_admin():
    """An anonymous admin is a contradiction; refuse to build one."""
    with pytest.raises(ValueError, match="anonymous"):
        Actor(None, is_admin=True)
    with pytest.raises(ValueError, match="anonymous"):
        Actor(None, read_only=True)
