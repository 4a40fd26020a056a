"""Load the facts the authorization engine decides on, once per request.

One query for the namespaces that the requested scopes touch, with the actor's role in each
namespace's team; the engine (``app.authz``) then decides without touching the database.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.authz import Actor, NamespaceFacts, management
from app.authz.settings import AccessSettings
from app.extensions import db
from app.models import GLOBAL_NAMESPACE_NAME, Namespace, Team, TeamMember, User
from app.models.enums import NamespaceKind, Role
from app.registry.scopes import Scope
from app.services.errors import Forbidden


@dataclass(frozen=True)
class ScopeRequest:
    """Everything a policy plugin needs to decide one requested scope."""

    actor: Actor
    scope: Scope
    service: str
    registry_id: int
    namespace: NamespaceFacts | None
    role: Role | None
    settings: AccessSettings
    remote_addr: str | None = None


def namespace_name_of(repository: str) -> str:
    """The namespace of a repository name: its first component, or the global namespace."""
    head, slash, _ = repository.partition("/")
    return head if slash else GLOBAL_NAMESPACE_NAME


def full_name(namespace: Namespace, name: str) -> str:
    """``namespace/name``, or just ``name`` in the global namespace (as clients write it)."""
    return name if namespace.kind == NamespaceKind.GLOBAL else f"{namespace.name}/{name}"


def name_in_namespace(repository: str) -> str:
    """A repository's name inside its namespace: ``etcd`` of ``microbox/etcd``, ``busybox``
    of ``busybox`` (the global namespace)."""
    return repository.split("/", 1)[1] if "/" in repository else repository


def require(action: str, user: User | None, message: str, **facts) -> None:
    """Ask the authorization engine's rules table about ``action``; a refusal becomes
    ``Forbidden(message)`` for the UI, the API and the CLI."""
    try:
        management.require(action, actor_for(user), **facts)
    except management.Denied:
        raise Forbidden(message) from None


# Set on a loaded ``User`` by callers that authenticated it with a read-only application
# token (the API); every rule asked on that user's behalf then sees a read-only actor.
READ_ONLY_MARK = "_wharfinger_read_only_credential"


def mark_read_only(user: User, read_only: bool) -> User:
    """Remember on this request's ``user`` object whether its credential is read-only,
    so the services, which take a ``User``, ask the engine with ``Actor.read_only``."""
    setattr(user, READ_ONLY_MARK, read_only)
    return user


def actor_for(user: User | None, read_only: bool = False) -> Actor:
    """The engine's view of a user (None: anonymous)."""
    if user is None:
        return Actor(user_id=None)
    read_only = read_only or bool(getattr(user, READ_ONLY_MARK, False))
    return Actor(user.id, user.username, is_admin=user.admin, read_only=read_only)


def namespace_facts(
    registry_id: int, names: set[str], user_id: int | None = None
) -> dict[str, tuple[NamespaceFacts, Role | None]]:
    """Facts about the named namespaces of one registry, with ``user_id``'s role in each
    namespace's team: one query (the token endpoint's hot path)."""
    if not names:
        return {}
    membership = sa.and_(TeamMember.team_id == Namespace.team_id, TeamMember.user_id == user_id)
    rows = db.session.execute(
        sa.select(
            Namespace.id,
            Namespace.name,
            Namespace.kind,
            Namespace.visibility,
            Namespace.team_id,
            Team.hidden,
            TeamMember.role,
        )
        .join(Team, Team.id == Namespace.team_id)
        .outerjoin(TeamMember, membership)
        .where(Namespace.registry_id == registry_id, Namespace.name.in_(sorted(names)))
    )
    return {
        row.name: (
            NamespaceFacts(row.id, row.name, row.kind, row.visibility, row.team_id, row.hidden),
            row.role,
        )
        for row in rows
    }


def scope_requests(
    actor: Actor,
    user: User | None,
    scopes: list[Scope],
    *,
    service: str,
    registry_id: int,
    settings: AccessSettings,
    remote_addr: str | None = None,
) -> list[ScopeRequest]:
    """One ScopeRequest per scope, with its namespace facts and the actor's role."""
    names = {namespace_name_of(s.name) for s in scopes if s.type == "repository"}
    facts = namespace_facts(registry_id, names, user.id if user else None)
    requests = []
    for scope in scopes:
        found = facts.get(namespace_name_of(scope.name)) if scope.type == "repository" else None
        namespace, role = found or (None, None)
        requests.append(
            ScopeRequest(actor, scope, service, registry_id, namespace, role, settings, remote_addr)
        )
    return requests


def allowed_actions(user: User | None, actions: tuple[str, ...], **facts) -> dict[str, bool]:
    """Which of ``actions`` the engine allows ``user`` on these facts (pages show only
    what may be done; the action itself is checked again when it is done)."""
    actor = actor_for(user)
    return {action: management.allowed(action, actor, **facts) for action in actions}
