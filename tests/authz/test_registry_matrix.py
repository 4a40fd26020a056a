"""The registry permission matrix (portus.md §2.1), cell by cell, written out as data.

Each table below IS the specification: one row per namespace, one column per actor kind
(see ``facts.COLUMNS``). ``NA`` marks combinations that cannot exist (e.g. a viewer of a
personal namespace, whose hidden team never gets members) and are not tested.
"""

import pytest

from app.authz import AccessSettings, namespace_rights
from app.models.enums import PushPolicy, Role

from .facts import COLUMNS, NAMESPACES, ROLES, actor

NONE = ""
PULL = "pull"
PULL_PUSH = "pull push"
PULL_DELETE = "pull delete"
ALL = "pull push delete"
NA = None

# Default settings: allow-teams, delete enabled, contributors may not delete.
DEFAULT = {
    #                      anonymous non-member viewer contributor owner admin
    "team-private": (NONE, NONE, PULL, PULL_PUSH, ALL, ALL),
    "team-protected": (NONE, PULL, PULL, PULL_PUSH, ALL, ALL),
    "team-public": (PULL, PULL, PULL, PULL_PUSH, ALL, ALL),
    "personal-private": (NONE, NONE, NA, NA, ALL, ALL),
    "personal-protected": (NONE, PULL, NA, NA, ALL, ALL),
    "personal-public": (PULL, PULL, NA, NA, ALL, ALL),
    "global-public": (PULL, PULL, NA, NA, NA, ALL),
    "global-protected": (NONE, PULL, NA, NA, NA, ALL),
    # Portus pull step 5: any logged-in user may pull from the global namespace.
    "global-private": (NONE, PULL, NA, NA, NA, ALL),
    "orphan": (NONE, NONE, NA, NA, NA, ALL),
    # Deliberate difference: Portus granted admins pull AND push here (portus.md §2.1, §6).
    "missing": (NONE, NONE, NONE, NONE, NONE, PULL),
}

# allow-personal: team owners and contributors lose push; users push only to their own.
ALLOW_PERSONAL = {
    "team-private": (NONE, NONE, PULL, PULL, PULL_DELETE, ALL),
    "team-protected": (NONE, PULL, PULL, PULL, PULL_DELETE, ALL),
    "team-public": (PULL, PULL, PULL, PULL, PULL_DELETE, ALL),
    "personal-private": (NONE, NONE, NA, NA, ALL, ALL),
    "personal-protected": (NONE, PULL, NA, NA, ALL, ALL),
    "personal-public": (PULL, PULL, NA, NA, ALL, ALL),
    "global-public": (PULL, PULL, NA, NA, NA, ALL),
    "global-protected": (NONE, PULL, NA, NA, NA, ALL),
    "global-private": (NONE, PULL, NA, NA, NA, ALL),
    "orphan": (NONE, NONE, NA, NA, NA, ALL),
    "missing": (NONE, NONE, NONE, NONE, NONE, PULL),
}

# admin-only: nobody but admins pushes, not even into a personal namespace.
ADMIN_ONLY = {
    "team-private": (NONE, NONE, PULL, PULL, PULL_DELETE, ALL),
    "team-protected": (NONE, PULL, PULL, PULL, PULL_DELETE, ALL),
    "team-public": (PULL, PULL, PULL, PULL, PULL_DELETE, ALL),
    "personal-private": (NONE, NONE, NA, NA, PULL_DELETE, ALL),
    "personal-protected": (NONE, PULL, NA, NA, PULL_DELETE, ALL),
    "personal-public": (PULL, PULL, NA, NA, PULL_DELETE, ALL),
    "global-public": (PULL, PULL, NA, NA, NA, ALL),
    "global-protected": (NONE, PULL, NA, NA, NA, ALL),
    "global-private": (NONE, PULL, NA, NA, NA, ALL),
    "orphan": (NONE, NONE, NA, NA, NA, ALL),
    "missing": (NONE, NONE, NONE, NONE, NONE, PULL),
}

# delete.enabled=false: nobody deletes, admins included.
DELETE_DISABLED = {
    "team-private": (NONE, NONE, PULL, PULL_PUSH, PULL_PUSH, PULL_PUSH),
    "team-protected": (NONE, PULL, PULL, PULL_PUSH, PULL_PUSH, PULL_PUSH),
    "team-public": (PULL, PULL, PULL, PULL_PUSH, PULL_PUSH, PULL_PUSH),
    "personal-private": (NONE, NONE, NA, NA, PULL_PUSH, PULL_PUSH),
    "personal-protected": (NONE, PULL, NA, NA, PULL_PUSH, PULL_PUSH),
    "personal-public": (PULL, PULL, NA, NA, PULL_PUSH, PULL_PUSH),
    "global-public": (PULL, PULL, NA, NA, NA, PULL_PUSH),
    "global-protected": (NONE, PULL, NA, NA, NA, PULL_PUSH),
    "global-private": (NONE, PULL, NA, NA, NA, PULL_PUSH),
    "orphan": (NONE, NONE, NA, NA, NA, PULL_PUSH),
    "missing": (NONE, NONE, NONE, NONE, NONE, PULL),
}

# delete.contributors=true: contributors delete too.
DELETE_CONTRIBUTORS = {
    "team-private": (NONE, NONE, PULL, ALL, ALL, ALL),
    "team-protected": (NONE, PULL, PULL, ALL, ALL, ALL),
    "team-public": (PULL, PULL, PULL, ALL, ALL, ALL),
    "personal-private": (NONE, NONE, NA, NA, ALL, ALL),
    "personal-protected": (NONE, PULL, NA, NA, ALL, ALL),
    "personal-public": (PULL, PULL, NA, NA, ALL, ALL),
    "global-public": (PULL, PULL, NA, NA, NA, ALL),
    "global-protected": (NONE, PULL, NA, NA, NA, ALL),
    "global-private": (NONE, PULL, NA, NA, NA, ALL),
    "orphan": (NONE, NONE, NA, NA, NA, ALL),
    "missing": (NONE, NONE, NONE, NONE, NONE, PULL),
}

# allow-personal with delete.contributors: a contributor deletes but cannot push.
ALLOW_PERSONAL_DELETE_CONTRIBUTORS = {
    "team-private": (NONE, NONE, PULL, PULL_DELETE, PULL_DELETE, ALL),
    "team-protected": (NONE, PULL, PULL, PULL_DELETE, PULL_DELETE, ALL),
    "team-public": (PULL, PULL, PULL, PULL_DELETE, PULL_DELETE, ALL),
    "personal-private": (NONE, NONE, NA, NA, ALL, ALL),
    "personal-protected": (NONE, PULL, NA, NA, ALL, ALL),
    "personal-public": (PULL, PULL, NA, NA, ALL, ALL),
    "global-public": (PULL, PULL, NA, NA, NA, ALL),
    "global-protected": (NONE, PULL, NA, NA, NA, ALL),
    "global-private": (NONE, PULL, NA, NA, NA, ALL),
    "orphan": (NONE, NONE, NA, NA, NA, ALL),
    "missing": (NONE, NONE, NONE, NONE, NONE, PULL),
}

# Every actor authenticated with a read-only token (default settings): pull only.
# Anonymous callers have no token, so that column does not exist here.
READ_ONLY = {
    "team-private": (NA, NONE, PULL, PULL, PULL, PULL),
    "team-protected": (NA, PULL, PULL, PULL, PULL, PULL),
    "team-public": (NA, PULL, PULL, PULL, PULL, PULL),
    "personal-private": (NA, NONE, NA, NA, PULL, PULL),
    "personal-protected": (NA, PULL, NA, NA, PULL, PULL),
    "personal-public": (NA, PULL, NA, NA, PULL, PULL),
    "global-public": (NA, PULL, NA, NA, NA, PULL),
    "global-protected": (NA, PULL, NA, NA, NA, PULL),
    "global-private": (NA, PULL, NA, NA, NA, PULL),
    "orphan": (NA, NONE, NA, NA, NA, PULL),
    "missing": (NA, NONE, NONE, NONE, NONE, PULL),
}

# name: (settings, read-only actors?, table)
TABLES = {
    "default": (AccessSettings(), False, DEFAULT),
    "allow-personal": (
        AccessSettings(push_policy=PushPolicy.ALLOW_PERSONAL),
        False,
        ALLOW_PERSONAL,
    ),
    "admin-only": (AccessSettings(push_policy=PushPolicy.ADMIN_ONLY), False, ADMIN_ONLY),
    "delete-disabled": (AccessSettings(delete_enabled=False), False, DELETE_DISABLED),
    "delete-contributors": (AccessSettings(delete_contributors=True), False, DELETE_CONTRIBUTORS),
    "allow-personal+delete-contributors": (
        AccessSettings(push_policy=PushPolicy.ALLOW_PERSONAL, delete_contributors=True),
        False,
        ALLOW_PERSONAL_DELETE_CONTRIBUTORS,
    ),
    "read-only": (AccessSettings(), True, READ_ONLY),
}


def _cells():
    for table_name, (settings, read_only, table) in TABLES.items():
        for namespace_key, row in table.items():
            for column, expected in zip(COLUMNS, row, strict=True):
                if expected is not NA:
                    cell_id = f"{table_name}/{namespace_key}/{column}"
                    yield pytest.param(
                        settings, read_only, namespace_key, column, expected, id=cell_id
                    )


CELLS = list(_cells())


@pytest.mark.parametrize(("settings", "read_only", "namespace_key", "column", "expected"), CELLS)
def test_matrix_cell(settings, read_only, namespace_key, column, expected):
    """One cell of the matrix: exactly these rights, no more, no fewer."""
    rights = namespace_rights(
        actor(column, read_only), NAMESPACES[namespace_key], ROLES[column], settings
    )
    assert rights == frozenset(expected.split())


@pytest.mark.parametrize("table_name", TABLES)
def test_every_table_covers_every_namespace(table_name):
    """No table may silently skip a namespace kind or visibility."""
    assert list(TABLES[table_name][2]) == list(NAMESPACES)


def test_matrix_size():
    """Guard against a table shrinking by accident (the count is in the report)."""
    assert len(CELLS) == 325


@pytest.mark.parametrize("namespace_key", ["global-public", "global-protected", "orphan"])
def test_admin_rights_do_not_depend_on_global_team_ownership(namespace_key):
    """Admins own the global team in Portus; we give the same rights from the flag alone."""
    namespace = NAMESPACES[namespace_key]
    as_owner = namespace_rights(actor("admin"), namespace, Role.OWNER, AccessSettings())
    assert as_owner == namespace_rights(actor("admin"), namespace, None, AccessSettings())


@pytest.mark.parametrize("role", list(Role))
def test_anonymous_role_is_ignored(role):
    """A role passed for an anonymous actor (a caller bug) grants nothing."""
    rights = namespace_rights(
        actor("anonymous"), NAMESPACES["team-private"], role, AccessSettings()
    )
    assert rights == frozenset()


@pytest.mark.parametrize("role", list(Role))
def test_non_owner_role_on_personal_namespace_cannot_push_under_allow_personal(role):
    """allow-personal recognises "your own namespace" as personal kind + OWNER role."""
    settings = AccessSettings(push_policy=PushPolicy.ALLOW_PERSONAL)
    rights = namespace_rights(actor("owner"), NAMESPACES["personal-private"], role, settings)
    assert ("push" in rights) is (role is Role.OWNER)
