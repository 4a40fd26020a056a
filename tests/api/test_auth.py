"""Authentication (Portus-Auth, Bearer, browser session with CSRF), read-only, expired
and disabled credentials, the application-token ownership rule, and bootstrap."""

from __future__ import annotations

import datetime as dt

import pytest

from app.extensions import db
from app.models import ApplicationToken, User
from app.services import accounts
from tests.api.conftest import ApiClient, issue_token
from tests.factories import make_user

V1 = "/api/v1"


def test_portus_auth_header(world, api_as):
    response = api_as(world.users["viewer"]).get(f"{V1}/teams")
    assert response.status_code == 200
    assert [t["name"] for t in response.json] == ["devs"]


@pytest.mark.parametrize(
    "header",
    ["viewer", "viewer:", "viewer:wh_wrong", "nobody:wh_x", ":", "owner:{token}"],
)
def test_bad_portus_auth_is_401(world, plugins, client, header):
    token = issue_token(plugins, world.users["viewer"]).split(":", 1)[1]
    response = ApiClient(client, header.format(token=token)).get(f"{V1}/teams")
    assert response.status_code == 401
    assert response.json == {
        "message": "invalid Portus-Auth credentials (expected username:application-token)"
    }
    assert token not in response.get_data(as_text=True)


def test_bearer_token(world, plugins, client):
    token = issue_token(plugins, world.users["owner"]).split(":", 1)[1]
    good = ApiClient(client).get(f"{V1}/teams", headers={"Authorization": f"Bearer {token}"})
    bad = ApiClient(client).get(f"{V1}/teams", headers={"Authorization": "Bearer wh_nope"})
    assert (good.status_code, bad.status_code) == (200, 401)


def test_expired_token_is_refused(world, plugins, client):
    auth = issue_token(plugins, world.users["owner"])
    row = db.session.query(ApplicationToken).filter_by(application="api").one()
    row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.session.commit()
    assert ApiClient(client, auth).get(f"{V1}/teams").status_code == 401


def test_disabled_user_is_refused(world, plugins, client):
    auth = issue_token(plugins, world.users["owner"])
    db.session.get(User, world.users["owner"].id).enabled = False
    db.session.commit()
    assert ApiClient(client, auth).get(f"{V1}/teams").status_code == 401


def test_read_only_token_reads_but_does_not_write(world, api_as):
    client = api_as(world.users["owner"], read_only=True)
    assert client.get(f"{V1}/teams/{world.team.id}").status_code == 200
    response = client.put(f"{V1}/teams/{world.team.id}", json={"description": "x"})
    assert response.status_code == 403


def test_session_reads_and_needs_csrf_to_write(world, browser_for):
    browser = browser_for(world.users["owner"])
    assert browser.get(f"{V1}/teams").status_code == 200
    path = f"{V1}/teams/{world.team.id}"
    refused = browser._request("PUT", path, json={"description": "from the UI"})
    assert refused.status_code == 400
    assert "CSRF" in refused.json["message"]
    browser.get("/teams/")  # a page of the session carries the token
    accepted = browser._request(
        "PUT",
        path,
        json={"description": "from the UI"},
        headers={"X-CSRFToken": browser._token, "Referer": "https://localhost/"},
    )
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["description"] == "from the UI"


def test_anonymous_is_401_with_portus_body(api):
    response = api.get(f"{V1}/users")
    assert response.status_code == 401
    assert "message" in response.json
    assert response.headers["WWW-Authenticate"].startswith("Portus-Auth")


# --- the application-token ownership rule (Portus let anyone mint tokens for anyone) ---


def test_nobody_mints_tokens_for_someone_else(world, api_as):
    for role in ("outsider", "viewer", "contributor", "owner"):
        client = api_as(world.users[role])
        target = world.users["admin"].id
        response = client.post(f"{V1}/users/{target}/application_tokens", json={"application": "x"})
        assert response.status_code == 403, role
        assert client.get(f"{V1}/users/{target}/application_tokens").status_code == 403
    assert not db.session.query(ApplicationToken).filter_by(application="x").count()


def test_owner_mints_and_revokes_own_token(world, api_as, client):
    owner = world.users["owner"]
    mine = api_as(owner)
    created = mine.post(
        f"{V1}/users/{owner.id}/application_tokens",
        json={"application_token": {"application": "ci", "read_only": True, "expires_in": "1d"}},
    )
    assert created.status_code == 201
    body = created.json
    assert body["application"] == "ci" and body["read_only"] and body["plain_token"]
    listed = mine.get(f"{V1}/users/{owner.id}/application_tokens").json
    assert "ci" in [t["application"] for t in listed]
    assert all("plain_token" not in t for t in listed)
    fresh = ApiClient(client, f"owner:{body['plain_token']}")
    assert fresh.get(f"{V1}/teams").status_code == 200
    other = api_as(world.users["viewer"]).delete(f"{V1}/users/application_tokens/{body['id']}")
    assert other.status_code == 403
    assert mine.delete(f"{V1}/users/application_tokens/{body['id']}").status_code == 204
    assert fresh.get(f"{V1}/teams").status_code == 401


def test_admin_manages_bot_tokens_but_not_peoples(world, api_as, plugins):
    admin = api_as(world.users["admin"])
    bot = make_user(plugins, "robot", bot=True)
    response = admin.post(f"{V1}/users/{bot.id}/application_tokens", json={"application": "x"})
    assert response.status_code == 201
    person = world.users["viewer"].id
    refused = admin.post(f"{V1}/users/{person}/application_tokens", json={"application": "x"})
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "application"),
        ({"application": ""}, "application"),
        ({"application": ["x"]}, "application"),
        ({"application": "ok", "expires_in": "soon"}, "expires_in"),
        ({"application": "ok", "expires_in": "99999999999999d"}, "expires_in"),
        ({"application": "ok", "read_only": "maybe"}, "read_only"),
    ],
)
def test_token_validation(world, api_as, payload, field):
    owner = world.users["owner"]
    response = api_as(owner).post(f"{V1}/users/{owner.id}/application_tokens", json=payload)
    assert response.status_code == 400
    assert field in response.json["errors"]


def test_duplicate_token_name(world, api_as):
    owner = world.users["owner"]
    client = api_as(owner)
    path = f"{V1}/users/{owner.id}/application_tokens"
    assert client.post(path, json={"application": "ci"}).status_code == 201
    again = client.post(path, json={"application": "ci"})
    assert again.status_code == 422  # a duplicate, in Portus's shape
    assert (
        again.json["errors"] == again.json["message"] == {"application": ["has already been taken"]}
    )


# --- bootstrap -------------------------------------------------------------------------

BOOT = {"user": {"username": "root", "email": "root@example.com", "password": "long pw 123"}}


def test_bootstrap_works_exactly_once(app, api, client):
    first = api.post(f"{V1}/users/bootstrap", json=BOOT)
    assert first.status_code == 201, first.json
    assert first.json["application"] == "bootstrap" and first.json["plain_token"]
    root = db.session.get(User, first.json["user_id"])
    assert root.admin
    admin = ApiClient(client, f"root:{first.json['plain_token']}")
    assert admin.get(f"{V1}/users").status_code == 200
    again = api.post(
        f"{V1}/users/bootstrap",
        json={"username": "evil", "email": "evil@example.com", "password": "long pw 123"},
    )
    assert again.status_code == 400
    assert accounts.user_count() == 1


def test_bootstrap_refused_when_users_exist(app, plugins, api):
    make_user(plugins, "someone")
    assert api.post(f"{V1}/users/bootstrap", json=BOOT).status_code == 400


def test_bootstrap_is_405_when_first_admin_is_off(app_config, api):
    from app import create_app

    app_config["FIRST_USER_ADMIN"] = False
    other = create_app(app_config)
    response = ApiClient(other.test_client()).post(f"{V1}/users/bootstrap", json=BOOT)
    assert response.status_code == 405
    assert "message" in response.json


def test_bootstrap_validation(app, api):
    response = api.post(f"{V1}/users/bootstrap", json={"user": {"username": "x"}})
    assert response.status_code == 400
    assert "email" in response.json["errors"]
    assert accounts.user_count() == 0
