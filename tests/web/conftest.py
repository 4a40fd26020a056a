"""Fixtures for the web UI: a browser-like client that carries CSRF tokens, and a small
world of users, a team with every role, namespaces and tagged repositories."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from app.extensions import db
from app.models import Repository, Tag
from app.models.enums import Visibility
from tests.factories import PASSWORD, make_namespace, make_registry, make_role_team, make_user

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app_config(app_config):
    """Plain HTTP, so the test client keeps the session cookie (it is Secure on HTTPS)."""
    return {**app_config, "URL": "http://wharfinger.test"}


class WebClient:
    """The Flask test client plus what a browser does with forms: it sends the CSRF token
    that the page it came from carried."""

    def __init__(self, client):
        self.client = client
        self._token: str | None = None

    def _request(self, method: str, path: str, **kwargs):
        """One request in its own app context, as under a real server: otherwise requests
        share the test's context and its ``g`` (flask-login's user, Flask-WTF's token)."""
        with self.client.application.app_context():
            return self.client.open(path, method=method, **kwargs)

    def get(self, path: str, **kwargs):
        """GET ``path``, remembering a CSRF token if the page has a form."""
        response = self._request("GET", path, **kwargs)
        found = CSRF_FIELD.search(response.get_data(as_text=True))
        if found:
            self._token = found.group(1)
        return response

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kwargs):
        """POST a form; with ``csrf`` the token of a page of this session is included."""
        data = dict(data or {})
        if csrf:
            if self._token is None:
                self.get("/users/sign_in", follow_redirects=True)
            data["csrf_token"] = self._token
        return self._request("POST", path, data=data, **kwargs)

    def sign_in(self, username: str, password: str = PASSWORD):
        """Sign in through the form; returns the response."""
        return self.post("/users/sign_in", {"username": username, "password": password})


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
