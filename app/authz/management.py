"""Who may do what in the UI, the API and the CLI: portus.md §2.2 as a table.

``RULES`` maps every management action to one ``Rule``. Callers ask through ``allowed`` (a
bool) or ``require`` (raises ``Denied``); an action missing from the table is a programming
error and raises ``UnknownAction``, so nothing is ever allowed by omission.

The role passed in is the actor's role in the team the action is about: the namespace's
team for ``namespace.*``, ``repository.*``, ``tag.*`` and ``comment.*``, the team itself
for ``team.*``, and the would-be owning team for ``namespace.create``.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from app.authz import conditions as c
from app.authz.conditions import Condition, Question
from app.authz.rights import PULL, PUSH, namespace_rights
from app.authz.settings import AccessSettings
from app.authz.subjects import Actor, NamespaceFacts, TeamFacts
from app.models.enums import NamespaceKind, Role, Visibility


@dataclass(frozen=True)
class Rule:
    """One management action: the condition that allows it, and whether it only reads.

    Actors with a read-only token may do only the actions marked ``reads``.
    """

    check: Condition
    reads: bool = False


class UnknownAction(KeyError):
    """An action name that is not in ``RULES``: a bug in the caller, never a denial."""

    def __str__(self) -> str:
        return f"unknown authorization action {self.args[0]!r}"


class Denied(PermissionError):
    """Raised by ``require`` when the actor may not perform ``action``."""

    def __init__(self, action: str) -> None:
        super().__init__(f"not allowed: {action}")
        self.action = action


def visibility_choices(namespace: NamespaceFacts) -> frozenset[Visibility]:
    """The visibilities ``namespace`` may be given: a global namespace is never private."""
    if namespace.kind is NamespaceKind.GLOBAL:
        return frozenset({Visibility.PROTECTED, Visibility.PUBLIC})
    return frozenset(Visibility)


def holds(right: str) -> Condition:
    """A condition: the actor holds the registry ``right`` on the question's namespace."""
    return lambda q: right in namespace_rights(q.actor, q.namespace, q.role, q.settings)


def may_push_into_team(question: Question) -> bool:
    """The actor could push into a new namespace owned by ``question.team``.

    Portus's ``create?`` evaluated ``push?`` on the unsaved namespace; we ask the same of
    a stand-in private team namespace (id 0 is never compared with anything).
    """
    team = question.team
    if team is None:
        return False
    prospective = NamespaceFacts(
        0, "", NamespaceKind.TEAM, Visibility.PRIVATE, team.id, team.hidden
    )
    return PUSH in namespace_rights(question.actor, prospective, question.role, question.settings)


def visibility_choice_ok(question: Question) -> bool:
    """No new visibility given, or one the namespace may have."""
    wanted, namespace = question.visibility, question.namespace
    return wanted is None or (namespace is not None and wanted in visibility_choices(namespace))


# Anonymous: public only; logged in: admin, public, protected or member (portus.md §2.2
# "View repository"). Deliberate fix: Portus's listings left protected namespaces out even
# though they could be opened (§6 "Protected repositories are missing from the listings").
LISTED = c.any_of(c.is_public, c.all_of(c.logged_in, c.any_of(c.admin, c.is_protected, c.member)))
# Portus's ``delete?`` role test, shared by namespaces, repositories, tags and teams.
MAY_DELETE = c.all_of(
    c.setting("delete_enabled"), c.any_of(c.admin, c.owner, c.contributor_may_delete)
)
MANAGES_NAMESPACE = c.any_of(c.admin, c.all_of(c.setting("manage_namespace"), c.owner))
# "Edit namespace" needs push too, so under admin-only owners cannot edit (portus.md §2.2).
EDITS_NAMESPACE = c.all_of(c.has_namespace, MANAGES_NAMESPACE, holds(PUSH))
VISIBLE_TEAM = c.all_of(c.has_team, c.not_(c.hidden_team))
SELF_OR_ADMIN = c.all_of(c.logged_in, c.has_target_user, c.any_of(c.admin, c.is_target_user))

RULES: Mapping[str, Rule] = MappingProxyType(
    {
        "namespace.view": Rule(c.all_of(c.has_namespace, holds(PULL)), reads=True),
        "namespace.list": Rule(c.all_of(c.has_namespace, LISTED), reads=True),
        "namespace.create": Rule(
            c.all_of(
                c.logged_in,
                c.any_of(c.setting("create_namespace"), c.admin),
                VISIBLE_TEAM,
                may_push_into_team,
            )
        ),
        "namespace.edit": Rule(EDITS_NAMESPACE),
        "namespace.change_visibility": Rule(
            c.all_of(
                c.has_namespace,
                c.any_of(
                    c.admin, c.all_of(c.setting("change_visibility"), c.not_(c.is_global), c.owner)
                ),
                visibility_choice_ok,
            )
        ),
        # ``team`` is the target team. Our additions: only team namespaces move (a personal
        # or global namespace's team is structural) and never into a hidden team.
        "namespace.change_team": Rule(
            c.all_of(EDITS_NAMESPACE, c.has_kind(NamespaceKind.TEAM), c.not_(c.hidden_team))
        ),
        "namespace.delete": Rule(
            c.all_of(c.has_namespace, c.not_(c.is_global), c.not_(c.is_personal), MAY_DELETE)
        ),
        "repository.view": Rule(c.all_of(c.has_namespace, LISTED), reads=True),
        "repository.list": Rule(c.all_of(c.has_namespace, LISTED), reads=True),
        "repository.edit": Rule(c.all_of(c.has_namespace, c.any_of(c.admin, c.owner))),
        "repository.delete": Rule(c.all_of(c.has_namespace, MAY_DELETE)),
        "tag.delete": Rule(c.all_of(c.has_namespace, MAY_DELETE)),
        # Portus had no check at all (§6 "toggle_star has no authorisation").
        "repository.star": Rule(c.all_of(c.logged_in, c.has_namespace, LISTED)),
        "comment.create": Rule(c.all_of(c.logged_in, c.has_namespace, LISTED)),
        "comment.delete": Rule(
            c.all_of(c.logged_in, c.has_target_user, c.any_of(c.admin, c.is_target_user))
        ),
        # Hidden teams are plumbing: not even admins see or change them. Portus's §2.2 says
        # "admin or member" for viewing; hiding them from everyone is our choice.
        "team.view": Rule(c.all_of(VISIBLE_TEAM, c.any_of(c.admin, c.member)), reads=True),
        "team.create": Rule(c.all_of(c.logged_in, c.any_of(c.setting("create_team"), c.admin))),
        "team.edit": Rule(
            c.all_of(
                VISIBLE_TEAM,
                c.any_of(c.setting("manage_team"), c.admin),
                c.any_of(c.admin, c.owner),
            )
        ),
        "team.delete": Rule(c.all_of(VISIBLE_TEAM, MAY_DELETE)),
        # ``manage_team`` is not consulted, as in Portus (portus.md §2.2).
        "team.manage_members": Rule(c.all_of(VISIBLE_TEAM, c.any_of(c.admin, c.owner))),
        # The token's owner, or an admin for a bot's tokens (portus.md §2.2). Deliberate
        # fix: Portus let any logged-in user list and mint tokens for any user (§1.10, §6);
        # an admin minting a person's token could act as that person unnoticed.
        "application_token.manage": Rule(
            c.all_of(
                c.logged_in,
                c.has_target_user,
                c.any_of(c.is_target_user, c.all_of(c.admin, c.target_is_bot)),
            )
        ),
        # Accounts (portus.md §1.1): one's own profile, or an admin; a user may disable
        # themselves, only admins enable; nobody changes their own admin flag.
        "user.edit": Rule(SELF_OR_ADMIN),
        "user.disable": Rule(SELF_OR_ADMIN),
        "user.enable": Rule(c.all_of(c.has_target_user, c.admin)),
        "user.toggle_admin": Rule(c.all_of(c.has_target_user, c.admin, c.not_(c.is_target_user))),
        "admin.access": Rule(c.admin),
    }
)
ACTIONS = frozenset(RULES)


def rule_for(action: str) -> Rule:
    """The rule for ``action``; raises ``UnknownAction`` for a name not in the table."""
    try:
        return RULES[action]
    except KeyError:
        raise UnknownAction(action) from None


def allowed(
    action: str,
    actor: Actor,
    *,
    namespace: NamespaceFacts | None = None,
    team: TeamFacts | None = None,
    role: Role | None = None,
    settings: AccessSettings,
    target_user_id: int | None = None,
    target_is_bot: bool = False,
    visibility: Visibility | None = None,
) -> bool:
    """Whether ``actor`` may perform the management ``action``.

    ``target_user_id`` is the user the action is about (token owner, comment author) and
    ``target_is_bot`` whether it is a bot; ``visibility`` is the new visibility for
    ``namespace.change_visibility``.
    """
    rule = rule_for(action)
    if actor.read_only and not rule.reads:
        return False
    question = Question(
        actor,
        settings,
        namespace=namespace,
        role=None if actor.is_anonymous else role,
        team=team,
        target_user_id=target_user_id,
        visibility=visibility,
        target_is_bot=target_is_bot,
    )
    return rule.check(question)


def require(action: str, actor: Actor, **facts: Any) -> None:
    """Like ``allowed``, but raise ``Denied`` instead of returning False."""
    if not allowed(action, actor, **facts):
        raise Denied(action)
