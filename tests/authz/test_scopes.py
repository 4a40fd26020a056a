"""Token-scope filtering: which requested actions end up in the registry token."""

import pytest

from app.authz import AccessSettings, repository_actions, scope_actions
from app.models.enums import PushPolicy, Role

from .facts import NAMESPACES, ROLES, actor

DEFAULT = AccessSettings()

# (actor column, namespace, requested, expected) under the default settings.
REPOSITORY_CASES = [
    ("owner", "team-private", ["pull"], ("pull",)),
    ("owner", "team-private", ["push", "pull"], ("pull", "push")),
    ("owner", "team-private", ["delete"], ("delete",)),
    # skopeo delete asks "*": an owner holds everything, so "*" is granted as such.
    ("owner", "team-private", ["*"], ("*",)),
    ("admin", "team-private", ["*"], ("*",)),
    ("admin", "global-public", ["*"], ("*",)),
    # Without every right, "*" turns into the rights actually held.
    ("contributor", "team-private", ["*"], ("pull", "push")),
    ("viewer", "team-private", ["*"], ("pull",)),
    ("non-member", "team-public", ["*"], ("pull",)),
    ("non-member", "team-private", ["*"], ()),
    ("viewer", "team-private", ["push", "pull"], ("pull",)),
    ("viewer", "team-private", ["delete"], ()),
    ("contributor", "team-private", ["delete"], ()),
    ("anonymous", "team-public", ["pull", "push"], ("pull",)),
    # Unknown or differently spelled actions are dropped, duplicates merged.
    ("owner", "team-private", ["fork", "pull"], ("pull",)),
    ("owner", "team-private", ["PULL", "Push"], ()),
    ("owner", "team-private", ["pull", "pull"], ("pull",)),
    ("owner", "team-private", [], ()),
    # With every right held, "*" stands for all of them, whatever else was asked.
    ("owner", "team-private", ["*", "pull", "fork"], ("*",)),
]


@pytest.mark.parametrize(("column", "namespace_key", "requested", "expected"), REPOSITORY_CASES)
def test_repository_actions(column, namespace_key, requested, expected):
    """Each requested action is judged on its own against the actor's rights."""
    namespace = NAMESPACES[namespace_key]
    granted = repository_actions(actor(column), namespace, ROLES[column], requested, DEFAULT)
    assert granted == expected


def test_contributor_gets_wildcard_when_contributors_may_delete():
    """delete_contributors completes a contributor's rights, so "*" is granted."""
    settings = AccessSettings(delete_contributors=True)
    ns = NAMESPACES["team-private"]
    granted = repository_actions(actor("contributor"), ns, Role.CONTRIBUTOR, ["*"], settings)
    assert granted == ("*",)


def test_owner_without_push_gets_explicit_rights_for_wildcard():
    """Under admin-only an owner keeps pull and delete: skopeo delete still works."""
    settings = AccessSettings(push_policy=PushPolicy.ADMIN_ONLY)
    ns = NAMESPACES["team-private"]
    granted = repository_actions(actor("owner"), ns, Role.OWNER, ["*"], settings)
    assert granted == ("delete", "pull")


def test_requested_may_be_a_generator():
    """``requested`` is any iterable and is read once."""
    ns = NAMESPACES["team-private"]
    wanted = (action for action in ["pull", "push"])
    assert repository_actions(actor("owner"), ns, Role.OWNER, wanted, DEFAULT) == ("pull", "push")


@pytest.mark.parametrize(
    ("type_", "name", "namespace_key", "requested", "expected"),
    [
        ("repository", "devs/app", "team-private", ["pull", "push"], ("pull", "push")),
        ("registry", "catalog", "missing", ["*"], ()),  # the owner column is no admin
        ("repository(plugin)", "devs/app", "team-private", ["pull"], ()),
        ("blob", "devs/app", "team-private", ["pull"], ()),
        ("", "devs/app", "team-private", ["pull"], ()),
    ],
)
def test_scope_actions_dispatches_on_type(type_, name, namespace_key, requested, expected):
    """repository and registry scopes have handlers; any other type grants nothing."""
    namespace = NAMESPACES[namespace_key]
    granted = scope_actions(actor("owner"), type_, name, namespace, Role.OWNER, requested, DEFAULT)
    assert granted == expected


def test_scope_actions_registry_for_admin():
    """The catalog scope reaches ``registry_actions``."""
    granted = scope_actions(actor("admin"), "registry", "catalog", None, None, ["*"], DEFAULT)
    assert granted == ("*",)
