"""Deleting images: tags, repositories and namespaces, registry first.

Each deletion asks the registry first (``DELETE /v2/<name>/manifests/<digest>``, which
removes every tag on that digest, protocol.md §10.4) and only then removes our rows, so the
database never claims an image is gone while the registry still serves it. Who may delete
is decided by ``app.authz``. The caller commits.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.authz.settings import AccessSettings
from app.extensions import db
from app.models import Namespace, Repository, Tag, User
from app.registry.client import RegistryClient, RegistryError
from app.services import activities
from app.services.errors import ServiceError
from app.services.namespaces import record_activity
from app.services.namespaces import require_on as require_on_namespace
from app.services.repositories import (
    digest_groups,
    repository_name,
    require_on,
    tags_sharing_digest,
)
from app.services.tokens import TokenError


class RegistryRefused(ServiceError):
    """The registry did not delete a manifest. What it deleted before (the earlier digests
    of a repository or namespace) is gone here too: those changes are flushed and the
    caller commits them, so the database keeps matching the registry."""


def _delete_manifest(client: RegistryClient, name: str, digest: str) -> None:
    """Ask the registry to delete ``name@digest``; RegistryRefused when it will not."""
    try:
        client.delete_manifest(name, digest)
    except TokenError as exc:  # no signing key: we cannot even ask
        raise RegistryRefused(f"cannot authenticate to the registry: {exc}") from exc
    except RegistryError as exc:
        hint = (
            " (the registry needs storage.delete.enabled: true)"
            if getattr(exc, "code", None) == "UNSUPPORTED" or getattr(exc, "status", None) == 405
            else ""
        )
        raise RegistryRefused(f"the registry did not delete {name}@{digest}: {exc}{hint}") from exc


def _forget_tags(plugins, actor: User, repository: Repository, tags: list[Tag]) -> None:
    """Delete tag rows, one ``repository.delete`` activity each (the history survives)."""
    namespace: Namespace = repository.namespace
    name = repository_name(repository)
    for tag in tags:
        activities.record(
            plugins,
            "repository.delete",
            actor,
            "repository",
            repository.id,
            f"{name}:{tag.name}",
            team_id=namespace.team_id,
            namespace_id=namespace.id,
            tag=tag.name,
            digest=tag.digest,
        )
        db.session.delete(tag)


def delete_tag(
    plugins, actor: User, tag: Tag, *, settings: AccessSettings, client: RegistryClient
) -> list[str]:
    """Delete ``tag``'s manifest in the registry, and with it every tag on that digest.

    Returns the names of the tags removed. A repository left without tags is removed too,
    as in Portus.
    """
    repository = tag.repository
    require_on("tag.delete", actor, repository, "you may not delete tags here", settings)
    doomed = sorted([tag, *tags_sharing_digest(tag)], key=lambda t: t.name)
    _delete_manifest(client, repository_name(repository), tag.digest)
    _forget_tags(plugins, actor, repository, doomed)
    db.session.flush()
    if not db.session.scalar(sa.select(Tag.id).where(Tag.repository_id == repository.id)):
        db.session.delete(repository)
    return [t.name for t in doomed]


def delete_repository(
    plugins,
    actor: User,
    repository: Repository,
    *,
    settings: AccessSettings,
    client: RegistryClient,
) -> None:
    """Delete every manifest of the repository in the registry, then the repository.

    Stops at the first digest the registry refuses; the digests already deleted are gone
    from our rows too, so what we show matches the registry.
    """
    require_on(
        "repository.delete", actor, repository, "you may not delete this repository", settings
    )
    name = repository_name(repository)
    for group in digest_groups(repository):
        _delete_manifest(client, name, group.digest)
        _forget_tags(plugins, actor, repository, group.tags)
        db.session.flush()
    record_activity(plugins, "namespace.delete", actor, repository.namespace, repository_name=name)
    db.session.delete(repository)
    db.session.flush()


def delete_namespace(
    plugins,
    actor: User,
    namespace: Namespace,
    *,
    settings: AccessSettings,
    client: RegistryClient,
) -> None:
    """Delete a team namespace with all its repositories (images deleted in the registry).

    Global and personal namespaces are refused by the rules. Records ``namespace.delete``.
    """
    require_on_namespace(
        "namespace.delete", actor, namespace, "you may not delete this namespace", settings=settings
    )
    repositories = db.session.scalars(
        sa.select(Repository).where(Repository.namespace_id == namespace.id)
    )
    for repository in list(repositories):
        delete_repository(plugins, actor, repository, settings=settings, client=client)
    record_activity(plugins, "namespace.delete", actor, namespace)
    db.session.delete(namespace)
    db.session.flush()
