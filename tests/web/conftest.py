"""Fixtures for the web UI: a browser-like client that carries CSRF tokens, and a small
world of users, a team with every role, namespaces and tagged repositories."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.extensions import db
from app.models import Repository, Tag
from app.models.enums import Visibility
from tests.factories import make_namespace, make_registry, make_role_team, make_user
from tests.support.web import WebClient


@pytest.fixture
def web(client) -> WebClient:
    """An anonymous browser."""
    return WebClient(client)


@pytest.fixture
def browser_for(app):
    """``browser_for(user)``: a new browser signed in as ``user``."""

    def make(user) -> WebClient:
        browser = WebClient(app.test_client())
        response = browser.sign_in(user.username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return browser

    return make


@dataclass
class World:
    """Users in every relation to team ``devs``, its namespaces and an image in each."""

    registry: object
    users: dict
    team: object
    private: object  # namespace devs (private)
    protected: object
    public: object
    repository: object  # devs/app with tags 1.0 and latest on one digest


def make_repository(namespace, name, tags=("1.0",), digest="sha256:" + "a" * 64, author=None):
    """A committed repository with tags on ``digest``."""
    repository = Repository(namespace_id=namespace.id, name=name)
    db.session.add(repository)
    db.session.flush()
    for tag in tags:
        db.session.add(
            Tag(
                repository_id=repository.id,
                name=tag,
                digest=digest,
                media_type="application/vnd.oci.image.manifest.v1+json",
                size=1234,
                author_name=author,
            )
        )
    db.session.commit()
    return repository


@pytest.fixture
def world(app, plugins) -> World:
    """A registry on a closed loopback port, six people, team ``devs`` and its namespaces."""
    registry = make_registry(plugins, hostname="127.0.0.1:9")
    users = {
        name: make_user(plugins, name, admin=(name == "admin"))
        for name in ("admin", "owner", "contributor", "viewer", "outsider")
    }
    team = make_role_team("devs", users)
    private = make_namespace(registry, team, "devs")
    protected = make_namespace(registry, team, "shared", visibility=Visibility.PROTECTED)
    public = make_namespace(registry, team, "open", visibility=Visibility.PUBLIC)
    repository = make_repository(private, "app", ("1.0", "latest"), author="contributor")
    make_repository(protected, "lib")
    make_repository(public, "tool")
    return World(registry, users, team, private, protected, public, repository)
