"""Application tokens, lockout, the verified-credential cache, and several instances."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import Activity, ApplicationToken, User, utcnow
from app.services import accounts, credentials
from app.services.errors import Conflict, Forbidden
from tests.factories import PASSWORD, make_user
from tests.tokens.conftest import SERVICE, get_token


def test_application_token_works_as_password_and_is_hashed(client, world, plugins, reader):
    user = world["users"]["contributor"]
    row, plain = credentials.create_application_token(plugins, user, "laptop", actor=user)
    db.session.commit()
    assert plain.startswith("wh_") and len(plain) > 40
    assert plain not in row.token_hash and row.token_hash == credentials.secret_hash(plain)
    response = get_token(
        client, user="contributor", password=plain, scopes=["repository:team-private/app:pull,push"]
    )
    assert response.status_code == 200
    assert reader.access(response.get_json()["token"]) == {
        "repository:team-private/app": ["pull", "push"]
    }
    assert (
        "refresh_token"
        not in get_token(
            client, user="contributor", password=plain, offline_token="true"
        ).get_json()
    )


def test_token_of_another_user_is_refused(client, world, plugins):
    _, plain = credentials.create_application_token(plugins, world["users"]["viewer"], "ci")
    db.session.commit()
    assert get_token(client, user="contributor", password=plain).status_code == 401


def test_read_only_token_only_pulls(client, world, plugins, reader):
    _, plain = credentials.create_application_token(
        plugins, world["users"]["owner"], "ro", read_only=True
    )
    db.session.commit()
    token = get_token(
        client,
        user="owner",
        password=plain,
        scopes=["repository:team-private/app:pull,push,delete"],
    ).get_json()["token"]
    assert reader.access(token)["repository:team-private/app"] == ["pull"]


def test_revoked_and_expired_tokens_are_refused(client, world, plugins):
    user = world["users"]["viewer"]
    row, plain = credentials.create_application_token(plugins, user, "soon")
    db.session.commit()
    assert get_token(client, user="viewer", password=plain).status_code == 200
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    assert get_token(client, user="viewer", password=plain).status_code == 401
    row.expires_at = None
    db.session.commit()
    credentials.revoke_application_token(plugins, row, actor=user)
    db.session.commit()
    assert get_token(client, user="viewer", password=plain).status_code == 401


def test_bot_logs_in_only_with_tokens(client, world, plugins, reader):
    bot = make_user(plugins, "ci-bot", bot=True)
    _, plain = credentials.create_application_token(plugins, bot, "default")
    db.session.commit()
    assert get_token(client, user="ci-bot", password=plain).status_code == 200
    assert get_token(client, user="ci-bot", password="anything at all").status_code == 401


def test_only_owner_or_admin_manage_tokens(app, world, plugins):
    users = world["users"]
    with pytest.raises(Forbidden):
        credentials.create_application_token(plugins, users["admin"], "x", actor=users["viewer"])
    with pytest.raises(Forbidden):
        credentials.list_application_tokens(users["owner"], actor=users["viewer"])
    with pytest.raises(Forbidden):  # an admin does not mint a person's token
        credentials.create_application_token(plugins, users["viewer"], "x", actor=users["admin"])
    bot = make_user(plugins, "robot", bot=True)
    credentials.create_application_token(plugins, bot, "x", actor=users["admin"])  # bots: yes
    row, _ = credentials.create_application_token(
        plugins, users["viewer"], "x", actor=users["viewer"]
    )
    with pytest.raises(Forbidden):
        credentials.revoke_application_token(plugins, row, actor=users["outsider"])
    with pytest.raises(Conflict):
        credentials.create_application_token(plugins, users["viewer"], "x", actor=users["viewer"])


def test_token_cli(runner, world):
    created = runner.invoke(
        args=["token", "create", "viewer", "cli", "--read-only", "--expires-in", "30d"]
    )
    assert created.exit_code == 0, created.output
    assert created.output.strip().startswith("wh_")
    listed = runner.invoke(args=["token", "list", "viewer"])
    assert "cli read-only expires" in listed.output
    bad = runner.invoke(args=["token", "create", "viewer", "x", "--expires-in", "soon"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output
    assert runner.invoke(args=["token", "revoke", "viewer", "cli"]).exit_code == 0
    missing = runner.invoke(args=["token", "revoke", "viewer", "cli"])
    assert missing.exit_code == 1 and "no token named" in missing.output
    assert db.session.scalar(sa.select(sa.func.count(ApplicationToken.id))) == 0


def _count_kdf(monkeypatch):
    """Count calls of the password KDF check."""
    import app.services.accounts as module

    calls = []
    original = module.check_password_hash

    def counting(hashed, password):
        calls.append(1)
        return original(hashed, password)

    monkeypatch.setattr(module, "check_password_hash", counting)
    return calls


def test_repeated_password_logins_skip_the_kdf(client, world, monkeypatch, plugins):
    calls = _count_kdf(monkeypatch)
    for _ in range(5):
        assert get_token(client, user="viewer").status_code == 200
    assert len(calls) == 1
    assert get_token(client, user="viewer", password="wrong password").status_code == 401
    assert len(calls) == 2
    accounts.set_password(plugins, world["users"]["viewer"], "changed password!")
    db.session.commit()
    assert get_token(client, user="viewer").status_code == 401  # old password, cache void


def test_fast_path_can_be_disabled(app_config, world, monkeypatch):
    app_config["CREDENTIAL_CACHE_TTL"] = "0"
    other = create_app(app_config)
    calls = _count_kdf(monkeypatch)
    client = other.test_client()
    for _ in range(3):
        assert get_token(client, user="viewer").status_code == 200
    assert len(calls) == 3


def test_lockout_after_ten_failures(client, world, app):
    for _ in range(10):
        assert get_token(client, user="viewer", password="wrong password").status_code == 401
    locked = get_token(client, user="viewer")  # the right password, refused while locked
    assert locked.status_code == 401
    unknown = get_token(client, user="nobody-here")
    assert locked.get_json()["errors"] == unknown.get_json()["errors"]  # no enumeration
    user = db.session.scalar(sa.select(User).where(User.username == "viewer"))
    db.session.refresh(user)
    assert user.locked_until is not None
    user.locked_until = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    assert get_token(client, user="viewer").status_code == 200
    db.session.refresh(user)
    assert user.failed_logins == 0 and user.locked_until is None


def test_success_resets_the_counter(client, world):
    for _ in range(9):
        get_token(client, user="viewer", password="wrong password")
    assert get_token(client, user="viewer").status_code == 200
    for _ in range(9):
        get_token(client, user="viewer", password="wrong password")
    assert get_token(client, user="viewer").status_code == 200


def test_two_instances_share_lockout_revocation_and_password_changes(app_config, world, plugins):
    """Two apps over one database: what one does, the other honours at once."""
    first, second = create_app(app_config), create_app(app_config)
    _, plain = credentials.create_application_token(plugins, world["users"]["owner"], "shared")
    db.session.commit()
    one, two = first.test_client(), second.test_client()
    assert get_token(two, user="viewer").status_code == 200  # cached in the second
    for _ in range(10):
        get_token(one, user="viewer", password="wrong password")
    assert "locked" in get_token(two, user="viewer").get_json()["errors"][0]["message"]

    assert get_token(two, user="owner", password=plain).status_code == 200
    with first.app_context():
        row = db.session.scalar(sa.select(ApplicationToken))
        credentials.revoke_application_token(first.extensions["wharfinger.plugins"], row)
        db.session.commit()
    assert get_token(two, user="owner", password=plain).status_code == 401

    assert get_token(two, user="contributor").status_code == 200  # cached in the second
    with first.app_context():
        user = accounts.get_user("contributor")
        accounts.set_password(first.extensions["wharfinger.plugins"], user, "rotated password")
        db.session.commit()
    assert get_token(two, user="contributor", password=PASSWORD).status_code == 401
    assert get_token(two, user="contributor", password="rotated password").status_code == 200


def test_service_matches_external_hostname(client, plugins, reader):
    from tests.factories import make_registry

    make_registry(plugins, "ext", "internal:5000", external_hostname="registry.example.com")
    make_user(plugins, "ext-user")
    response = get_token(client, user="ext-user", service="registry.example.com")
    assert response.status_code == 200
    assert reader.claims(response.get_json()["token"])["aud"] == "registry.example.com"
    assert SERVICE not in response.get_data(as_text=True)


def test_logins_and_failed_logins_are_recorded(client, world):
    assert get_token(client, user="viewer").status_code == 200
    get_token(client, user="viewer", password="wrong password")
    get_token(client, user="viewer", scopes=["repository:team-public/x:pull"])  # not a login
    keys = list(
        db.session.scalars(
            sa.select(Activity.key)
            .where(Activity.target_type == "user", Activity.key.like("user.login%"))
            .order_by(Activity.id)
        )
    )
    assert keys == ["user.login", "user.login_failed"]


def test_token_guesses_neither_count_nor_lock_out_tokens(client, world, plugins):
    bot = make_user(plugins, "ci-bot", bot=True)
    _, plain = credentials.create_application_token(plugins, bot, "default")
    db.session.commit()
    for _ in range(12):
        assert get_token(client, user="ci-bot", password="wh_guessed-token").status_code == 401
    db.session.refresh(bot)
    assert bot.failed_logins == 0 and bot.locked_until is None
    assert get_token(client, user="ci-bot", password=plain).status_code == 200
    for _ in range(10):  # a locked password account still accepts its tokens
        get_token(client, user="viewer", password="wrong password")
    _, viewer_token = credentials.create_application_token(plugins, world["users"]["viewer"], "t")
    db.session.commit()
    assert get_token(client, user="viewer").status_code == 401
    assert get_token(client, user="viewer", password=viewer_token).status_code == 200
