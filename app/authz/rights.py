"""Registry rights on a namespace: the Portus pull/push/delete matrix as ordered rule tables.

Each right is a tuple of ``(condition, verdict)`` rows read top to bottom: the first
condition that holds decides, and when none holds the answer is no. The rows follow
Portus's order of checks (portus.md §2.1), so a table reads like the reference.
"""

from collections.abc import Mapping
from types import MappingProxyType

from app.authz import conditions as c
from app.authz.conditions import Condition, Question
from app.authz.settings import AccessSettings
from app.authz.subjects import Actor, NamespaceFacts
from app.models.enums import PushPolicy, Role

PULL, PUSH, DELETE = "pull", "push", "delete"
ALL_RIGHTS = frozenset({PULL, PUSH, DELETE})

ALLOW, DENY = True, False
RuleTable = tuple[tuple[Condition, bool], ...]

# Who may push when the actor is not an admin (``user_permission.push_images.policy``).
PUSH_POLICIES: Mapping[PushPolicy, Condition] = MappingProxyType(
    {
        PushPolicy.ALLOW_TEAMS: c.contributor_or_owner,
        PushPolicy.ALLOW_PERSONAL: c.own_personal_namespace,
        PushPolicy.ADMIN_ONLY: c.never,
    }
)


def push_policy_allows(question: Question) -> bool:
    """The configured push policy lets this (non-admin) actor push here."""
    return PUSH_POLICIES[question.settings.push_policy](question)


def _missing(question: Question) -> bool:
    return question.namespace is None


# Deliberate difference from Portus (portus.md §2.1, last row "Non-existent namespace", and
# §6): Portus granted admins push there, and the pushed images then vanished from the UI.
# Here nobody, admins included, may push to or delete from a namespace that does not exist;
# admins keep only pull, which the pull table below gives them as Portus did.
# Read-only tokens (our addition; Portus had none) keep pull and lose push and delete.
PULL_RULES: RuleTable = (
    (c.is_public, ALLOW),
    (c.anonymous, DENY),
    (c.is_protected, ALLOW),
    (c.is_global, ALLOW),
    (c.admin, ALLOW),
    (c.member, ALLOW),
)
PUSH_RULES: RuleTable = (
    (_missing, DENY),
    (c.anonymous, DENY),
    (c.read_only, DENY),
    (c.admin, ALLOW),
    (push_policy_allows, ALLOW),
)
# The global namespace is not excluded here: Portus passed ``force_non_global: false``.
DELETE_RULES: RuleTable = (
    (_missing, DENY),
    (c.anonymous, DENY),
    (c.read_only, DENY),
    (c.not_(c.setting("delete_enabled")), DENY),
    (c.admin, ALLOW),
    (c.owner, ALLOW),
    (c.contributor_may_delete, ALLOW),
)
RIGHT_RULES: Mapping[str, RuleTable] = MappingProxyType(
    {PULL: PULL_RULES, PUSH: PUSH_RULES, DELETE: DELETE_RULES}
)


def first_match(rules: RuleTable, question: Question) -> bool:
    """The verdict of the first row whose condition holds; no match means no."""
    for condition, verdict in rules:
        if condition(question):
            return verdict
    return DENY


def rights_question(
    actor: Actor, namespace: NamespaceFacts | None, role: Role | None, settings: AccessSettings
) -> Question:
    """Build the question, ignoring a role that cannot count (anonymous, or no namespace)."""
    counts = not actor.is_anonymous and namespace is not None
    return Question(actor, settings, namespace=namespace, role=role if counts else None)


def namespace_rights(
    actor: Actor, namespace: NamespaceFacts | None, role: Role | None, settings: AccessSettings
) -> frozenset[str]:
    """The registry rights (pull, push, delete) ``actor`` holds on ``namespace``.

    ``role`` is the actor's role in the namespace's team, loaded by the caller;
    ``namespace=None`` means the namespace does not exist.
    """
    question = rights_question(actor, namespace, role, settings)
    return frozenset(right for right, rules in RIGHT_RULES.items() if first_match(rules, question))
