"""Every API route for every relation to the objects: anonymous, outsider, viewer,
contributor, owner, admin (the web matrix's roles). The API asks the same engine
(``app.authz``) through the same services as the UI, so the cells mirror
``tests/web/test_route_matrix.py``.

Outcomes: ``ok`` (2xx), ``401``, ``403``, ``404``, ``refused`` (400: allowed, but a service
rule refused, e.g. a team that still owns namespaces), ``502`` (allowed, but the registry
at the closed port 127.0.0.1:9 could not delete the image), ``503``.
"""

from __future__ import annotations

import pytest

from app.extensions import db
from app.services import credentials
from app.services.teams import membership

# The matrix asks the engine through the same SQL as every other test; it runs on SQLite
# only (make test-mariadb/-postgres skip it: it was 60 % of their time).
pytestmark = pytest.mark.matrix

ROLES = ("anonymous", "outsider", "viewer", "contributor", "owner", "admin")
V1 = "/api/v1"


def row(method, path, expected, data=None):
    """One route: ``expected`` is a string of six outcomes in ROLES order."""
    outcomes = expected.split()
    assert len(outcomes) == len(ROLES), path
    return method, path, data, dict(zip(ROLES, outcomes, strict=True))


ADMIN_ONLY = "401 403 403 403 403 ok"
MEMBERS = "401 403 ok ok ok ok"
OWNERS = "401 403 403 403 ok ok"
# A person's own tokens: not even an admin (admins look after bots' tokens only).
SELF_ONLY = "401 403 403 403 ok 403"
EVERYONE = "401 ok ok ok ok ok"
PUBLIC = "ok ok ok ok ok ok"
NEW_USER = {
    "user": {"username": "newbie", "email": "newbie@example.com", "password": "long pw 123"}
}

MATRIX = [
    row("GET", "/users", ADMIN_ONLY),
    row("GET", "/users/{owner_id}", ADMIN_ONLY),
    row("GET", "/users/owner@example.com", ADMIN_ONLY),
    row("POST", "/users", ADMIN_ONLY, NEW_USER),
    row("PUT", "/users/{outsider_id}", ADMIN_ONLY, {"user": {"display_name": "Out"}}),
    row("DELETE", "/users/{outsider_id}", ADMIN_ONLY),
    row("GET", "/users/{owner_id}/application_tokens", SELF_ONLY),
    row("POST", "/users/{owner_id}/application_tokens", SELF_ONLY, {"application": "ci"}),
    row("DELETE", "/users/application_tokens/{owner_token}", SELF_ONLY),
    row("GET", "/teams", EVERYONE),
    row("GET", "/teams/{team}", MEMBERS),
    row("GET", "/teams/999999", "401 404 404 404 404 404"),
    row("POST", "/teams", EVERYONE, {"name": "newteam"}),
    row("PUT", "/teams/{team}", OWNERS, {"team": {"description": "x"}}),
    row("DELETE", "/teams/{team}", "401 403 403 403 refused refused"),
    row("GET", "/teams/{team}/namespaces", MEMBERS),
    row("GET", "/teams/{team}/members", MEMBERS),
    row("POST", "/teams/{team}/members", OWNERS, {"user": "outsider", "role": "viewer"}),
    row("PUT", "/teams/{team}/members/{viewer_member}", OWNERS, {"role": "contributor"}),
    row("DELETE", "/teams/{team}/members/{viewer_member}", OWNERS),
    row("GET", "/namespaces", EVERYONE),
    row("GET", "/namespaces/{private}", MEMBERS),
    row("GET", "/namespaces/{protected}", EVERYONE),
    row("GET", "/namespaces/{public}", EVERYONE),
    row("GET", "/namespaces/999999", "401 404 404 404 404 404"),
    row("GET", "/namespaces/{private}/repositories", MEMBERS),
    row("GET", "/namespaces/validate?name=fresh", EVERYONE),
    row(
        "POST",
        "/namespaces",
        "401 403 403 ok ok ok",
        {"namespace": {"name": "fresh", "team": "devs"}},
    ),
    row("PUT", "/namespaces/{private}", OWNERS, {"namespace": {"description": "about"}}),
    row("PUT", "/namespaces/{private}", OWNERS, {"namespace": {"team": "devs"}}),
    row(
        "PUT",
        "/namespaces/{private}/change_visibility",
        OWNERS,
        {"namespace": {"visibility": "protected"}},
    ),
    row("DELETE", "/namespaces/{private}", "401 403 403 403 502 502"),
    row("DELETE", "/namespaces/{public}", "401 403 403 403 502 502"),
    row("GET", "/repositories", EVERYONE),
    row("GET", "/repositories/{repo}", MEMBERS),
    row("GET", "/repositories/999999", "401 404 404 404 404 404"),
    row("PUT", "/repositories/{repo}", OWNERS, {"repository": {"description": "d"}}),
    row("DELETE", "/repositories/{repo}", "401 403 403 403 502 502"),
    row("GET", "/repositories/{repo}/tags", MEMBERS),
    row("GET", "/repositories/{repo}/tags/grouped", MEMBERS),
    row("GET", "/repositories/{repo}/tags/{tag}", MEMBERS),
    row("GET", "/tags", ADMIN_ONLY),
    row("GET", "/tags/{tag}", MEMBERS),
    row("DELETE", "/tags/{tag}", "401 403 403 403 502 502"),
    row("GET", "/registries", ADMIN_ONLY),
    row("GET", "/registries/{registry}", ADMIN_ONLY),
    row("GET", "/registries/validate?name=other&hostname=127.0.0.1:10", ADMIN_ONLY),
    row(
        "POST",
        "/registries",
        ADMIN_ONLY,
        {"registry": {"name": "second", "hostname": "127.0.0.1:10", "force": True}},
    ),
    row("PUT", "/registries/{registry}", ADMIN_ONLY, {"registry": {"use_ssl": False}}),
    row("GET", "/_ping", PUBLIC),
    row("GET", "/health", "503 503 503 503 503 503"),
    row("GET", "/openapi.json", PUBLIC),
    row("GET", "/docs", PUBLIC),
    row("GET", "/../version", EVERYONE),
]


def outcome(response) -> str:
    """Classify a response into the matrix's outcomes."""
    status = response.status_code
    if status < 300:
        return "ok"
    return "refused" if status == 400 else str(status)


def ids_of(world, plugins) -> dict[str, int]:
    """The ids the matrix paths name."""
    token, _ = credentials.create_application_token(plugins, world.users["owner"], "existing")
    db.session.commit()
    viewer = membership(world.team, world.users["viewer"])
    return {
        "team": world.team.id,
        "private": world.private.id,
        "protected": world.protected.id,
        "public": world.public.id,
        "repo": world.repository.id,
        "tag": world.repository.tags[0].id,
        "owner_id": world.users["owner"].id,
        "outsider_id": world.users["outsider"].id,
        "registry": world.registry.id,
        "owner_token": token.id,
        "viewer_member": viewer.id,
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "data", "expected"),
    MATRIX,
    ids=[f"{m} {p} {sorted((d or {}).items())!s:.40}" for m, p, d, _ in MATRIX],
)
def test_route(world, plugins, api, api_as, role, method, path, data, expected):
    ids = ids_of(world, plugins)
    client = api if role == "anonymous" else api_as(world.users[role])
    url = (V1 + path).format(**ids).replace("/v1/../", "/")
    response = client.open(method, url, json=data)
    assert outcome(response) == expected[role], response.get_data(as_text=True)[-600:]
    assert response.is_json or path == "/docs" or response.status_code == 204


@pytest.mark.parametrize(
    ("method", "path", "data", "expected"),
    [r for r in MATRIX if r[0] != "GET" and r[3]["admin"] == "ok"],
    ids=[f"{m} {p}" for m, p, _, e in MATRIX if m != "GET" and e["admin"] == "ok"],
)
def test_read_only_token_changes_nothing(world, plugins, api_as, method, path, data, expected):
    """A read-only token may do only the engine's ``reads`` rules: every change is 403,
    even for an administrator."""
    ids = ids_of(world, plugins)
    client = api_as(world.users["admin"], read_only=True)
    response = client.open(method, (V1 + path).format(**ids), json=data)
    assert response.status_code == 403, response.get_data(as_text=True)
