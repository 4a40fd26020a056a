"""Repositories and tags as people see them: tags grouped by digest, and stars.

Who may see or star is decided by ``app.authz``. The caller commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.authz.settings import AccessSettings
from app.extensions import db
from app.models import Repository, Star, Tag, User
from app.services import namespaces
from app.services.access import allowed_actions, full_name
from app.services.errors import Invalid, NotFound


@dataclass
class DigestGroup:
    """Tags that point at one manifest digest (Portus's grouped tags table)."""

    digest: str
    tags: list[Tag] = field(default_factory=list)

    @property
    def newest(self) -> Tag:
        """The most recently pushed tag of the group (its author and time are shown)."""
        return max(self.tags, key=lambda t: t.pushed_at)

    @property
    def pulled_at(self) -> dt.datetime | None:
        """When any tag of the group was last pulled."""
        times = [t.pulled_at for t in self.tags if t.pulled_at]
        return max(times) if times else None


def get_repository(repository_id: int) -> Repository:
    """The repository with this id, or NotFound."""
    repository = db.session.get(Repository, repository_id)
    if repository is None:
        raise NotFound(f"no repository with id {repository_id}")
    return repository


def get_tag(repository: Repository, name: str) -> Tag:
    """The repository's tag named ``name``, or NotFound."""
    tag = db.session.scalar(
        sa.select(Tag).where(Tag.repository_id == repository.id, Tag.name == name)
    )
    if tag is None:
        raise NotFound(f"{repository.name} has no tag {name!r}")
    return tag


def repository_name(repository: Repository) -> str:
    """``namespace/name`` as clients write it (just ``name`` in the global namespace)."""
    return full_name(repository.namespace, repository.name)


def require_on(
    action: str, user: User | None, repository: Repository, message: str, settings
) -> None:
    """``require`` about the repository's namespace, with the user's role in its team."""
    namespaces.require_on(action, user, repository.namespace, message, settings=settings)


def require_view(user: User | None, repository: Repository, settings: AccessSettings) -> None:
    """Refuse (Forbidden) unless ``user`` may see the repository."""
    require_on("repository.view", user, repository, "you may not see this repository", settings)


def permissions(
    user: User | None, repository: Repository, actions: tuple[str, ...], *, settings
) -> dict[str, bool]:
    """Which of ``actions`` (``tag.delete``, ``repository.star``...) the engine allows
    ``user`` on the repository: one role look-up for all of them."""
    namespace = repository.namespace
    return allowed_actions(
        user,
        actions,
        namespace=namespaces.namespace_facts(namespace),
        role=namespaces.role_of(namespace.team, user),
        settings=settings,
    )


def digest_groups(repository: Repository) -> list[DigestGroup]:
    """The repository's tags grouped by digest, most recently pushed group first."""
    groups: dict[str, DigestGroup] = {}
    rows = db.session.scalars(
        sa.select(Tag).where(Tag.repository_id == repository.id).order_by(Tag.name)
    )
    for tag in rows:
        groups.setdefault(tag.digest, DigestGroup(tag.digest)).tags.append(tag)
    return sorted(groups.values(), key=lambda g: g.newest.pushed_at, reverse=True)


def tags_sharing_digest(tag: Tag) -> list[Tag]:
    """The other tags of the repository on the same digest (they go when ``tag`` goes)."""
    return list(
        db.session.scalars(
            sa.select(Tag)
            .where(
                Tag.repository_id == tag.repository_id,
                Tag.digest == tag.digest,
                Tag.id != tag.id,
            )
            .order_by(Tag.name)
        )
    )


def is_starred(user: User | None, repository: Repository) -> bool:
    """Whether ``user`` starred the repository."""
    if user is None:
        return False
    return bool(
        db.session.scalar(
            sa.select(Star.id).where(Star.user_id == user.id, Star.repository_id == repository.id)
        )
    )


def star_count(repository: Repository) -> int:
    """How many users starred the repository."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Star).where(Star.repository_id == repository.id)
    )


def toggle_star(actor: User, repository: Repository, *, settings: AccessSettings) -> bool:
    """Star or unstar; returns whether it is starred now. Portus checked nothing here."""
    require_on("repository.star", actor, repository, "you may not star this repository", settings)
    star = db.session.scalar(
        sa.select(Star).where(Star.user_id == actor.id, Star.repository_id == repository.id)
    )
    if star is not None:
        db.session.delete(star)
        return False
    db.session.add(Star(user_id=actor.id, repository_id=repository.id))
    return True


DESCRIPTION_MAX = 10_000


def change_description(
    plugins, actor: User, repository: Repository, description: str | None, *, settings
) -> Repository:
    """Replace the repository's description (admins and owners of its namespace's team).

    Records ``repository.change_description`` (nothing when unchanged).
    """
    require_on("repository.edit", actor, repository, "you may not edit this repository", settings)
    text = (description or "").strip() or None
    if text and len(text) > DESCRIPTION_MAX:
        raise Invalid(
            f"description must be at most {DESCRIPTION_MAX} characters", field="description"
        )
    if text != repository.description:
        repository.description = text
        namespaces.record_activity(
            plugins,
            "repository.change_description",
            actor,
            repository.namespace,
            repository_name=repository_name(repository),
        )
        db.session.flush()
    return repository


def get_tag_by_id(tag_id: int) -> Tag:
    """The tag with this id, or NotFound."""
    tag = db.session.get(Tag, tag_id)
    if tag is None:
        raise NotFound(f"no tag with id {tag_id}")
    return tag


def tag_count(repository: Repository) -> int:
    """How many tags the repository has."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Tag).where(Tag.repository_id == repository.id)
    )
