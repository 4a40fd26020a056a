"""``/api/v1/repositories`` and ``/api/v1/tags``: browse, describe and delete images."""

from __future__ import annotations

import sqlalchemy as sa
from flask import jsonify

from app.blueprints.api import entities
from app.blueprints.api.core import (
    ID,
    access_settings,
    body,
    bp,
    caller,
    no_content,
    paginated,
    plugins,
    require_admin,
    saved,
    text,
)
from app.blueprints.web import registry_client
from app.models import Repository, Tag
from app.services import browse, deletion, repositories
from app.services.errors import NotFound


def viewable(repository_id: int) -> Repository:
    """The repository, if the caller may see it (403 otherwise)."""
    repository = repositories.get_repository(repository_id)
    repositories.require_view(caller(), repository, access_settings())
    return repository


def viewable_tag(tag_id: int) -> Tag:
    """The tag, if the caller may see its repository."""
    tag = repositories.get_tag_by_id(tag_id)
    viewable(tag.repository_id)
    return tag


@bp.get("/v1/repositories")
def list_repositories():
    """Repositories the caller may list, most recently pushed first."""
    return paginated(browse.repositories(caller()), entities.repository_row, scalars=False)


@bp.get(f"/v1/repositories/<{ID}:repository_id>")
def get_repository(repository_id: int):
    """One repository."""
    return jsonify(entities.repository(viewable(repository_id)))


@bp.put(f"/v1/repositories/<{ID}:repository_id>")
def update_repository(repository_id: int):
    """Change the description (administrators and owners of the namespace's team)."""
    description = text(body("repository"), "description", required=True)
    repository = repositories.change_description(
        plugins(), caller(), viewable(repository_id), description, settings=access_settings()
    )
    return saved(entities.repository(repository))


@bp.delete(f"/v1/repositories/<{ID}:repository_id>")
def delete_repository(repository_id: int):
    """Delete a repository with all its images (in the registry first)."""
    repository = viewable(repository_id)
    with registry_client(repository.namespace.host_registry) as client:
        deletion.delete_repository(
            plugins(), caller(), repository, settings=access_settings(), client=client
        )
    return no_content()


@bp.get(f"/v1/repositories/<{ID}:repository_id>/tags")
def repository_tags(repository_id: int):
    """A repository's tags, by name."""
    repository = viewable(repository_id)
    select = sa.select(Tag).where(Tag.repository_id == repository.id).order_by(Tag.name, Tag.id)
    return paginated(select, entities.tag)


@bp.get(f"/v1/repositories/<{ID}:repository_id>/tags/grouped")
def grouped_tags(repository_id: int):
    """Tags grouped by digest (Portus's grouped table), newest group first."""
    groups = repositories.digest_groups(viewable(repository_id))
    return jsonify([[entities.tag(tag) for tag in group.tags] for group in groups])


@bp.get(f"/v1/repositories/<{ID}:repository_id>/tags/<{ID}:tag_id>")
def repository_tag(repository_id: int, tag_id: int):
    """One tag of a repository."""
    tag = viewable_tag(tag_id)
    if tag.repository_id != repository_id:
        raise NotFound(f"repository {repository_id} has no tag with id {tag_id}")
    return jsonify(entities.tag(tag))


@bp.get("/v1/tags")
def list_tags():
    """Every tag (administrators only, as in Portus)."""
    require_admin()
    return paginated(sa.select(Tag).order_by(Tag.id), entities.tag)


@bp.get(f"/v1/tags/<{ID}:tag_id>")
def get_tag(tag_id: int):
    """One tag."""
    return jsonify(entities.tag(viewable_tag(tag_id)))


@bp.delete(f"/v1/tags/<{ID}:tag_id>")
def delete_tag(tag_id: int):
    """Delete a tag's manifest in the registry; every tag on that digest goes with it."""
    tag = viewable_tag(tag_id)
    with registry_client(tag.repository.namespace.host_registry) as client:
        deletion.delete_tag(plugins(), caller(), tag, settings=access_settings(), client=client)
    return no_content()
