"""The one authorization engine: Portus's permission rules as data plus small functions.

Pure Python on purpose (only ``app.models.enums`` and the standard library): the services
layer loads the facts once per request and asks here, so the token endpoint, the UI, the
API, the CLI and the jobs all decide the same way.

- ``namespace_rights`` / ``repository_actions`` / ``registry_actions`` / ``scope_actions``:
  what goes into a registry token (portus.md §2.1, §3).
- ``allowed`` / ``require`` with the ``RULES`` table: management actions (portus.md §2.2).
"""

from app.authz.management import (
    ACTIONS,
    RULES,
    Denied,
    Rule,
    UnknownAction,
    allowed,
    require,
    rule_for,
    visibility_choices,
)
from app.authz.rights import ALL_RIGHTS, DELETE, PULL, PUSH, namespace_rights
from app.authz.scopes import (
    CATALOG,
    WILDCARD,
    may_read_catalog,
    read_only_limit,
    registry_actions,
    repository_actions,
    scope_actions,
)
from app.authz.settings import AccessSettings
from app.authz.subjects import ANONYMOUS, Actor, NamespaceFacts, TeamFacts

__all__ = [
    "ACTIONS",
    "ALL_RIGHTS",
    "ANONYMOUS",
    "CATALOG",
    "DELETE",
    "PULL",
    "PUSH",
    "RULES",
    "WILDCARD",
    "AccessSettings",
    "Actor",
    "Denied",
    "NamespaceFacts",
    "Rule",
    "TeamFacts",
    "UnknownAction",
    "allowed",
    "may_read_catalog",
    "namespace_rights",
    "read_only_limit",
    "registry_actions",
    "repository_actions",
    "require",
    "rule_for",
    "scope_actions",
    "visibility_choices",
]
