"""Namespaces: create team namespaces, change visibility, description and team
(portus.md §1.3, §2.2).

Who may do what is decided only by ``app.authz``; a refusal becomes ``Forbidden``. The
caller commits.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.authz import management
from app.authz.settings import AccessSettings
from app.authz.subjects import NamespaceFacts
from app.extensions import db
from app.models import Namespace, Registry, Team, User
from app.models.enums import NamespaceKind, Visibility
from app.services import activities, names
from app.services.access import allowed_actions, require
from app.services.errors import Conflict, Invalid, NotFound
from app.services.teams import role_of, team_facts

DESCRIPTION_MAX = 10_000


def namespace_facts(namespace: Namespace) -> NamespaceFacts:
    """The authorization engine's view of ``namespace``."""
    return NamespaceFacts(
        namespace.id,
        namespace.name,
        namespace.kind,
        namespace.visibility,
        namespace.team_id,
        namespace.team.hidden,
    )


def require_on(action: str, user: User, namespace: Namespace, message: str, **facts) -> None:
    """``require`` about ``namespace``, with ``user``'s role in its team."""
    require(
        action,
        user,
        message,
        namespace=namespace_facts(namespace),
        role=role_of(namespace.team, user),
        **facts,
    )


def _clean_description(description: str | None) -> str | None:
    """Trimmed description, None when empty; Invalid when absurdly long."""
    text = (description or "").strip()
    if len(text) > DESCRIPTION_MAX:
        raise Invalid(
            f"description must be at most {DESCRIPTION_MAX} characters", field="description"
        )
    return text or None


def _check_visibility(value: Visibility | str) -> Visibility:
    """Accept a Visibility or its value (``"public"``); anything else is Invalid."""
    try:
        return Visibility(value)
    except ValueError:
        choices = ", ".join(v.value for v in Visibility)
        raise Invalid(
            f"unknown visibility {value!r}: expected one of {choices}", field="visibility"
        ) from None


def record_activity(plugins, key: str, actor: User, namespace: Namespace, **params) -> None:
    """Record a ``namespace.*`` activity aimed at ``namespace``."""
    activities.record(
        plugins,
        key,
        actor,
        "namespace",
        namespace.id,
        namespace.name,
        team_id=namespace.team_id,
        namespace_id=namespace.id,
        **params,
    )


def create_namespace(
    plugins,
    actor: User,
    registry: Registry,
    team: Team,
    name: str,
    description: str | None = None,
    *,
    settings: AccessSettings,
) -> Namespace:
    """Create a private namespace in ``registry`` owned by the visible ``team``.

    Names are unique per registry. Records ``namespace.create``.
    """
    message = (
        f"team {team.name!r} is internal and cannot own new namespaces"
        if team.hidden
        else f"you may not create namespaces for team {team.name!r}"
    )
    require(
        "namespace.create",
        actor,
        message,
        team=team_facts(team),
        role=role_of(team, actor),
        settings=settings,
    )
    name = names.check_namespace_name(name)
    taken = sa.select(Namespace.id).where(
        Namespace.registry_id == registry.id, Namespace.name == name
    )
    if db.session.scalar(taken):
        raise Conflict(f"namespace {name!r} already exists in {registry.name}", field="name")
    namespace = Namespace(
        name=name,
        registry_id=registry.id,
        team=team,
        kind=NamespaceKind.TEAM,
        visibility=Visibility.PRIVATE,
        description=_clean_description(description),
    )
    db.session.add(namespace)
    db.session.flush()
    record_activity(plugins, "namespace.create", actor, namespace, team=team.name)
    return namespace


def change_visibility(
    plugins,
    actor: User,
    namespace: Namespace,
    visibility: Visibility | str,
    *,
    settings: AccessSettings,
) -> Namespace:
    """Make ``namespace`` private, protected or public; a global namespace is never private.

    Records ``namespace.change_visibility`` (nothing when unchanged).
    """
    visibility = _check_visibility(visibility)
    if visibility not in management.visibility_choices(namespace_facts(namespace)):
        raise Invalid("the global namespace cannot be private", field="visibility")
    require_on(
        "namespace.change_visibility",
        actor,
        namespace,
        f"you may not change the visibility of {namespace.name!r}",
        settings=settings,
        visibility=visibility,
    )
    old = namespace.visibility
    if old == visibility:
        return namespace
    namespace.visibility = visibility
    db.session.flush()
    record_activity(
        plugins,
        "namespace.change_visibility",
        actor,
        namespace,
        old_visibility=old.value,
        visibility=visibility.value,
    )
    return namespace


def change_description(
    plugins,
    actor: User,
    namespace: Namespace,
    description: str | None,
    *,
    settings: AccessSettings,
) -> Namespace:
    """Replace ``namespace``'s description (empty clears it).

    Records ``namespace.change_description`` (nothing when unchanged).
    """
    require_on(
        "namespace.edit",
        actor,
        namespace,
        f"you may not edit namespace {namespace.name!r}",
        settings=settings,
    )
    description = _clean_description(description)
    if description == namespace.description:
        return namespace
    namespace.description = description
    db.session.flush()
    record_activity(plugins, "namespace.change_description", actor, namespace)
    return namespace


def transfer(
    plugins, actor: User, namespace: Namespace, team: Team, *, settings: AccessSettings
) -> Namespace:
    """Move a team namespace to another visible ``team``.

    Records ``namespace.change_team`` (nothing when it already belongs to ``team``).
    """
    require_on(
        "namespace.change_team",
        actor,
        namespace,
        f"you may not move namespace {namespace.name!r} to team {team.name!r}",
        team=team_facts(team),
        settings=settings,
    )
    old = namespace.team
    if old.id == team.id:
        return namespace
    namespace.team = team
    db.session.flush()
    record_activity(
        plugins, "namespace.change_team", actor, namespace, old_team=old.name, team=team.name
    )
    return namespace


NAMESPACE_ACTIONS = (
    "namespace.view",
    "namespace.edit",
    "namespace.change_visibility",
    "namespace.change_team",
    "namespace.delete",
)


def get_namespace(namespace_id: int) -> Namespace:
    """The namespace with this id, or NotFound."""
    namespace = db.session.get(Namespace, namespace_id)
    if namespace is None:
        raise NotFound(f"no namespace with id {namespace_id}")
    return namespace


def namespace_permissions(
    user: User | None, namespace: Namespace, *, settings: AccessSettings
) -> dict[str, bool]:
    """What ``user`` may do with ``namespace``, plus the visibilities it may be given."""
    can = allowed_actions(
        user,
        NAMESPACE_ACTIONS,
        namespace=namespace_facts(namespace),
        role=role_of(namespace.team, user),
        settings=settings,
    )
    can["visibilities"] = sorted(
        v.value for v in management.visibility_choices(namespace_facts(namespace))
    )
    return can


def name_problems(registry: Registry, name: str) -> list[str]:
    """Why ``name`` cannot name a new namespace in ``registry`` (empty: it can)."""
    try:
        name = names.check_namespace_name(name or "")
    except Invalid as exc:
        return [str(exc)]
    taken = sa.select(Namespace.id).where(
        Namespace.registry_id == registry.id, Namespace.name == name
    )
    if db.session.scalar(taken):
        return ["has already been taken"]  # Rails's wording, as Portus's validate answered
    return []
