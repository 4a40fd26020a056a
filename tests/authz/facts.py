"""Shared test facts: the namespaces, teams and actor columns the authz tables refer to."""

from app.authz import ANONYMOUS, Actor, NamespaceFacts, TeamFacts
from app.models.enums import NamespaceKind, Role, Visibility

GLOBAL_TEAM_ID, DEVS_TEAM_ID, OPS_TEAM_ID, ALICE_TEAM_ID = 1, 2, 3, 4

# The actor columns of every table, in this order.
COLUMNS = ("anonymous", "non-member", "viewer", "contributor", "owner", "admin")


def _ns(id_, name, kind, visibility, team_id, hidden=False):
    return NamespaceFacts(id_, name, kind, visibility, team_id, team_hidden=hidden)


NAMESPACES = {
    "team-private": _ns(10, "devs", NamespaceKind.TEAM, Visibility.PRIVATE, DEVS_TEAM_ID),
    "team-protected": _ns(11, "devs2", NamespaceKind.TEAM, Visibility.PROTECTED, DEVS_TEAM_ID),
    "team-public": _ns(12, "devs3", NamespaceKind.TEAM, Visibility.PUBLIC, DEVS_TEAM_ID),
    # Alice's personal namespace: the "owner" column is Alice, "non-member" another user.
    "personal-private": _ns(
        20, "alice", NamespaceKind.PERSONAL, Visibility.PRIVATE, ALICE_TEAM_ID, True
    ),
    "personal-protected": _ns(
        20, "alice", NamespaceKind.PERSONAL, Visibility.PROTECTED, ALICE_TEAM_ID, True
    ),
    "personal-public": _ns(
        20, "alice", NamespaceKind.PERSONAL, Visibility.PUBLIC, ALICE_TEAM_ID, True
    ),
    "global-public": _ns(
        1, "portus_global_namespace_1", NamespaceKind.GLOBAL, Visibility.PUBLIC, 1, True
    ),
    "global-protected": _ns(
        1, "portus_global_namespace_1", NamespaceKind.GLOBAL, Visibility.PROTECTED, 1, True
    ),
    # Forbidden by validation (portus.md §1.3), but the rules still give it a defined answer.
    "global-private": _ns(
        1, "portus_global_namespace_1", NamespaceKind.GLOBAL, Visibility.PRIVATE, 1, True
    ),
    # Created by catalog sync: private, parked in the hidden global team.
    "orphan": _ns(30, "lost", NamespaceKind.TEAM, Visibility.PRIVATE, GLOBAL_TEAM_ID, True),
    "missing": None,
}

TEAMS = {
    "team": TeamFacts(DEVS_TEAM_ID, "devs", hidden=False),
    "other-team": TeamFacts(OPS_TEAM_ID, "ops", hidden=False),
    "hidden-team": TeamFacts(ALICE_TEAM_ID, "alice", hidden=True),
}

ROLES = {
    "anonymous": None,
    "non-member": None,
    "viewer": Role.VIEWER,
    "contributor": Role.CONTRIBUTOR,
    "owner": Role.OWNER,
    "admin": None,
}
USER_IDS = {"non-member": 101, "viewer": 102, "contributor": 103, "owner": 104, "admin": 1}


def actor(column: str, read_only: bool = False) -> Actor:
    """The actor of a table column (admins hold no team role: their rights come from the flag)."""
    if column == "anonymous":
        return ANONYMOUS
    return Actor(USER_IDS[column], column, is_admin=column == "admin", read_only=read_only)
