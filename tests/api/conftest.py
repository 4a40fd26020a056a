"""Fixtures for the REST API: a JSON client that authenticates like Portus's clients, and
the web tests' world (a team with every role, namespaces, tagged repositories)."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.services import credentials
from tests.web.conftest import browser_for, make_repository, web, world  # noqa: F401


class ApiClient:
    """The Flask test client speaking JSON, with ``Portus-Auth`` when it has a token;
    one app context per request, as under a real server."""

    def __init__(self, client, auth: str | None = None):
        self.client = client
        self.auth = auth

    def open(self, method: str, path: str, json=None, headers=None, **kwargs):
        """One request; ``json`` is sent as the body."""
        sent = dict(headers or {})
        if self.auth is not None:
            sent.setdefault("Portus-Auth", self.auth)
        with self.client.application.app_context():
            return self.client.open(
                path,
                method=method,
                json=json,
                headers=sent,
                base_url="https://localhost",
                **kwargs,
            )

    def get(self, path, **kwargs):
        return self.open("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.open("POST", path, json=json, **kwargs)

    def put(self, path, json=None, **kwargs):
        return self.open("PUT", path, json=json, **kwargs)

    def delete(self, path, **kwargs):
        return self.open("DELETE", path, **kwargs)


def issue_token(plugins, user, name="api", **options) -> str:
    """A committed application token for ``user``; returns ``username:token``."""
    _, plain = credentials.create_application_token(plugins, user, name, **options)
    db.session.commit()
    return f"{user.username}:{plain}"


@pytest.fixture
def api(client) -> ApiClient:
    """An anonymous API client."""
    return ApiClient(client)


@pytest.fixture
def api_as(app, plugins):
    """``api_as(user, **token_options)``: a client authenticated with a new token."""
    counter = iter(range(1000))

    def make(user, **options) -> ApiClient:
        auth = issue_token(plugins, user, f"api-{next(counter)}", **options)
        return ApiClient(app.test_client(), auth)

    return make
