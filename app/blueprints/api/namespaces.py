"""``/api/v1/namespaces``: list, show, validate, create, update (description, visibility,
team), delete, and a namespace's repositories."""

from __future__ import annotations

from flask import jsonify, request

from app.blueprints.api import entities
from app.blueprints.api.core import (
    ID,
    ApiError,
    access_settings,
    body,
    bp,
    caller,
    created,
    identifier,
    no_content,
    paginated,
    plugins,
    saved,
    sorted_by,
    text,
)
from app.blueprints.web import registry_client
from app.models import Namespace, Registry, Team
from app.models.enums import Visibility
from app.services import browse, deletion, namespaces, registries, teams

NAMESPACE_SORT = {"id": Namespace.id, "name": Namespace.name, "created_at": Namespace.created_at}


def viewable(namespace_id: int) -> Namespace:
    """The namespace, if the caller may see it (403 otherwise)."""
    namespace = namespaces.get_namespace(namespace_id)
    namespaces.require_on(
        "namespace.view",
        caller(),
        namespace,
        "you may not see this namespace",
        settings=access_settings(),
    )
    return namespace


def _registry(data) -> Registry:
    """``registry_id`` when given, else the only registry."""
    registry_id = identifier(data, "registry_id")
    return registries.get_registry_by_id(registry_id) if registry_id else registries.only_registry()


def _team(data) -> Team | None:
    """The ``team`` parameter (a team name or id); None when absent; 404 when unknown."""
    reference = text(data, "team", maximum=255)
    if reference is None:
        team_id = identifier(data, "team_id")
        return teams.get_team(team_id) if team_id else None
    if reference.isascii() and reference.isdigit() and len(reference) < 10:
        return teams.get_team(int(reference))
    return teams.get_team_by_name(reference)


@bp.get("/v1/namespaces")
def list_namespaces():
    """Namespaces the caller may list: public, protected, and their teams' namespaces."""
    select = sorted_by(browse.namespaces(caller()), NAMESPACE_SORT, "id")
    return paginated(select, entities.namespace)


@bp.get(f"/v1/namespaces/<{ID}:namespace_id>")
def get_namespace(namespace_id: int):
    """One namespace."""
    return jsonify(entities.namespace(viewable(namespace_id)))


@bp.get(f"/v1/namespaces/<{ID}:namespace_id>/repositories")
def namespace_repositories(namespace_id: int):
    """The repositories of one namespace."""
    namespace = viewable(namespace_id)
    select = browse.repositories(caller(), namespace_id=namespace.id)
    return paginated(select, entities.repository_row, scalars=False)


@bp.get("/v1/namespaces/validate")
def validate_namespace():
    """Whether ``name`` could name a new namespace: ``{"valid", "messages"}``."""
    name = text(request.args, "name", maximum=300) or ""
    problems = namespaces.name_problems(_registry(request.args), name)
    return jsonify(valid=not problems, messages={"name": problems} if problems else {})


@bp.post("/v1/namespaces")
def create_namespace():
    """Create a private namespace owned by ``team`` (its name or id)."""
    data = body("namespace")
    team = _team(data)
    if team is None:
        raise ApiError(400, "team is missing", {"team": ["is missing"]})
    namespace = namespaces.create_namespace(
        plugins(),
        caller(),
        _registry(data),
        team,
        text(data, "name", required=True, maximum=300) or "",
        text(data, "description"),
        settings=access_settings(),
    )
    return created(entities.namespace(namespace))


def _visibility(value: str) -> str:
    """A visibility name; 422 for an unknown one, as Portus answered."""
    if value not in {v.value for v in Visibility}:
        raise ApiError(422, f"unknown visibility {value!r}", {"visibility": ["is unknown"]})
    return value


def _update(namespace: Namespace, data) -> Namespace:
    """Apply description, visibility and team changes, each through its service."""
    name = text(data, "name", maximum=300)
    if name is not None and name != namespace.name:
        raise ApiError(400, "namespaces cannot be renamed", {"name": ["cannot change"]})
    settings, actor = access_settings(), caller()
    description = text(data, "description")
    if description is not None:
        namespaces.change_description(plugins(), actor, namespace, description, settings=settings)
    visibility = text(data, "visibility", maximum=32)
    if visibility is not None:
        namespaces.change_visibility(
            plugins(), actor, namespace, _visibility(visibility), settings=settings
        )
    team = _team(data)
    if team is not None:
        namespaces.transfer(plugins(), actor, namespace, team, settings=settings)
    return namespace


@bp.put(f"/v1/namespaces/<{ID}:namespace_id>")
def update_namespace(namespace_id: int):
    """Change description, visibility or team (``team`` moves it)."""
    return saved(entities.namespace(_update(viewable(namespace_id), body("namespace"))))


@bp.put(f"/v1/namespaces/<{ID}:namespace_id>/change_visibility")
def change_visibility(namespace_id: int):
    """Make a namespace private, protected or public."""
    data = body("namespace")
    if text(data, "visibility", maximum=32) is None:
        raise ApiError(400, "visibility is missing", {"visibility": ["is missing"]})
    return saved(entities.namespace(_update(viewable(namespace_id), data)))


@bp.delete(f"/v1/namespaces/<{ID}:namespace_id>")
def delete_namespace(namespace_id: int):
    """Delete a team namespace with its repositories (in the registry first)."""
    namespace = viewable(namespace_id)
    with registry_client(namespace.host_registry) as client:
        deletion.delete_namespace(
            plugins(), caller(), namespace, settings=access_settings(), client=client
        )
    return no_content()
