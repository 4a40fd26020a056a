"""GET/POST /v2/token as the distribution token spec and real clients need it."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from app.extensions import db
from app.registry.keys import libtrust_kid, load_certificates
from app.services import accounts, credentials
from tests.tokens.conftest import SERVICE, basic, get_token


def test_login_without_scope_gives_empty_access(client, world, reader):
    response = get_token(client, user="viewer", account="viewer", client_id="docker")
    assert response.status_code == 200
    body = response.get_json()
    assert body["token"] == body["access_token"]
    assert isinstance(body["expires_in"], int) and body["expires_in"] == 900
    issued = dt.datetime.fromisoformat(body["issued_at"].replace("Z", "+00:00"))
    assert issued.tzinfo is not None
    claims = reader.claims(body["token"])
    assert claims["sub"] == "viewer" and claims["aud"] == SERVICE
    assert claims["iss"] == "wharfinger.test" and claims["access"] == []
    assert all(isinstance(claims[k], int) for k in ("exp", "nbf", "iat"))
    assert claims["exp"] - claims["iat"] == 900
    assert response.headers["Cache-Control"] == "no-store"


def test_header_has_kid_and_x5c(client, world, app):
    token = get_token(client, user="viewer").get_json()["token"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    cert = load_certificates(Path(app.config["SIGNING_CERT"]).read_bytes())[0]
    assert header["alg"] == "RS256"
    assert header["kid"] == libtrust_kid(cert.public_key())
    assert base64.b64decode(header["x5c"][0]) == cert.public_bytes(Encoding.DER)


def test_bad_password_is_401_with_basic_challenge(client, world):
    response = get_token(client, user="viewer", password="wrong password")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
    body = response.get_json()
    assert body["errors"][0]["code"] == "UNAUTHORIZED"
    assert "invalid username or password" in body["errors"][0]["message"]


def test_unknown_user_is_401(client, world):
    assert get_token(client, user="nobody").status_code == 401


def test_unknown_or_missing_service_is_explained(client, world):
    response = get_token(client, user="viewer", service="elsewhere:5000")
    assert response.status_code == 400
    message = response.get_json()["errors"][0]["message"]
    assert "elsewhere:5000" in message and SERVICE in message
    assert get_token(client, service=None).status_code == 400


def test_account_must_match_authenticated_user(client, world, reader):
    response = get_token(client, user="viewer", account="admin")
    assert response.status_code == 400
    assert "does not match" in response.get_json()["errors"][0]["message"]
    anonymous = get_token(client, account="admin")
    assert anonymous.status_code == 400


def test_sub_is_the_authenticated_user_even_when_account_is_omitted(client, world, reader):
    token = get_token(client, user="contributor").get_json()["token"]
    assert reader.claims(token)["sub"] == "contributor"


def test_anonymous_gets_public_pull_only(client, world, reader):
    response = get_token(
        client, scopes=["repository:team-public/app:pull,push", "repository:team-private/app:pull"]
    )
    assert response.status_code == 200
    claims = reader.claims(response.get_json()["token"])
    assert claims["sub"] == ""
    assert reader.access(response.get_json()["token"]) == {
        "repository:team-public/app": ["pull"],
        "repository:team-private/app": [],
    }


def test_roles_in_team_namespace(client, world, reader):
    scope = "repository:team-private/app:pull,push"
    expected = {
        "owner": ["pull", "push"],
        "contributor": ["pull", "push"],
        "viewer": ["pull"],
        "outsider": [],
        "admin": ["pull", "push"],
    }
    for user, actions in expected.items():
        token = get_token(client, user=user, scopes=[scope]).get_json()["token"]
        assert reader.access(token)["repository:team-private/app"] == actions, user


def test_multiple_scopes_merged_and_space_separated(client, world, reader):
    response = get_token(
        client,
        user="contributor",
        scopes=[
            "repository:team-private/app:pull",
            "repository:team-private/app:push",
            "repository:team-public/src:pull repository:team-private/app:pull",
        ],
    )
    access = reader.access(response.get_json()["token"])
    assert access == {
        "repository:team-private/app": ["pull", "push"],
        "repository:team-public/src": ["pull"],
    }
    assert len(reader.claims(response.get_json()["token"])["access"]) == 2


def test_malformed_scope_is_400_naming_it(client, world):
    response = get_token(client, user="viewer", scopes=["repository:UPPER:pull"])
    assert response.status_code == 400
    assert "repository:UPPER:pull" in response.get_json()["errors"][0]["message"]
    assert get_token(client, scopes=["nonsense"]).status_code == 400


def test_unknown_resource_type_gets_nothing(client, world, reader):
    token = get_token(client, user="admin", scopes=["plugin:thing:pull"]).get_json()["token"]
    assert reader.access(token) == {"plugin:thing": []}


def test_class_is_kept(client, world, reader):
    token = get_token(
        client, user="owner", scopes=["repository(plugin):team-private/app:pull"]
    ).get_json()["token"]
    entry = reader.claims(token)["access"][0]
    assert entry == {
        "type": "repository",
        "class": "plugin",
        "name": "team-private/app",
        "actions": ["pull"],
    }


def test_catalog_for_admins_only(client, world, reader):
    for user, expected in (("admin", ["*"]), ("owner", []), (None, [])):
        token = get_token(client, user=user, scopes=["registry:catalog:*"]).get_json()["token"]
        assert reader.access(token)["registry:catalog"] == expected, user


def test_wildcard_bypass_is_closed(client, world, reader):
    for user in (None, "outsider", "viewer"):
        token = get_token(
            client, user=user, scopes=["repository:team-private/app:*,push"]
        ).get_json()["token"]
        granted = reader.access(token)["repository:team-private/app"]
        assert "push" not in granted and "*" not in granted, user


def test_star_is_granted_only_with_every_right(client, world, reader):
    owner = get_token(client, user="owner", scopes=["repository:team-private/app:*"])
    assert reader.access(owner.get_json()["token"])["repository:team-private/app"] == ["*"]
    contributor = get_token(client, user="contributor", scopes=["repository:team-private/app:*"])
    assert reader.access(contributor.get_json()["token"])["repository:team-private/app"] == [
        "pull",
        "push",
    ]


def test_push_to_missing_namespace_denied_even_for_admin(client, world, reader):
    token = get_token(client, user="admin", scopes=["repository:nowhere/app:pull,push"])
    assert reader.access(token.get_json()["token"])["repository:nowhere/app"] == ["pull"]


def test_personal_namespace(client, world, reader):
    token = get_token(
        client,
        user="viewer",
        scopes=["repository:viewer/app:pull,push,delete", "repository:owner/app:pull,push"],
    )
    access = reader.access(token.get_json()["token"])
    assert access["repository:viewer/app"] == ["delete", "pull", "push"]
    assert access["repository:owner/app"] == []


def test_post_password_grant_with_refresh_token(client, world, reader):
    response = client.post(
        "/v2/token",
        data={
            "grant_type": "password",
            "username": "contributor",
            "password": world["password"],
            "service": SERVICE,
            "scope": "repository:team-private/app:pull,push repository:no/x:pull",
            "access_type": "offline",
            "client_id": "containerd-client",
        },
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["access_token"] == body["token"]
    assert body["scope"] == "repository:team-private/app:pull,push"
    refresh = body["refresh_token"]
    assert refresh.startswith(credentials.REFRESH_TOKEN_PREFIX)

    again = client.post(
        "/v2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "service": SERVICE,
            "client_id": "containers/image",
            "scope": "repository:team-private/app:pull",
        },
    )
    assert again.status_code == 200
    assert reader.claims(again.get_json()["token"])["sub"] == "contributor"
    assert "refresh_token" not in again.get_json()

    other_service = client.post(
        "/v2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh, "service": "other:1"},
    )
    assert other_service.status_code == 400


def test_get_offline_token_gives_refresh_token(client, world):
    body = get_token(client, user="viewer", offline_token="true", client_id="docker").get_json()
    assert body["refresh_token"].startswith(credentials.REFRESH_TOKEN_PREFIX)


def test_refresh_token_revoked_by_password_change_and_disable(client, world, plugins):
    refresh = get_token(client, user="viewer", offline_token="true").get_json()["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "service": SERVICE}
    assert client.post("/v2/token", data=form).status_code == 200
    accounts.set_password(plugins, world["users"]["viewer"], "a brand new password")
    db.session.commit()
    refused = client.post("/v2/token", data=form)
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_grant"

    refresh = get_token(client, user="owner", offline_token="true").get_json()["refresh_token"]
    accounts.set_enabled(plugins, world["users"]["owner"], False)
    db.session.commit()
    form["refresh_token"] = refresh
    assert client.post("/v2/token", data=form).status_code == 401


@pytest.mark.parametrize(
    "form", [{}, {"grant_type": "client_credentials"}, {"grant_type": "password", "username": "x"}]
)
def test_post_errors_are_400_never_404_or_405(client, world, form):
    response = client.post("/v2/token", data={"service": SERVICE, **form})
    assert response.status_code == 400
    if form.get("grant_type") == "client_credentials":
        assert response.get_json()["error"] == "unsupported_grant_type"


def test_bearer_header_on_token_endpoint_is_rejected_clearly(client, world):
    response = client.get(
        "/v2/token", query_string={"service": SERVICE}, headers={"Authorization": "Bearer abc"}
    )
    assert response.status_code == 400
    assert "Basic" in response.get_json()["errors"][0]["message"]


def test_disabled_user_cannot_log_in(client, world, plugins):
    accounts.set_enabled(plugins, world["users"]["viewer"], False)
    db.session.commit()
    response = get_token(client, user="viewer")
    assert response.status_code == 401  # the same message as a wrong password
    assert "invalid username or password" in response.get_json()["errors"][0]["message"]


def test_basic_header_with_colon_in_password(client, world, plugins):
    accounts.set_password(plugins, world["users"]["viewer"], "with:colon:inside")
    db.session.commit()
    assert (
        client.get(
            "/v2/token",
            query_string={"service": SERVICE},
            headers=basic("viewer", "with:colon:inside"),
        ).status_code
        == 200
    )


def test_database_down_is_a_503_json_not_a_500(app_config):
    from app import create_app

    app_config["DATABASE_URL"] = "mysql+pymysql://nobody@127.0.0.1:1/x"
    response = create_app(app_config).test_client().get("/v2/token", query_string={"service": "x"})
    assert response.status_code == 503 and response.is_json
    assert response.get_json()["error"] == "temporarily_unavailable"


def test_nul_bytes_are_a_400_on_every_database(client, world):
    # Found by the hypothesis tests on PostgreSQL, which cannot store NUL in text.
    for query in ({"service": "\x00"}, {"service": SERVICE, "account": "a\x00"}):
        assert client.get("/v2/token", query_string=query).status_code == 400
    assert get_token(client, user="view\x00er").status_code == 400


def test_an_expired_signing_certificate_is_replaced_without_a_restart(
    client, world, app, tmp_path, reader
):
    import datetime as dt

    from app.registry import keys as key_tools

    issuer = app.extensions["wharfinger.tokens"]
    assert get_token(client, user="viewer").status_code == 200
    issuer.signer.certificates_expire_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    old_signer = issuer.signer  # still the same file: reloaded, valid again
    assert old_signer.certificates_expire_at > dt.datetime.now(dt.UTC)
    key = key_tools.load_private_key(Path(app.config["SIGNING_KEY"]).read_bytes())
    expired = key_tools.self_signed_certificate(key, "expired", ["localhost"], days=0)
    stale = tmp_path / "stale.crt"
    stale.write_bytes(key_tools.certificate_pem(expired))
    issuer._key_paths = (app.config["SIGNING_KEY"], str(stale))
    issuer.signer.certificates_expire_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    response = get_token(client, user="viewer")
    assert response.status_code == 503
    assert "signing key unusable" in response.get_json()["errors"][0]["message"]
