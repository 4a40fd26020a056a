"""A repository's page (tags grouped by digest), stars, and tag/repository deletion."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.blueprints.web import (
    access_settings,
    browsing_user,
    commit_deletion,
    done,
    form_errors,
    plugins,
    registry_client,
    signed_in_user,
    unseen,
)
from app.extensions import db
from app.models import Repository
from app.services import deletion, repositories
from app.services.errors import Forbidden, ServiceError

bp = Blueprint("repositories", __name__, url_prefix="/repositories")

REPOSITORY_ACTIONS = ("tag.delete", "repository.delete", "repository.star")


def _viewable(repository_id: int):
    """The repository, if the visitor may see it (Forbidden otherwise)."""
    repository = repositories.get_repository(repository_id)
    try:
        repositories.require_view(browsing_user(), repository, access_settings())
    except Forbidden:
        unseen(f"no repository with id {repository_id}")
    return repository


def _show(repository, errors=None, status=200):
    """The repository page, optionally with an error from a failed action."""
    user = signed_in_user()
    settings = access_settings()
    return render_template(
        "repositories/show.html",
        repository=repository,
        name=repositories.repository_name(repository),
        groups=repositories.digest_groups(repository),
        can=repositories.permissions(user, repository, REPOSITORY_ACTIONS, settings=settings),
        starred=repositories.is_starred(user, repository),
        stars=repositories.star_count(repository),
        errors=errors or {},
    ), status


@bp.get("/<int:repository_id>")
def show(repository_id: int):
    """Tags grouped by digest with author, platforms, size, push and pull times."""
    return _show(_viewable(repository_id))


@bp.post("/<int:repository_id>/star")
@login_required
def toggle_star(repository_id: int):
    """Star or unstar the repository."""
    repository = _viewable(repository_id)
    starred = repositories.toggle_star(current_user, repository, settings=access_settings())
    db.session.commit()
    done("Starred." if starred else "Star removed.")
    return redirect(url_for("repositories.show", repository_id=repository.id))


def _delete(repository, remove, success):
    """Run a deletion against the repository's registry, then go to the repository (or its
    namespace once the repository is gone), or show the refusal on the page.

    ``success(result)`` words the confirmation from what ``remove(client)`` returned.
    """
    repository_id, namespace_id = repository.id, repository.namespace_id
    with registry_client(repository.namespace.host_registry) as client:
        try:
            result = commit_deletion(lambda: remove(client))
        except ServiceError as error:
            return _show(repositories.get_repository(repository_id), form_errors(error), 400)
    done(success(result))
    if db.session.get(Repository, repository_id) is None:
        return redirect(url_for("namespaces.show", namespace_id=namespace_id))
    return redirect(url_for("repositories.show", repository_id=repository_id))


@bp.post("/<int:repository_id>/tags/<path:tag_name>/delete")
@login_required
def delete_tag(repository_id: int, tag_name: str):
    """Delete a tag's manifest in the registry; every tag on that digest goes with it."""
    repository = _viewable(repository_id)
    tag = repositories.get_tag(repository, tag_name)
    return _delete(
        repository,
        lambda client: deletion.delete_tag(
            plugins(), current_user, tag, settings=access_settings(), client=client
        ),
        lambda removed: "Deleted tag " + ", ".join(removed) + ".",
    )


@bp.post("/<int:repository_id>/delete")
@login_required
def delete(repository_id: int):
    """Delete the repository with all its images (in the registry too)."""
    repository = _viewable(repository_id)
    name = repositories.repository_name(repository)
    return _delete(
        repository,
        lambda client: deletion.delete_repository(
            plugins(), current_user, repository, settings=access_settings(), client=client
        ),
        lambda _: f"Repository {name} deleted.",
    )
