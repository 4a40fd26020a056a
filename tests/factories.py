"""Factories for users, teams, registries and namespaces, built through the services."""

from __future__ import annotations

import itertools

from app.extensions import db
from app.models import Namespace, Team, TeamMember
from app.models.enums import NamespaceKind, Role, Visibility
from app.services import accounts, registries

_counter = itertools.count(1)
PASSWORD = "correct horse battery"


def make_user(plugins, username=None, *, admin=False, bot=False, password=PASSWORD):
    """A committed user (with personal team and namespaces unless a bot)."""
    username = username or f"user{next(_counter)}"
    user = accounts.create_user(
        plugins,
        username,
        None if bot else f"{username}@example.com",
        None if bot else password,
        admin=admin,
        bot=bot,
    )
    db.session.commit()
    return user


def make_registry(plugins, name="main", hostname="registry.test:5000", **options):
    """A committed registry with its global namespace."""
    registry = registries.add_registry(plugins, name, hostname, **options)
    db.session.commit()
    return registry


def make_team(name=None, *, members=()):
    """A committed visible team; ``members`` is a list of (user, Role)."""
    team = Team(name=name or f"team{next(_counter)}")
    for user, role in members:
        team.members.append(TeamMember(user=user, role=role))
    db.session.add(team)
    db.session.commit()
    return team


def make_role_team(name, users):
    """A committed team whose members are ``users["owner"]``, ``["contributor"]`` and
    ``["viewer"]`` with those roles (the role matrix every authorization test needs)."""
    roles = (("owner", Role.OWNER), ("contributor", Role.CONTRIBUTOR), ("viewer", Role.VIEWER))
    return make_team(name, members=[(users[key], role) for key, role in roles])


def make_namespace(
    registry, team, name=None, *, visibility=Visibility.PRIVATE, kind=NamespaceKind.TEAM
):
    """A committed namespace owned by ``team``."""
    namespace = Namespace(
        name=name or f"ns{next(_counter)}",
        registry_id=registry.id,
        team_id=team.id,
        kind=kind,
        visibility=visibility,
    )
    db.session.add(namespace)
    db.session.commit()
    return namespace


__all__ = [
    "PASSWORD",
    "Role",
    "make_namespace",
    "make_registry",
    "make_role_team",
    "make_team",
    "make_user",
]
