"""Small yes/no conditions that the rule tables are written in.

Every condition takes one ``Question`` and answers a single fact about it. The tables in
``rights.py`` and ``management.py`` combine them with ``all_of`` / ``any_of`` / ``not_``,
so each rule reads like the line of portus.md §2 it comes from.
"""

from collections.abc import Callable
from dataclasses import dataclass, fields

from app.authz.settings import AccessSettings
from app.authz.subjects import Actor, NamespaceFacts, TeamFacts
from app.models.enums import NamespaceKind, Role, Visibility


@dataclass(frozen=True)
class Question:
    """Everything one authorization decision may look at.

    ``role`` is the actor's role in the team that matters (the namespace's team for
    namespace rules, ``team`` for team rules); it is already None for anonymous actors.
    ``target_user_id`` is the user a per-user action is about (token owner, comment author),
    ``target_is_bot`` whether that user is a bot; ``visibility`` is the requested new
    visibility for a visibility change.
    """

    actor: Actor
    settings: AccessSettings
    namespace: NamespaceFacts | None = None
    role: Role | None = None
    team: TeamFacts | None = None
    target_user_id: int | None = None
    visibility: Visibility | None = None
    target_is_bot: bool = False


Condition = Callable[[Question], bool]


def all_of(*conditions: Condition) -> Condition:
    """A condition that holds when every one of ``conditions`` holds (checked in order)."""
    return lambda question: all(condition(question) for condition in conditions)


def any_of(*conditions: Condition) -> Condition:
    """A condition that holds when at least one of ``conditions`` holds."""
    return lambda question: any(condition(question) for condition in conditions)


def not_(condition: Condition) -> Condition:
    """A condition that holds when ``condition`` does not."""
    return lambda question: not condition(question)


def never(question: Question) -> bool:
    """Never holds (used for the ``admin-only`` push policy)."""
    return False


# --- who is asking ---------------------------------------------------------------------


def anonymous(question: Question) -> bool:
    """Nobody is logged in."""
    return question.actor.is_anonymous


def logged_in(question: Question) -> bool:
    """Somebody is logged in."""
    return not question.actor.is_anonymous


def read_only(question: Question) -> bool:
    """The actor authenticated with a read-only application token."""
    return question.actor.read_only


def admin(question: Question) -> bool:
    """The actor is a Wharfinger admin."""
    return question.actor.is_admin


def has_target_user(question: Question) -> bool:
    """The action is about a particular user."""
    return question.target_user_id is not None


def is_target_user(question: Question) -> bool:
    """The actor is the user the action is about (e.g. the owner of a token)."""
    target = question.target_user_id
    return target is not None and question.actor.user_id == target


def target_is_bot(question: Question) -> bool:
    """The user the action is about is a bot (an account only admins look after)."""
    return question.target_user_id is not None and question.target_is_bot


# --- the actor's role ------------------------------------------------------------------


def member(question: Question) -> bool:
    """The actor has any role in the relevant team."""
    return question.role is not None


def owner(question: Question) -> bool:
    """The actor is an owner of the relevant team."""
    return question.role is Role.OWNER


def contributor_or_owner(question: Question) -> bool:
    """The actor may write to the relevant team's namespaces (Portus ``allow-teams``)."""
    return question.role is not None and question.role >= Role.CONTRIBUTOR


def contributor_may_delete(question: Question) -> bool:
    """The actor is a contributor and ``delete_contributors`` lets contributors delete."""
    return question.role is Role.CONTRIBUTOR and question.settings.delete_contributors


def own_personal_namespace(question: Question) -> bool:
    """The namespace is the actor's personal one.

    Portus compared ``user.namespace.id``; we know it from the kind plus the OWNER role,
    because a personal namespace's hidden team has exactly one owner, its user, and can
    never get other members (portus.md §2 definitions).
    """
    return has_kind(NamespaceKind.PERSONAL)(question) and owner(question)


# --- the namespace ---------------------------------------------------------------------


def has_namespace(question: Question) -> bool:
    """The question is about a namespace that exists."""
    return question.namespace is not None


def has_kind(kind: NamespaceKind) -> Condition:
    """A condition: the namespace exists and is of ``kind``."""
    return lambda question: question.namespace is not None and question.namespace.kind is kind


def has_visibility(visibility: Visibility) -> Condition:
    """A condition: the namespace exists and has ``visibility``."""
    return lambda q: q.namespace is not None and q.namespace.visibility is visibility


is_global = has_kind(NamespaceKind.GLOBAL)
is_personal = has_kind(NamespaceKind.PERSONAL)
is_public = has_visibility(Visibility.PUBLIC)
is_protected = has_visibility(Visibility.PROTECTED)


# --- the team --------------------------------------------------------------------------


def has_team(question: Question) -> bool:
    """The question is about a team that exists."""
    return question.team is not None


def hidden_team(question: Question) -> bool:
    """The team is hidden (a personal or global team); such teams are never managed."""
    return question.team is not None and question.team.hidden


# --- the operator's switches -----------------------------------------------------------


_SWITCHES = frozenset(field.name for field in fields(AccessSettings)) - {"push_policy"}


def setting(name: str) -> Condition:
    """A condition: the boolean access switch ``name`` is on (a typo fails at import)."""
    if name not in _SWITCHES:
        raise ValueError(f"unknown access switch {name!r}; known: {', '.join(sorted(_SWITCHES))}")
    return lambda question: getattr(question.settings, name)
