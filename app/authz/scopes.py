"""Which of the actions a token request asks for go into the registry token.

The token service parses each ``type:name:actions`` scope and calls ``scope_actions`` once
per scope; whatever is not returned is simply left out of the token (portus.md §3.6).
"""

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from app.authz.rights import ALL_RIGHTS, namespace_rights
from app.authz.settings import AccessSettings
from app.authz.subjects import Actor, NamespaceFacts
from app.models.enums import Role

WILDCARD = "*"
CATALOG = "catalog"
READ_ONLY_ACTIONS = frozenset({"pull"})


def read_only_limit(actor: Actor, type_: str, granted: frozenset[str]) -> frozenset[str]:
    """What may remain of ``granted`` for this actor whoever decided it (a policy plugin
    included): a read-only credential keeps pull on repositories and nothing else."""
    if not actor.read_only:
        return granted
    return granted & READ_ONLY_ACTIONS if type_ == "repository" else frozenset()


def repository_actions(
    actor: Actor,
    namespace: NamespaceFacts | None,
    role: Role | None,
    requested: Iterable[str],
    settings: AccessSettings,
) -> tuple[str, ...]:
    """The requested ``repository`` actions the actor holds, sorted.

    Every action is judged on its own, and unknown ones (``fork``) are dropped. ``*`` is
    granted as ``*`` only to an actor holding pull, push and delete; anyone else gets the
    rights they do hold instead (skopeo asks ``*`` to delete, then needs pull + delete).
    Portus (portus.md §3.7) looked only at a leading ``*`` and let the other actions of
    ``*,push`` through unchecked; here nothing beyond the actor's rights is ever returned.
    """
    wanted = frozenset(requested)
    held = namespace_rights(actor, namespace, role, settings)
    if WILDCARD not in wanted:
        return tuple(sorted(held & wanted))
    return (WILDCARD,) if held == ALL_RIGHTS else tuple(sorted(held))


def may_read_catalog(actor: Actor) -> bool:
    """Only admins may list the whole registry (portus.md §3.8).

    Read-only tokens are refused even for admins: the catalog scope's only action is ``*``,
    and a read-only token may only pull (our decision; Portus had no read-only tokens).
    """
    return actor.is_admin and not actor.read_only


def registry_actions(
    actor: Actor, name: str, requested: Iterable[str], settings: AccessSettings
) -> tuple[str, ...]:
    """The requested ``registry`` actions the actor holds: only ``catalog:*``, for admins.

    Portus passed the actions of every other ``registry:<name>`` scope through unfiltered
    (portus.md §3.8); here they grant nothing. ``settings`` is unused today and kept so
    every scope handler has the same inputs.
    """
    if name == CATALOG and WILDCARD in frozenset(requested) and may_read_catalog(actor):
        return (WILDCARD,)
    return ()


ScopeHandler = Callable[
    [Actor, str, NamespaceFacts | None, Role | None, Iterable[str], AccessSettings],
    tuple[str, ...],
]


def _repository_scope(
    actor: Actor,
    name: str,
    namespace: NamespaceFacts | None,
    role: Role | None,
    requested: Iterable[str],
    settings: AccessSettings,
) -> tuple[str, ...]:
    return repository_actions(actor, namespace, role, requested, settings)


def _registry_scope(
    actor: Actor,
    name: str,
    namespace: NamespaceFacts | None,
    role: Role | None,
    requested: Iterable[str],
    settings: AccessSettings,
) -> tuple[str, ...]:
    return registry_actions(actor, name, requested, settings)


SCOPE_TYPES: Mapping[str, ScopeHandler] = MappingProxyType(
    {"repository": _repository_scope, "registry": _registry_scope}
)


def scope_actions(
    actor: Actor,
    type_: str,
    name: str,
    namespace: NamespaceFacts | None,
    role: Role | None,
    requested: Iterable[str],
    settings: AccessSettings,
) -> tuple[str, ...]:
    """The granted actions for one scope, dispatched on its resource type.

    ``namespace`` and ``role`` matter only for ``repository`` scopes. Unknown types grant
    nothing (Portus failed the whole request with 401; that choice belongs to the caller).
    """
    handler = SCOPE_TYPES.get(type_)
    if handler is None:
        return ()
    return handler(actor, name, namespace, role, requested, settings)
