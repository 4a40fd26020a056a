"""Every UI route for every relation to the objects: anonymous, outsider, viewer,
contributor, owner, admin. Pages and forms ask the same engine (``app.authz``) as the token
server; these cells pin the outcome of each.

Outcomes: ``ok`` (2xx, or a redirect that is not to sign-in), ``login`` (sent to sign-in),
``403``, ``404``, and ``refused`` (allowed, but the service refused: a 400 with the reason,
e.g. the registry at the closed port 127.0.0.1:9 could not delete an image). A missing
CSRF token would be ``csrf``, which no cell expects. Objects a person may not see answer
404, the same as objects that do not exist (anonymous visitors are sent to sign in).
"""

from __future__ import annotations

import pytest

# The matrix asks the engine through the same SQL as every other test; it runs on SQLite
# only (make test-mariadb/-postgres skip it: it was 60 % of their time).
pytestmark = pytest.mark.matrix

ROLES = ("anonymous", "outsider", "viewer", "contributor", "owner", "admin")


def row(method, path, expected, data=None):
    """One route: ``expected`` is a string of six outcomes in ROLES order."""
    outcomes = expected.split()
    assert len(outcomes) == len(ROLES), path
    return method, path, data or {}, dict(zip(ROLES, outcomes, strict=True))


# {team} {private} {protected} {public} {repo} {owner_id} {outsider_id} {registry} are
# filled from the world fixture.
MATRIX = [
    row("GET", "/", "ok ok ok ok ok ok"),
    row("GET", "/explore", "ok ok ok ok ok ok"),
    row("GET", "/search?q=app", "ok ok ok ok ok ok"),
    row("GET", "/namespaces/", "login ok ok ok ok ok"),
    row("GET", "/namespaces/{private}", "login 404 ok ok ok ok"),
    row("GET", "/namespaces/{protected}", "login ok ok ok ok ok"),
    row("GET", "/namespaces/{public}", "ok ok ok ok ok ok"),
    row("GET", "/namespaces/999999", "404 404 404 404 404 404"),
    row("GET", "/repositories/{repo}", "login 404 ok ok ok ok"),
    row("GET", "/repositories/999999", "404 404 404 404 404 404"),
    row("GET", "/teams/", "login ok ok ok ok ok"),
    row("GET", "/teams/{team}", "login 404 ok ok ok ok"),
    row("GET", "/teams/{team}/typeahead?q=o", "login 404 403 403 ok ok"),
    row("GET", "/profile", "login ok ok ok ok ok"),
    row("GET", "/users/{owner_id}/tokens", "login 403 403 403 ok 403"),
    row("GET", "/admin/", "login 403 403 403 403 ok"),
    row("GET", "/admin/users", "login 403 403 403 403 ok"),
    row("GET", "/admin/registries", "login 403 403 403 403 ok"),
    row("GET", "/admin/registries/new", "login 403 403 403 403 ok"),
    row("GET", "/admin/activities", "login 403 403 403 403 ok"),
    row("GET", "/admin/activities.csv", "login 403 403 403 403 ok"),
    row("GET", "/admin/events", "login 403 403 403 403 ok"),
    row("GET", "/admin/diagnostics", "login 403 403 403 403 ok"),
    row("POST", "/teams/", "login ok ok ok ok ok", {"name": "newteam"}),
    row("POST", "/teams/{team}/edit", "login 404 403 403 ok ok", {"description": "x"}),
    row("POST", "/teams/{team}/delete", "login 404 403 403 refused refused"),
    row(
        "POST",
        "/teams/{team}/members",
        "login 404 403 403 ok ok",
        {"username": "outsider", "role": "viewer"},
    ),
    row(
        "POST",
        "/teams/{team}/members/viewer/role",
        "login 404 403 403 ok ok",
        {"role": "contributor"},
    ),
    row("POST", "/teams/{team}/members/viewer/remove", "login 404 403 403 ok ok"),
    row(
        "POST",
        "/namespaces/",
        "login 403 403 ok ok ok",
        {"team_id": "{team}", "registry_id": "{registry}", "name": "fresh"},
    ),
    row(
        "POST",
        "/namespaces/{private}/visibility",
        "login 404 403 403 ok ok",
        {"visibility": "protected"},
    ),
    row(
        "POST",
        "/namespaces/{private}/description",
        "login 404 403 403 ok ok",
        {"description": "about"},
    ),
    row("POST", "/namespaces/{private}/team", "login 404 403 403 ok ok", {"team_id": "{team}"}),
    row("POST", "/namespaces/{private}/delete", "login 404 403 403 refused refused"),
    row("POST", "/namespaces/{public}/delete", "login 403 403 403 refused refused"),
    row("POST", "/repositories/{repo}/star", "login 404 ok ok ok ok"),
    row("POST", "/repositories/{repo}/tags/1.0/delete", "login 404 403 403 refused refused"),
    row("POST", "/repositories/{repo}/delete", "login 404 403 403 refused refused"),
    row(
        "POST",
        "/users/{owner_id}/tokens",
        "login 403 403 403 ok 403",
        {"application": "ci"},
    ),
    row(
        "POST",
        "/admin/users",
        "login 403 403 403 403 ok",
        {"username": "newbie", "email": "newbie@example.com", "password": "long enough pw"},
    ),
    row("GET", "/admin/users/{outsider_id}", "login 403 403 403 403 ok"),
    row(
        "POST",
        "/admin/users/{outsider_id}",
        "login 403 403 403 403 ok",
        {"email": "changed@example.com", "display_name": "Out Sider"},
    ),
    row("POST", "/admin/users/{outsider_id}/enabled", "login 403 403 403 403 ok"),
    row("POST", "/admin/users/{outsider_id}/admin", "login 403 403 403 403 ok"),
]


def outcome(response) -> str:
    """Classify a response into the matrix's outcomes."""
    status = response.status_code
    if status in (301, 302, 303):
        return "login" if "/users/sign_in" in response.headers["Location"] else "ok"
    if status == 400:
        body = response.get_data(as_text=True)
        return "csrf" if "was not sent by this site" in body else "refused"
    if status < 300:
        return "ok"
    return str(status)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "data", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX]
)
def test_route(world, web, browser_for, role, method, path, data, expected):
    ids = {
        "team": world.team.id,
        "private": world.private.id,
        "protected": world.protected.id,
        "public": world.public.id,
        "repo": world.repository.id,
        "owner_id": world.users["owner"].id,
        "outsider_id": world.users["outsider"].id,
        "registry": world.registry.id,
    }
    browser = web if role == "anonymous" else browser_for(world.users[role])
    url = path.format(**ids)
    if method == "GET":
        response = browser.get(url)
    else:
        response = browser.post(url, {k: v.format(**ids) for k, v in data.items()})
    assert outcome(response) == expected[role], response.get_data(as_text=True)[-600:]
