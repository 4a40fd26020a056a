"""What each endpoint answers: entities, changes, validation errors in Portus's shapes,
pagination and sorting, and bad input that must never become a 500."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Namespace, Team, User
from tests.factories import make_user

V1 = "/api/v1"


@pytest.fixture
def admin(world, api_as):
    return api_as(world.users["admin"])


# --- users ---------------------------------------------------------------------------


def test_user_lifecycle(world, admin):
    created = admin.post(
        f"{V1}/users",
        json={"user": {"username": "newbie", "email": "n@example.com", "password": "long pw 123"}},
    )
    assert created.status_code == 201
    user = created.json
    assert {"id", "username", "email", "admin", "namespace_id", "display_name"} <= set(user)
    assert isinstance(user["id"], int) and isinstance(user["namespace_id"], int)
    assert admin.get(f"{V1}/users/n@example.com").json["id"] == user["id"]
    assert admin.get(f"{V1}/users/newbie").json["id"] == user["id"]
    updated = admin.put(
        f"{V1}/users/{user['id']}", json={"display_name": "New Bie", "admin": True}
    ).json
    assert (updated["display_name"], updated["admin"]) == ("New Bie", True)
    assert admin.put(f"{V1}/users/{user['id']}", json={"admin": False}).json["admin"] is False
    assert admin.delete(f"{V1}/users/{user['id']}").status_code == 204
    assert admin.get(f"{V1}/users/{user['id']}").status_code == 404
    assert db.session.query(Namespace).filter_by(name="newbie").count() == 0


def test_bot_creation_unwrapped(world, admin):
    response = admin.post(f"{V1}/users", json={"username": "robot", "bot": True})
    assert response.status_code == 201
    assert response.json["bot"] and response.json["namespace_id"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"user": {"email": "a@example.com", "password": "long pw 123"}}, "username"),
        (
            {"user": {"username": "x y", "email": "a@example.com", "password": "pw pw pw pw"}},
            "username",
        ),
        ({"user": {"username": "ok", "email": "nope", "password": "long pw 123"}}, "email"),
        ({"user": {"username": "ok", "email": "a@example.com", "password": "short"}}, "password"),
        (
            {"user": {"username": "owner", "email": "a@example.com", "password": "long pw 1"}},
            "username",
        ),
        (
            {"user": {"username": 5.5, "email": "a@example.com", "password": "long pw 1"}},
            "username",
        ),
        (
            {
                "user": {
                    "username": "ok",
                    "email": "a@example.com",
                    "password": "long pw 1",
                    "bot": "x",
                }
            },
            "bot",
        ),
    ],
)
def test_user_validation(world, admin, payload, field):
    response = admin.post(f"{V1}/users", json=payload)
    duplicate = payload["user"].get("username") == "owner"  # Portus's 422 for a duplicate
    assert response.status_code == (422 if duplicate else 400)
    assert field in response.json["errors"], response.json
    assert response.json["message"]


def test_user_rules_kept(world, admin):
    me = world.users["admin"].id
    assert admin.delete(f"{V1}/users/{me}").status_code == 400
    assert admin.put(f"{V1}/users/{me}", json={"admin": False}).status_code == 403  # engine
    owner = world.users["owner"].id
    refused = admin.delete(f"{V1}/users/{owner}")
    assert refused.status_code == 400 and "only owner" in refused.json["message"]
    renamed = admin.put(f"{V1}/users/{owner}", json={"username": "other"})
    assert renamed.status_code == 400


def test_disable_user_through_update(world, admin, api_as):
    outsider = world.users["outsider"]
    client = api_as(outsider)
    assert admin.put(f"{V1}/users/{outsider.id}", json={"enabled": False}).json["enabled"] is False
    assert client.get(f"{V1}/teams").status_code == 401


# --- pagination and sorting ----------------------------------------------------------


def test_pagination_headers(world, admin, plugins):
    for number in range(4):
        make_user(plugins, f"extra{number}")
    response = admin.get(f"{V1}/users?per_page=3&page=2&sort_attr=username&sort_order=desc")
    headers = response.headers
    assert (headers["X-Total"], headers["X-Total-Pages"], headers["X-Page"]) == ("9", "3", "2")
    assert (headers["X-Per-Page"], headers["X-Next-Page"], headers["X-Prev-Page"]) == (
        "3",
        "3",
        "1",
    )
    assert 'rel="next"' in headers["Link"] and 'rel="prev"' in headers["Link"]
    names = [u["username"] for u in response.json]
    assert names == sorted(names, reverse=True) and len(names) == 3
    everything = admin.get(f"{V1}/users?all=true&per_page=2").json
    assert len(everything) == 9
    beyond = admin.get(f"{V1}/users?page=50")
    assert beyond.status_code == 200 and beyond.json == []


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=99999999999999999999",
        "per_page=1000",
        "sort_attr=password_hash",
        "sort_order=sideways",
        "all=perhaps",
    ],
)
def test_bad_pagination_is_400(world, admin, query):
    response = admin.get(f"{V1}/users?{query}")
    assert response.status_code == 400
    assert response.json["message"]


# --- bad input never makes a 500 ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/teams", b"{not json"),
        ("POST", "/teams", b"[1, 2]"),
        ("POST", "/teams", b'"text"'),
        ("POST", "/namespaces", b'{"namespace": 5}'),
        ("PUT", "/teams/1", b'{"name": {"deep": 1}}'),
        ("POST", "/users", b"\xff\xfe"),
    ],
)
def test_malformed_bodies_are_400(world, admin, method, path, body):
    response = admin.open(
        method, V1 + path, data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 403, 404), response.get_data(as_text=True)
    assert response.is_json


@pytest.mark.parametrize(
    "path",
    [
        "/users/99999999999999999999999",
        "/teams/99999999999999999999",
        "/namespaces/2147483648",
        "/tags/0",
        "/users/application_tokens/99999999999999999999",
    ],
)
def test_huge_ids_are_404(world, admin, path):
    assert admin.get(V1 + path).status_code in (404, 405)
    assert admin.delete(V1 + path).status_code in (404, 405)


def test_nul_characters_are_refused_not_crashing(world, admin):
    """PostgreSQL refuses NUL in text parameters; the API must answer 400/404, not 500."""
    assert admin.get(f"{V1}/users/a%00b").status_code == 404
    assert admin.post(f"{V1}/teams", json={"name": "a\x00b"}).status_code == 400
    assert admin.get(f"{V1}/namespaces/validate?name=a%00b").status_code == 400
    assert (
        admin.put(f"{V1}/namespaces/{world.private.id}", json={"team": "\x00"}).status_code == 400
    )


def test_unknown_fields_are_ignored(world, admin):
    response = admin.post(f"{V1}/teams", json={"name": "qa", "colour": "blue", "id": 7})
    assert response.status_code == 201
    assert response.json["name"] == "qa"


def test_unknown_route_and_method(world, admin):
    assert admin.get(f"{V1}/nothing").status_code == 404
    assert admin.open("PATCH", f"{V1}/teams").status_code == 405
    assert admin.open("PATCH", f"{V1}/teams").json["message"]


# --- teams ----------------------------------------------------------------------------


def test_team_lifecycle(world, api_as, plugins):
    owner = api_as(world.users["owner"])
    team = owner.post(f"{V1}/teams", json={"team": {"name": "qa", "description": "tests"}}).json
    assert (team["name"], team["hidden"], team["users_count"]) == ("qa", False, 1)
    assert owner.put(f"{V1}/teams/{team['id']}", json={"name": "qa2"}).json["name"] == "qa2"
    member = owner.post(
        f"{V1}/teams/{team['id']}/members", json={"user": "viewer", "role": "contributor"}
    ).json
    assert (member["username"], member["role"]) == ("viewer", "contributor")
    changed = owner.put(f"{V1}/teams/{team['id']}/members/{member['id']}", json={"role": "owner"})
    assert changed.json["role"] == "owner"
    assert owner.delete(f"{V1}/teams/{team['id']}/members/{member['id']}").status_code == 204
    assert owner.delete(f"{V1}/teams/{team['id']}").status_code == 204


def test_team_validation(world, api_as):
    owner = api_as(world.users["owner"])
    duplicate = owner.post(f"{V1}/teams", json={"name": "devs"})
    assert duplicate.status_code == 422
    assert duplicate.json == {
        "message": {"name": ["has already been taken"]},
        "errors": {"name": ["has already been taken"]},
    }
    assert "name" in owner.post(f"{V1}/teams", json={"name": "~bad"}).json["errors"]
    someone = world.users["viewer"].id
    assert owner.post(f"{V1}/teams", json={"name": "x", "owner_id": someone}).status_code == 403
    bad_role = owner.post(
        f"{V1}/teams/{world.team.id}/members", json={"user": "outsider", "role": "boss"}
    )
    assert "role" in bad_role.json["errors"]
    nobody = owner.post(f"{V1}/teams/{world.team.id}/members", json={"user": "ghost"})
    assert nobody.status_code == 404


def test_team_delete_migrates_namespaces(world, admin):
    target = admin.post(f"{V1}/teams", json={"name": "heirs"}).json
    response = admin.delete(f"{V1}/teams/{world.team.id}?new_team={target['id']}")
    assert response.status_code == 204, response.json
    db.session.rollback()  # a fresh snapshot (MariaDB reads are REPEATABLE READ)
    assert db.session.query(Namespace).filter_by(team_id=target["id"]).count() == 3
    assert db.session.query(Team).filter_by(name="devs").count() == 0


def test_hidden_teams_are_invisible(world, admin):
    personal = db.session.query(Team).filter(Team.hidden.is_(True)).first()
    assert admin.get(f"{V1}/teams/{personal.id}").status_code == 403
    assert all(not t["hidden"] for t in admin.get(f"{V1}/teams").json)


# --- namespaces -----------------------------------------------------------------------


def test_namespace_lifecycle(world, api_as):
    owner = api_as(world.users["owner"])
    valid = owner.get(f"{V1}/namespaces/validate?name=fresh").json
    assert valid == {"valid": True, "messages": {}}
    taken = owner.get(f"{V1}/namespaces/validate?name=devs").json
    assert taken["valid"] is False and taken["messages"]["name"]
    created = owner.post(
        f"{V1}/namespaces", json={"namespace": {"name": "fresh", "team": "devs"}}
    ).json
    assert (created["name"], created["visibility"], created["global"]) == (
        "fresh",
        "private",
        False,
    )
    assert created["team"]["name"] == "devs"
    path = f"{V1}/namespaces/{created['id']}"
    assert owner.put(path, json={"description": "hello"}).json["description"] == "hello"
    public = owner.put(f"{path}/change_visibility", json={"visibility": "public"})
    assert public.json["visibility"] == "public"
    repos = owner.get(f"{V1}/namespaces/{world.private.id}/repositories").json
    assert [r["full_name"] for r in repos] == ["devs/app"]


def test_namespace_errors(world, api_as):
    owner = api_as(world.users["owner"])
    path = f"{V1}/namespaces/{world.private.id}"
    assert owner.put(path, json={"visibility": "secret"}).status_code == 422
    assert owner.put(path, json={"team": "no such team"}).status_code == 404
    assert owner.put(path, json={"name": "renamed"}).status_code == 400
    bad = owner.post(f"{V1}/namespaces", json={"name": "Bad Name", "team": "devs"})
    assert "name" in bad.json["errors"]
    assert "team" in owner.post(f"{V1}/namespaces", json={"name": "x"}).json["errors"]


def test_global_namespace_cannot_be_private(world, admin):
    glob = db.session.query(Namespace).filter_by(name="_global").one()
    response = admin.put(f"{V1}/namespaces/{glob.id}", json={"visibility": "private"})
    assert response.status_code == 400


# --- repositories and tags --------------------------------------------------------------


def test_repository_and_tags(world, api_as):
    viewer = api_as(world.users["viewer"])
    repo = viewer.get(f"{V1}/repositories/{world.repository.id}").json
    assert repo["full_name"] == "devs/app" and repo["tags_count"] == 2
    assert repo["namespace"] == {"id": world.private.id, "name": "devs"}
    tags = viewer.get(f"{V1}/repositories/{world.repository.id}/tags").json
    assert [t["name"] for t in tags] == ["1.0", "latest"]
    assert tags[0]["author"]["name"] == "contributor" and tags[0]["digest"].startswith("sha256:")
    grouped = viewer.get(f"{V1}/repositories/{world.repository.id}/tags/grouped").json
    assert [[t["name"] for t in group] for group in grouped] == [["1.0", "latest"]]
    other_repo = world.repository.id + 1
    assert viewer.get(f"{V1}/repositories/{other_repo}/tags/{tags[0]['id']}").status_code in (
        403,
        404,
    )
    owner = api_as(world.users["owner"])
    described = owner.put(f"{V1}/repositories/{world.repository.id}", json={"description": "d"})
    assert described.json["description"] == "d"


def test_tag_delete_registry_refusal_keeps_rows(world, api_as):
    owner = api_as(world.users["owner"])
    tag_id = world.repository.tags[0].id
    response = owner.delete(f"{V1}/tags/{tag_id}")
    assert response.status_code == 502
    assert "registry" in response.json["message"]
    assert owner.get(f"{V1}/tags/{tag_id}").status_code == 200


# --- registries ------------------------------------------------------------------------


def test_registry_create_checks_reachability(world, admin):
    refused = admin.post(
        f"{V1}/registries", json={"registry": {"name": "b", "hostname": "127.0.0.1:10"}}
    )
    assert refused.status_code == 400 and "hostname" in refused.json["errors"]
    forced = admin.post(
        f"{V1}/registries",
        json={
            "registry": {"name": "b", "hostname": "127.0.0.1:10", "use_ssl": False, "force": True}
        },
    )
    assert forced.status_code == 201
    assert forced.json["use_ssl"] is False
    duplicate = admin.post(
        f"{V1}/registries", json={"name": "c", "hostname": "127.0.0.1:10", "force": True}
    )
    assert "hostname" in duplicate.json["errors"]
    bad = admin.get(f"{V1}/registries/validate?name=b&hostname=http://x/")
    assert bad.json["valid"] is False
    assert set(bad.json["messages"]) == {"name", "hostname"}
    only = admin.get(f"{V1}/registries/validate?name=b&hostname=http://x/&only[]=name").json
    assert set(only["messages"]) == {"name"}


def test_registry_hostname_locked_with_repositories(world, admin):
    path = f"{V1}/registries/{world.registry.id}"
    locked = admin.put(path, json={"registry": {"hostname": "127.0.0.1:11"}})
    assert locked.status_code == 400 and "hostname" in locked.json["errors"]
    renamed = admin.put(
        path, json={"registry": {"name": "renamed", "external_hostname": "r.example.com"}}
    )
    assert renamed.json["name"] == "renamed"
    assert renamed.json["external_hostname"] == "r.example.com"


# --- health and version ----------------------------------------------------------------


def test_health_and_version(world, api, admin):
    assert api.get(f"{V1}/_ping").status_code == 200
    health = api.get(f"{V1}/health")
    assert health.status_code == 503
    assert health.json["database"]["success"] is True
    assert health.json["registry"]["success"] is False
    version = admin.get("/api/version").json
    assert version["api-versions"] == ["v1"] and version["version"]


def test_health_ok_without_failures(app, api, monkeypatch):
    from app.services import diagnostics, registries
    from tests.factories import make_registry

    make_registry(app.extensions["wharfinger.plugins"], hostname="127.0.0.1:12")
    monkeypatch.setattr(diagnostics, "probe_registry", lambda *args: None)
    response = api.get(f"{V1}/health")
    assert response.status_code == 200, response.json
    assert registries.all_registries()
    assert db.session.query(User).count() == 0
