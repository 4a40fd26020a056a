"""Policy plugins on the token endpoint, and docs/plugins.md kept in sync with the hookspecs."""

from __future__ import annotations

import inspect
import re
import sys
import types
from pathlib import Path

import pytest

from app import create_app
from app.config import ConfigError
from app.plugins import hookspecs
from app.plugins.acl import glob_to_regex, pattern_matches
from app.plugins.hookspecs import hookimpl
from app.services.authentication import Identity, Rejection
from tests.tokens.conftest import TokenReader, get_token

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def _hook_names() -> set[str]:
    return {
        name
        for name, value in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(value, "wharfinger_spec")
    }


def test_docs_cover_exactly_the_hookspecs():
    documented = set(re.findall(r"^### (\w+)$", DOCS.read_text(), flags=re.MULTILINE))
    assert documented == _hook_names()
    for name in _hook_names():
        assert getattr(hookspecs, name).__doc__, name


@pytest.fixture
def plugin_module():
    """Register a module under a name so WHARFINGER_PLUGINS can import it."""
    created = []

    def make(name: str, **hooks):
        module = types.ModuleType(name)
        for hook_name, function in hooks.items():
            setattr(module, hook_name, hookimpl(function))
        sys.modules[name] = module
        created.append(name)
        return name

    yield make
    for name in created:
        sys.modules.pop(name, None)


def _app_with(app_config, **extra):
    app_config.update(extra)
    application = create_app(app_config)
    return application, application.test_client(), TokenReader(app_config["SIGNING_CERT"])


def test_readonly_plugin_keeps_only_pull(app_config, world):
    _, client, reader = _app_with(app_config, PLUGINS="app.plugins.readonly")
    token = get_token(
        client, user="owner", scopes=["repository:team-private/app:*", "registry:catalog:*"]
    )
    token = token.get_json()["token"]
    assert reader.access(token)["repository:team-private/app"] == ["pull"]
    admin = get_token(client, user="admin", scopes=["registry:catalog:*"]).get_json()["token"]
    assert reader.access(admin)["registry:catalog"] == ["*"]


def test_acl_plugin_first_match_decides_and_abstains(app_config, world, tmp_path):
    acl = tmp_path / "acl.toml"
    acl.write_text("""
[[acl]]
match = { account = "outsider", name = "team-private/*" }
actions = ["pull"]

[[acl]]
match = { account = "viewer", name = "team-private/*" }
actions = []

[[acl]]
match = { account = "", name = "/^team-protected/.+$/" }
actions = ["*"]

[[acl]]
match = { account = "/.+/", name = "${account}/sub/*", ip = "127.0.0.0/8" }
actions = ["*"]
""")
    _, client, reader = _app_with(app_config, PLUGINS="app.plugins.acl", ACL_FILE=str(acl))
    scope = "repository:team-private/app:pull,push"

    def access(user, scopes):
        return reader.access(get_token(client, user=user, scopes=scopes).get_json()["token"])

    assert access("outsider", [scope])["repository:team-private/app"] == ["pull"]
    assert access("viewer", [scope])["repository:team-private/app"] == []
    assert access("owner", [scope])["repository:team-private/app"] == ["pull", "push"]
    assert access(None, ["repository:team-protected/x:pull"])["repository:team-protected/x"] == [
        "pull"
    ]
    sub = access("contributor", ["repository:contributor/sub/x:pull,push"])
    assert sub["repository:contributor/sub/x"] == ["pull", "push"]


def test_acl_plugin_configuration_errors(app_config, tmp_path):
    with pytest.raises(ConfigError, match="WHARFINGER_ACL_FILE"):
        _app_with(dict(app_config), PLUGINS="app.plugins.acl")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[acl]]\nmatch = { user = 'x' }\nactions = ['pull']\n")
    with pytest.raises(ConfigError, match="rule 1"):
        _app_with(dict(app_config), PLUGINS="app.plugins.acl", ACL_FILE=str(bad))


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("alice/*", "alice/app", True),
        ("alice/*", "alice/a/b", False),
        ("a?c", "abc", True),
        ("[ab]x", "bx", True),
        ("[!ab]x", "cx", True),
        ("lit\\*", "lit*", True),
        ("/^a.+z$/", "abcz", True),
        ("/b/", "abc", True),
    ],
)
def test_acl_patterns(pattern, value, expected):
    assert pattern_matches(pattern, value, {}) is expected
    assert glob_to_regex("a*").startswith("^")


def test_acl_placeholders_are_escaped():
    assert pattern_matches("${account}/*", "a.b/x", {"account": "a.b"})
    assert not pattern_matches("${account}/*", "aXb/x", {"account": "a.b"})
    assert not pattern_matches("/^${account}$/", "aXb", {"account": "a.b"})
    assert not pattern_matches("${account}/*", "anything/x", {"account": "*"})


def test_third_party_authenticator_is_asked_first(app_config, world, plugin_module):
    from app.services.accounts import get_user

    def authenticate(username, password, user, remote_addr):
        if username == "viewer" and password == "from-directory":
            return Identity(get_user("viewer"), "directory")
        if username == "owner":
            return Rejection("directory says no")
        return None

    name = plugin_module("wharfinger_test_authn", authenticate=authenticate)
    _, client, _ = _app_with(app_config, PLUGINS=name)
    assert get_token(client, user="viewer", password="from-directory").status_code == 200
    assert get_token(client, user="viewer").status_code == 200  # abstained: local password
    assert get_token(client, user="owner").status_code == 401  # explicit rejection stops


def test_policy_plugin_cannot_grant_unrequested_actions(app_config, world, plugin_module):
    name = plugin_module(
        "wharfinger_test_greedy", authorize_scope=lambda request: ("pull", "push", "delete", "*")
    )
    _, client, reader = _app_with(app_config, PLUGINS=name)
    token = get_token(client, user="outsider", scopes=["repository:team-private/app:pull"])
    assert reader.access(token.get_json()["token"])["repository:team-private/app"] == ["pull"]


def test_filters_see_expanded_wildcard(app_config, world, plugin_module):
    seen = []

    def filter_access(request, granted):
        seen.append(granted)
        return granted - {"delete"}

    name = plugin_module("wharfinger_test_filter", filter_access=filter_access)
    _, client, reader = _app_with(app_config, PLUGINS=name)
    token = get_token(client, user="owner", scopes=["repository:team-private/app:*"])
    assert seen == [frozenset({"pull", "push", "delete"})]
    assert reader.access(token.get_json()["token"])["repository:team-private/app"] == [
        "pull",
        "push",
    ]


def test_read_only_tokens_stay_read_only_whatever_a_policy_plugin_grants(
    app_config, world, tmp_path, plugins
):
    from app.extensions import db
    from app.services import credentials

    acl = tmp_path / "acl.toml"
    acl.write_text('[[acl]]\nmatch = { account = "viewer" }\nactions = ["*"]\n')
    _, client, reader = _app_with(app_config, PLUGINS="app.plugins.acl", ACL_FILE=str(acl))
    _, plain = credentials.create_application_token(
        plugins, world["users"]["viewer"], "ro", read_only=True
    )
    db.session.commit()
    token = get_token(
        client,
        user="viewer",
        password=plain,
        scopes=["repository:team-private/app:pull,push,delete", "registry:catalog:*"],
    ).get_json()["token"]
    assert reader.access(token) == {"repository:team-private/app": ["pull"], "registry:catalog": []}


def test_a_failing_policy_plugin_denies_with_a_503(app_config, world, plugin_module):
    def authorize_scope(request):
        raise RuntimeError("policy backend down")

    name = plugin_module("wharfinger_test_broken_policy", authorize_scope=authorize_scope)
    _, client, _ = _app_with(app_config, PLUGINS=name)
    response = get_token(client, user="viewer", scopes=["repository:team-private/app:pull"])
    assert response.status_code == 503 and response.is_json
