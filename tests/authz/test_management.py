"""Management rules (portus.md §2.2), one table row per action, situation and settings.

Expected answers are written as six characters, one per actor column of ``facts.COLUMNS``
(anonymous, non-member, viewer, contributor, owner, admin): ``Y`` allowed, ``-`` denied,
``.`` a combination that cannot exist (not tested). The role of a column is the actor's
role in the team the action is about.
"""

import pytest

from app.authz import ACTIONS, AccessSettings, Actor, Denied, UnknownAction, allowed, require
from app.models.enums import PushPolicy, Role, Visibility

from .facts import COLUMNS, NAMESPACES, ROLES, TEAMS, actor

SETTINGS = {
    "default": AccessSettings(),
    "allow-personal": AccessSettings(push_policy=PushPolicy.ALLOW_PERSONAL),
    "admin-only": AccessSettings(push_policy=PushPolicy.ADMIN_ONLY),
    "delete-disabled": AccessSettings(delete_enabled=False),
    "delete-contributors": AccessSettings(delete_contributors=True),
    "no-create-namespace": AccessSettings(create_namespace=False),
    "no-manage-namespace": AccessSettings(manage_namespace=False),
    "no-change-visibility": AccessSettings(change_visibility=False),
    "no-create-team": AccessSettings(create_team=False),
    "no-manage-team": AccessSettings(manage_team=False),
}

# What each situation passes to ``allowed``; "a→b" means namespace a, target team b.
SITUATIONS = {
    **{key: {"namespace": ns} for key, ns in NAMESPACES.items()},
    **{key: {"team": team} for key, team in TEAMS.items()},
    "team-private→other-team": {
        "namespace": NAMESPACES["team-private"],
        "team": TEAMS["other-team"],
    },
    "team-private→hidden-team": {
        "namespace": NAMESPACES["team-private"],
        "team": TEAMS["hidden-team"],
    },
    "orphan→team": {"namespace": NAMESPACES["orphan"], "team": TEAMS["team"]},
    "personal-private→team": {"namespace": NAMESPACES["personal-private"], "team": TEAMS["team"]},
    "global-public→team": {"namespace": NAMESPACES["global-public"], "team": TEAMS["team"]},
    "nothing": {},
}

TABLE = [
    # action, situation, settings, expected (anon, non-member, viewer, contrib, owner, admin)
    ("namespace.view", "team-private", "default", "--YYYY"),
    ("namespace.view", "team-protected", "default", "-YYYYY"),
    ("namespace.view", "team-public", "default", "YYYYYY"),
    ("namespace.view", "personal-private", "default", "--..YY"),
    ("namespace.view", "personal-protected", "default", "-Y..YY"),
    ("namespace.view", "global-public", "default", "YY...Y"),
    ("namespace.view", "global-protected", "default", "-Y...Y"),
    ("namespace.view", "orphan", "default", "--...Y"),
    ("namespace.view", "missing", "default", "------"),
    ("namespace.list", "team-private", "default", "--YYYY"),
    ("namespace.list", "team-protected", "default", "-YYYYY"),
    ("namespace.list", "team-public", "default", "YYYYYY"),
    ("namespace.list", "personal-private", "default", "--..YY"),
    ("namespace.list", "global-protected", "default", "-Y...Y"),
    ("namespace.list", "orphan", "default", "--...Y"),
    ("namespace.list", "missing", "default", "------"),
    # Create: login, (create_namespace or admin), a visible team, and push into it.
    ("namespace.create", "team", "default", "---YYY"),
    ("namespace.create", "team", "allow-personal", "-----Y"),
    ("namespace.create", "team", "admin-only", "-----Y"),
    ("namespace.create", "team", "no-create-namespace", "-----Y"),
    ("namespace.create", "team", "delete-disabled", "---YYY"),
    ("namespace.create", "hidden-team", "default", "------"),
    ("namespace.create", "nothing", "default", "------"),
    # Edit: (admin or (manage_namespace and owner)) and push.
    ("namespace.edit", "team-private", "default", "----YY"),
    ("namespace.edit", "team-public", "default", "----YY"),
    ("namespace.edit", "team-private", "no-manage-namespace", "-----Y"),
    ("namespace.edit", "team-private", "admin-only", "-----Y"),
    ("namespace.edit", "team-private", "allow-personal", "-----Y"),
    ("namespace.edit", "personal-private", "default", "--..YY"),
    ("namespace.edit", "personal-private", "allow-personal", "--..YY"),
    ("namespace.edit", "personal-private", "admin-only", "--..-Y"),
    ("namespace.edit", "missing", "default", "------"),
    # Change visibility: admin, or (change_visibility and not global and owner).
    ("namespace.change_visibility", "team-private", "default", "----YY"),
    ("namespace.change_visibility", "team-public", "admin-only", "----YY"),
    ("namespace.change_visibility", "team-private", "no-change-visibility", "-----Y"),
    ("namespace.change_visibility", "personal-private", "default", "--..YY"),
    ("namespace.change_visibility", "global-public", "default", "--...Y"),
    ("namespace.change_visibility", "missing", "default", "------"),
    # Change team: namespace.edit, then only team namespaces, never into a hidden team.
    ("namespace.change_team", "team-private→other-team", "default", "----YY"),
    ("namespace.change_team", "team-private→other-team", "no-manage-namespace", "-----Y"),
    ("namespace.change_team", "team-private→other-team", "admin-only", "-----Y"),
    ("namespace.change_team", "team-private→hidden-team", "default", "------"),
    ("namespace.change_team", "orphan→team", "default", "--...Y"),
    ("namespace.change_team", "personal-private→team", "default", "--..--"),
    ("namespace.change_team", "global-public→team", "default", "--...-"),
    ("namespace.change_team", "missing", "default", "------"),
    # Delete: delete.enabled, not global, not personal, and admin/owner/contributor-if-allowed.
    ("namespace.delete", "team-private", "default", "----YY"),
    ("namespace.delete", "team-public", "default", "----YY"),
    ("namespace.delete", "team-private", "delete-contributors", "---YYY"),
    ("namespace.delete", "team-private", "delete-disabled", "------"),
    ("namespace.delete", "team-private", "admin-only", "----YY"),
    ("namespace.delete", "personal-private", "default", "--..--"),
    ("namespace.delete", "global-public", "default", "--...-"),
    ("namespace.delete", "orphan", "default", "--...Y"),
    ("namespace.delete", "missing", "default", "------"),
    # View / list repositories: protected ones ARE listed (Portus left them out, §6).
    ("repository.view", "team-private", "default", "--YYYY"),
    ("repository.view", "team-protected", "default", "-YYYYY"),
    ("repository.view", "team-public", "default", "YYYYYY"),
    ("repository.view", "personal-private", "default", "--..YY"),
    ("repository.view", "global-public", "default", "YY...Y"),
    ("repository.view", "orphan", "default", "--...Y"),
    ("repository.view", "missing", "default", "------"),
    ("repository.list", "team-private", "default", "--YYYY"),
    ("repository.list", "team-protected", "default", "-YYYYY"),
    ("repository.list", "team-public", "default", "YYYYYY"),
    ("repository.list", "personal-protected", "default", "-Y..YY"),
    ("repository.list", "global-protected", "default", "-Y...Y"),
    ("repository.list", "missing", "default", "------"),
    ("repository.edit", "team-public", "default", "----YY"),
    ("repository.edit", "team-private", "admin-only", "----YY"),
    ("repository.edit", "personal-private", "default", "--..YY"),
    ("repository.edit", "global-public", "default", "--...Y"),
    ("repository.edit", "missing", "default", "------"),
    ("repository.delete", "team-private", "default", "----YY"),
    ("repository.delete", "team-public", "default", "----YY"),
    ("repository.delete", "team-private", "delete-contributors", "---YYY"),
    ("repository.delete", "team-private", "delete-disabled", "------"),
    ("repository.delete", "personal-private", "default", "--..YY"),
    ("repository.delete", "global-public", "default", "--...Y"),
    ("repository.delete", "missing", "default", "------"),
    ("tag.delete", "team-private", "default", "----YY"),
    ("tag.delete", "team-private", "delete-contributors", "---YYY"),
    ("tag.delete", "team-private", "delete-disabled", "------"),
    ("tag.delete", "global-public", "default", "--...Y"),
    ("tag.delete", "missing", "default", "------"),
    # Star: anyone logged in who may view the repository (Portus had no check, §6).
    ("repository.star", "team-public", "default", "-YYYYY"),
    ("repository.star", "team-protected", "default", "-YYYYY"),
    ("repository.star", "team-private", "default", "--YYYY"),
    ("repository.star", "missing", "default", "------"),
    ("comment.create", "team-public", "default", "-YYYYY"),
    ("comment.create", "team-protected", "default", "-YYYYY"),
    ("comment.create", "team-private", "default", "--YYYY"),
    ("comment.create", "missing", "default", "------"),
    # Teams: the role is the actor's role in that team.
    ("team.view", "team", "default", "--YYYY"),
    ("team.view", "hidden-team", "default", "------"),
    ("team.view", "nothing", "default", "------"),
    ("team.create", "nothing", "default", "-YYYYY"),
    ("team.create", "nothing", "no-create-team", "-----Y"),
    ("team.edit", "team", "default", "----YY"),
    ("team.edit", "team", "no-manage-team", "-----Y"),
    ("team.edit", "hidden-team", "default", "------"),
    ("team.edit", "nothing", "default", "------"),
    ("team.delete", "team", "default", "----YY"),
    ("team.delete", "team", "delete-contributors", "---YYY"),
    ("team.delete", "team", "delete-disabled", "------"),
    ("team.delete", "hidden-team", "default", "------"),
    ("team.manage_members", "team", "default", "----YY"),
    ("team.manage_members", "team", "no-manage-team", "----YY"),
    ("team.manage_members", "hidden-team", "default", "------"),
    ("team.manage_members", "nothing", "default", "------"),
    ("admin.access", "nothing", "default", "-----Y"),
]


def _cells(read_only=False):
    for action, situation, settings_key, expected in TABLE:
        for column, mark in zip(COLUMNS, expected, strict=True):
            if mark != "." and not (read_only and column == "anonymous"):
                cell_id = f"{action}/{situation}/{settings_key}/{column}"
                yield pytest.param(action, situation, settings_key, column, mark, id=cell_id)


def _ask(action, situation, settings_key, subject, column, **extra):
    return allowed(
        action,
        subject,
        role=ROLES[column],
        settings=SETTINGS[settings_key],
        **SITUATIONS[situation],
        **extra,
    )


@pytest.mark.parametrize(("action", "situation", "settings_key", "column", "mark"), list(_cells()))
def test_management_cell(action, situation, settings_key, column, mark):
    """One cell of the management table."""
    assert _ask(action, situation, settings_key, actor(column), column) is (mark == "Y")


# The only actions a read-only token may perform: looking, never changing.
READ_ACTIONS = {
    "namespace.view",
    "namespace.list",
    "repository.view",
    "repository.list",
    "team.view",
}


@pytest.mark.parametrize(
    ("action", "situation", "settings_key", "column", "mark"), list(_cells(read_only=True))
)
def test_read_only_actor_only_reads(action, situation, settings_key, column, mark):
    """A read-only token keeps the read actions of its user and loses every other one."""
    expected = mark == "Y" and action in READ_ACTIONS
    subject = actor(column, read_only=True)
    assert _ask(action, situation, settings_key, subject, column) is expected


def test_every_action_has_rows():
    """The table above covers every action the engine knows (except per-user ones below)."""
    assert {row[0] for row in TABLE} | set(PER_USER_ACTIONS) == ACTIONS


def test_read_actions_are_those_marked_in_the_engine():
    """The engine's ``reads`` flags match the list written in this test."""
    from app.authz import RULES

    assert {name for name, rule in RULES.items() if rule.reads} == READ_ACTIONS


ALICE = Actor(7, "alice")
BOB = Actor(8, "bob")
ROOT = Actor(1, "root", is_admin=True)

# (actor, target user, expected) for actions about one particular user.
PER_USER = [
    (ALICE, 7, True),  # her own
    (BOB, 7, False),  # somebody else's: Portus allowed this for tokens (§1.10, §6)
    (ROOT, 7, True),  # admins may
    (ROOT, 1, True),
    (Actor(None), 7, False),
    (Actor(7, "alice", read_only=True), 7, False),  # a read-only token never manages
    (Actor(1, "root", is_admin=True, read_only=True), 7, False),
    (ALICE, None, False),  # no target: nothing to decide on
    (ROOT, None, False),
]


# Per action, the expected answer for each PER_USER row whose third column it overrides:
# "self or admin" actions take PER_USER as written; the others differ where noted.
SELF_OR_ADMIN = ("comment.delete", "user.edit", "user.disable")
PER_USER_ACTIONS = {
    **{action: {} for action in SELF_OR_ADMIN},
    "application_token.manage": {2: False},  # an admin, but the target is a person
    "user.enable": {0: False},  # only admins enable (a disabled user cannot act anyway)
    "user.toggle_admin": {0: False, 3: False},  # never one's own admin flag
}


@pytest.mark.parametrize("action", sorted(PER_USER_ACTIONS))
@pytest.mark.parametrize("row", range(len(PER_USER)))
def test_per_user_actions(action, row):
    """Actions about one user: that user or an admin, with the exceptions listed."""
    subject, target, expected = PER_USER[row]
    expected = PER_USER_ACTIONS[action].get(row, expected)
    result = allowed(action, subject, settings=AccessSettings(), target_user_id=target)
    assert result is expected


@pytest.mark.parametrize(
    ("subject", "target", "bot", "expected"),
    [
        (ROOT, 7, True, True),  # an admin looks after a bot's tokens
        (ROOT, 7, False, False),  # but never mints a token to act as a person
        (ROOT, 1, False, True),  # their own
        (BOB, 7, True, False),  # not admin: nobody else's bot
        (Actor(1, "root", is_admin=True, read_only=True), 7, True, False),
    ],
)
def test_application_tokens_of_bots_and_people(subject, target, bot, expected):
    """``application_token.manage``: the owner, or an admin when the owner is a bot."""
    result = allowed(
        "application_token.manage",
        subject,
        settings=AccessSettings(),
        target_user_id=target,
        target_is_bot=bot,
    )
    assert result is expected


@pytest.mark.parametrize(
    ("namespace_key", "visibility", "column", "expected"),
    [
        ("global-public", Visibility.PRIVATE, "admin", False),
        ("global-public", Visibility.PROTECTED, "admin", True),
        ("global-protected", Visibility.PUBLIC, "admin", True),
        ("team-public", Visibility.PRIVATE, "owner", True),
        ("team-private", Visibility.PUBLIC, "viewer", False),
        ("personal-private", Visibility.PUBLIC, "owner", True),
    ],
)
def test_change_visibility_target(namespace_key, visibility, column, expected):
    """A global namespace can never become private, not even by an admin."""
    result = allowed(
        "namespace.change_visibility",
        actor(column),
        namespace=NAMESPACES[namespace_key],
        role=ROLES[column],
        settings=AccessSettings(),
        visibility=visibility,
    )
    assert result is expected


@pytest.mark.parametrize("name", ["namespace.fork", "", "NAMESPACE.VIEW", "admin"])
def test_unknown_action_is_a_programming_error(name):
    """Unknown names raise (a KeyError), even for admins: nothing is allowed by omission."""
    with pytest.raises(UnknownAction) as error:
        allowed(name, actor("admin"), settings=AccessSettings())
    assert isinstance(error.value, KeyError)
    assert repr(name) in str(error.value)


def test_require_raises_denied_with_the_action():
    """``require`` turns a refusal into a typed exception the views can map to 403."""
    with pytest.raises(Denied) as error:
        require("admin.access", actor("owner"), settings=AccessSettings())
    assert error.value.action == "admin.access"
    require("admin.access", actor("admin"), settings=AccessSettings())


def test_admin_role_in_team_changes_nothing_for_hidden_teams():
    """Even an admin who owns a hidden team cannot edit it or add members."""
    for action in ("team.edit", "team.delete", "team.manage_members", "team.view"):
        assert not allowed(
            action, ROOT, team=TEAMS["hidden-team"], role=Role.OWNER, settings=AccessSettings()
        )
