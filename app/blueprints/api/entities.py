"""The JSON shapes of API answers, field for field as Portus's Grape entities named them
(ids are integers, times ISO 8601 UTC)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.models import ApplicationToken, Namespace, Registry, Repository, Tag, Team, User
from app.models.enums import NamespaceKind
from app.services import accounts, repositories
from app.services.access import full_name


def when(value: dt.datetime | None) -> str | None:
    """ISO 8601 with ``Z`` (or None)."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def user(row: User) -> dict[str, Any]:
    """Portus's User entity, plus ``enabled`` and ``bot``."""
    return {
        "id": row.id,
        "username": row.username,
        "email": row.email,
        "display_name": row.display_name,
        "admin": row.admin,
        "enabled": row.enabled,
        "bot": row.bot,
        "namespace_id": accounts.personal_namespace_id(row) if not row.bot else None,
        "locked": row.locked_until is not None,
        "created_at": when(row.created_at),
        "updated_at": when(row.created_at),
        "last_sign_in_at": when(row.last_login_at),
    }


def application_token(row: ApplicationToken, plain: str | None = None) -> dict[str, Any]:
    """Portus's ApplicationToken entity; ``plain_token`` only right after creation."""
    shown: dict[str, Any] = {
        "id": row.id,
        "application": row.application,
        "read_only": row.read_only,
        "expires_at": when(row.expires_at),
        "last_used_at": when(row.last_used_at),
        "created_at": when(row.created_at),
    }
    if plain is not None:
        shown["plain_token"] = plain
    return shown


def team(row: Team, member_count: int | None = None, namespace_count: int | None = None):
    """Portus's Team entity."""
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "hidden": row.hidden,
        "created_at": when(row.created_at),
        "updated_at": when(row.created_at),
        "users_count": member_count if member_count is not None else len(row.members),
        "namespaces_count": namespace_count,
    }


def team_row(row) -> dict[str, Any]:
    """A row of ``browse.teams`` (team, member count, namespace count)."""
    return team(row[0], row[1], row[2])


def member(row) -> dict[str, Any]:
    """A team membership: its id (for PUT/DELETE), the user and the role."""
    return {
        "id": row.id,
        "team_id": row.team_id,
        "user_id": row.user_id,
        "username": row.user.username,
        "display_name": row.user.display_name,
        "role": row.role.name.lower(),
    }


def namespace(row: Namespace) -> dict[str, Any]:
    """Portus's Namespace entity (``global`` true for the registry's global namespace)."""
    return {
        "id": row.id,
        "name": row.host_registry.pull_host if row.kind == NamespaceKind.GLOBAL else row.name,
        "clean_name": row.name,
        "description": row.description,
        "team": {"id": row.team.id, "name": row.team.name, "hidden": row.team.hidden},
        "visibility": row.visibility.value,
        "global": row.kind == NamespaceKind.GLOBAL,
        "kind": row.kind.value,
        "registry_id": row.registry_id,
        "created_at": when(row.created_at),
        "updated_at": when(row.created_at),
    }


def repository(row: Repository, tags_count: int | None = None) -> dict[str, Any]:
    """Portus's Repository entity."""
    return {
        "id": row.id,
        "name": row.name,
        "full_name": full_name(row.namespace, row.name),
        "namespace": {"id": row.namespace.id, "name": row.namespace.name},
        "description": row.description,
        "stars": repositories.star_count(row),
        "tags_count": tags_count if tags_count is not None else repositories.tag_count(row),
        "created_at": when(row.created_at),
        "updated_at": when(row.created_at),
    }


def repository_row(row) -> dict[str, Any]:
    """A row of ``browse.repositories`` (repository, namespace, tag count, last push)."""
    return repository(row[0], row[2])


def tag(row: Tag) -> dict[str, Any]:
    """Portus's Tag entity (``image_id`` is the manifest digest; no security scanning)."""
    return {
        "id": row.id,
        "name": row.name,
        "author": {"id": row.author_id, "name": row.author_name},
        "digest": row.digest,
        "image_id": row.digest,
        "media_type": row.media_type,
        "size": row.size,
        "repository_id": row.repository_id,
        "created_at": when(row.pushed_at),
        "updated_at": when(row.pushed_at),
        "pulled_at": when(row.pulled_at),
        "scanned": 0,
        "vulnerabilities": None,
    }


def registry(row: Registry) -> dict[str, Any]:
    """Portus's Registry entity."""
    return {
        "id": row.id,
        "name": row.name,
        "hostname": row.hostname,
        "external_hostname": row.external_hostname,
        "use_ssl": row.use_ssl,
        "created_at": when(row.created_at),
        "updated_at": when(row.created_at),
    }
