"""``wharfinger api``: the client commands against a live server (HTTP and HTTPS with a
self-signed certificate), table and JSON output, and errors with a non-zero exit."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from app.cli import api_group
from tests.api.conftest import issue_token
from tests.support.certs import make_test_pki
from tests.support.live import LiveServer


@pytest.fixture
def live(app):
    with LiveServer(app) as server:
        yield server


def run(live_url, token, *args, ca_file=None):
    """Invoke ``wharfinger api --server URL --token TOKEN ARGS``."""
    options = ["--server", live_url]
    if token:
        options += ["--token", token]
    if ca_file:
        options += ["--ca-file", str(ca_file)]
    return CliRunner().invoke(api_group, [*options, *args], catch_exceptions=False)


def test_users_crud_as_admin(world, plugins, live):
    token = issue_token(plugins, world.users["admin"])
    listed = run(live.url, token, "get", "users")
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines()[0].split() == [
        "id",
        "username",
        "email",
        "admin",
        "enabled",
        "bot",
    ]
    assert "outsider@example.com" in listed.output
    made = run(
        live.url,
        token,
        "--json",
        "create",
        "users",
        "username=carol",
        "email=carol@example.com",
        "password=long pw 123",
    )
    assert made.exit_code == 0, made.output
    carol = json.loads(made.output)
    assert carol["username"] == "carol"
    updated = run(live.url, token, "update", "users", str(carol["id"]), "display_name=Carol")
    assert updated.exit_code == 0 and "carol" in updated.output
    duplicate = run(
        live.url,
        token,
        "create",
        "users",
        "username=carol",
        "email=carol2@example.com",
        "password=long pw 123",
    )
    assert duplicate.exit_code == 1
    assert "HTTP 422: username: has already been taken" in duplicate.output
    deleted = run(live.url, token, "delete", "users", str(carol["id"]))
    assert deleted.exit_code == 0 and "deleted users" in deleted.output
    gone = run(live.url, token, "get", "users", str(carol["id"]))
    assert gone.exit_code == 1
    assert "HTTP 404" in gone.output


def test_teams_namespaces_registries_tags(world, plugins, live):
    token = issue_token(plugins, world.users["admin"])
    assert "devs" in run(live.url, token, "get", "teams").output
    team = run(live.url, token, "create", "teams", "name=ops")
    assert team.exit_code == 0 and "ops" in team.output
    space = run(live.url, token, "create", "namespaces", "name=opsns", "team=ops")
    assert space.exit_code == 0, space.output
    assert "opsns" in run(live.url, token, "get", "namespaces").output
    registries = run(live.url, token, "get", "registries")
    assert "127.0.0.1:9" in registries.output
    tags = run(live.url, token, "--json", "get", "tags")
    assert {t["name"] for t in json.loads(tags.output)} >= {"1.0", "latest"}
    member = run(live.url, token, "create", "members", str(world.team.id), "user=outsider")
    assert member.exit_code == 0 and "viewer" in member.output


def test_errors_exit_non_zero(world, plugins, live):
    viewer = issue_token(plugins, world.users["viewer"])
    refused = run(live.url, viewer, "get", "users")
    assert refused.exit_code == 1
    assert "HTTP 403" in refused.output
    anonymous = run(live.url, None, "get", "teams")
    assert anonymous.exit_code == 1 and "HTTP 401" in anonymous.output
    unreachable = run("http://127.0.0.1:9", viewer, "get", "teams")
    assert unreachable.exit_code == 1 and "cannot reach" in unreachable.output
    bad = run(live.url, viewer, "create", "teams", "nonsense")
    assert bad.exit_code == 2


def test_token_commands_and_bootstrap(app, live):
    boot = run(
        live.url,
        None,
        "--json",
        "bootstrap",
        "username=root",
        "email=root@example.com",
        "password=long pw 123",
    )
    assert boot.exit_code == 0, boot.output
    token = f"root:{json.loads(boot.output)['plain_token']}"
    again = run(
        live.url, None, "bootstrap", "username=x", "email=x@example.com", "password=long pw 1"
    )
    assert again.exit_code == 1 and "HTTP 400" in again.output
    root_id = json.loads(boot.output)["user_id"]
    created = run(live.url, token, "create", "application_tokens", str(root_id), "application=ci")
    assert created.exit_code == 0 and "plain_token" in created.output
    listed = run(live.url, token, "--json", "get", "application_tokens", str(root_id))
    ids = {t["application"]: t["id"] for t in json.loads(listed.output)}
    assert run(live.url, token, "delete", "application_tokens", str(ids["ci"])).exit_code == 0


def test_https_with_ca_file(app, plugins, world, tmp_path):
    pki = make_test_pki(tmp_path / "pki")
    token = issue_token(plugins, world.users["admin"])
    with LiveServer(app, tls=(pki.cert, pki.key)) as server:
        untrusted = run(server.url, token, "version")
        assert untrusted.exit_code == 1 and "cannot reach" in untrusted.output
        trusted = run(server.url, token, "version", ca_file=pki.cert)
        assert trusted.exit_code == 0, trusted.output
        assert json.loads(trusted.output)["api-versions"] == ["v1"]
