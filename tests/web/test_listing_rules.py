"""The SQL filters behind every list agree with the engine's per-object answers.

Lists cannot ask ``app.authz`` object by object (they paginate in SQL), so each filter in
``services/browse`` restates one rule. Here both are evaluated for every person against a
population with every kind and visibility of namespace and team, so they cannot drift.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Namespace, Repository, Team
from app.models.enums import NamespaceKind, Role, Visibility
from app.services import browse, namespaces, repositories, teams
from app.services.access import allowed_actions
from tests.factories import make_namespace, make_team, make_user
from tests.web.conftest import make_repository

PEOPLE = (None, "outsider", "viewer", "contributor", "owner", "admin")


@pytest.fixture
def population(world, plugins):
    """The world plus another team's namespaces of every visibility, each with an image."""
    stranger = make_user(plugins, "stranger")
    other = make_team("others", members=[(stranger, Role.OWNER)])
    for visibility in Visibility:
        ns = make_namespace(
            world.registry, other, f"other-{visibility.value}", visibility=visibility
        )
        make_repository(ns, "img")
    make_team("empty-team")
    return world


def person(world, name):
    """The user called ``name`` (None stays anonymous)."""
    return world.users[name] if name else None


@pytest.mark.parametrize("name", PEOPLE)
def test_namespace_list_matches_the_engine(population, name, app):
    user = person(population, name)
    settings = app.extensions["wharfinger.tokens"].access_settings
    listed = {ns.id for ns in db.session.scalars(browse.namespaces(user))}
    expected = {
        ns.id
        for ns in db.session.scalars(sa.select(Namespace))
        if allowed_actions(
            user,
            ("namespace.list",),
            namespace=namespaces.namespace_facts(ns),
            role=teams.role_of(ns.team, user),
            settings=settings,
        )["namespace.list"]
    }
    assert listed == expected
    if name not in (None, "admin"):
        personal = {
            ns.id
            for ns in db.session.scalars(sa.select(Namespace))
            if ns.kind == NamespaceKind.PERSONAL
        }
        assert len(listed & personal) == 1  # one's own personal namespace, nobody else's


@pytest.mark.parametrize("name", PEOPLE)
def test_repository_list_matches_the_engine(population, name, app):
    user = person(population, name)
    settings = app.extensions["wharfinger.tokens"].access_settings
    listed = {row.Repository.id for row in db.session.execute(browse.repositories(user))}
    expected = {
        repo.id
        for repo in db.session.scalars(sa.select(Repository))
        if repositories.permissions(user, repo, ("repository.list",), settings=settings)[
            "repository.list"
        ]
    }
    assert listed == expected


@pytest.mark.parametrize("name", PEOPLE)
def test_team_list_matches_the_engine(population, name, app):
    user = person(population, name)
    settings = app.extensions["wharfinger.tokens"].access_settings
    listed = {row.Team.id for row in db.session.execute(browse.teams(user))}
    expected = {
        team.id
        for team in db.session.scalars(sa.select(Team))
        if teams.team_permissions(user, team, settings=settings)["team.view"]
    }
    assert listed == expected


def test_search_escapes_like_wildcards(population):
    assert db.session.execute(browse.repositories(population.users["admin"], "%")).all() == []
    assert db.session.execute(browse.repositories(population.users["admin"], "_")).all() == []
    found = db.session.execute(browse.repositories(population.users["admin"], "devs/app:1.0"))
    assert [row.Repository.name for row in found] == ["app"]
    found = db.session.execute(browse.repositories(population.users["admin"], "app:1.0"))
    assert [row.Repository.name for row in found] == ["app"]  # the tag part is dropped
