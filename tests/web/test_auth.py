"""Sign-up, sign-in, sign-out, lockout, CSRF and the first-run path."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Activity, User
from app.services import credentials
from tests.factories import PASSWORD, make_registry, make_user
from tests.support.web import WebClient


def text(response) -> str:
    """The response body as text."""
    return response.get_data(as_text=True)


def sign_up(web, username, password=PASSWORD, email=None):
    """Submit the sign-up form."""
    return web.post(
        "/users/sign_up",
        {
            "username": username,
            "email": email or f"{username}@example.com",
            "password": password,
            "password_confirmation": password,
        },
    )


def test_a_new_instance_sends_visitors_to_sign_up(web):
    response = web.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/users/sign_up")
    assert "Create the administrator account" in text(web.get("/users/sign_up"))


def test_first_account_becomes_admin_and_is_sent_to_register_the_registry(web, app):
    response = sign_up(web, "root")
    assert response.status_code == 302
    assert db.session.scalar(sa.select(User.admin).where(User.username == "root")) is True
    # No registry yet: an admin's pages lead to the registration form (Portus's first run).
    landing = web.get("/")
    assert landing.status_code == 302
    assert landing.headers["Location"].endswith("/admin/registries/new")


def test_later_accounts_are_not_admins(web, app, plugins):
    make_user(plugins, "first", admin=True)
    assert sign_up(web, "second").status_code == 302
    assert db.session.scalar(sa.select(User.admin).where(User.username == "second")) is False


def test_sign_up_shows_field_errors_and_keeps_the_input(web, plugins):
    make_user(plugins, "taken")
    response = sign_up(web, "taken", email="other@example.com")
    assert response.status_code == 400
    assert "is already taken" in text(response)
    assert 'value="other@example.com"' in text(response)
    short = sign_up(web, "newname", password="short")
    assert "8 to 128 characters" in text(short)
    assert 'aria-invalid="true"' in text(short)


def test_mismatched_confirmation_is_refused(web):
    response = web.post(
        "/users/sign_up",
        {
            "username": "x1",
            "email": "x1@example.com",
            "password": PASSWORD,
            "password_confirmation": PASSWORD + "!",
        },
    )
    assert response.status_code == 400
    assert "the two passwords differ" in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


@pytest.fixture
def closed_signup(app_config):
    """Sign-up switched off."""
    app_config["SIGNUP_ENABLED"] = "false"


def test_closed_sign_up_still_admits_the_first_admin_only(closed_signup, web, app):
    assert sign_up(web, "root").status_code == 302
    other = another_browser(app)
    response = sign_up(other, "intruder")
    assert response.status_code == 403
    assert "Sign-up is closed" in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def another_browser(app):
    """A second, independent browser."""
    return WebClient(app.test_client())


def test_sign_in_and_out(world, web):
    response = web.sign_in("viewer")
    assert response.status_code == 302
    assert "viewer" in text(web.get("/"))
    out = web.post("/users/sign_out")
    assert out.status_code == 302
    assert web.get("/teams/").status_code == 302  # signed out: back to sign-in


def test_wrong_password_gives_one_message_and_is_recorded(world, web):
    response = web.sign_in("viewer", "wrong password")
    assert response.status_code == 401
    assert "invalid username or password" in text(response)
    assert web.sign_in("nobody", "wrong password").status_code == 401
    keys = db.session.scalars(sa.select(Activity.key).where(Activity.actor_name == "viewer"))
    assert "user.login_failed" in set(keys)


def test_lockout_applies_to_the_web_form(world, web, app):
    attempts = app.config["LOCKOUT_ATTEMPTS"]
    for _ in range(attempts):
        web.sign_in("viewer", "wrong password")
    assert web.sign_in("viewer").status_code == 401  # right password, but locked


def test_sign_in_redirects_only_to_this_site(world, web):
    good = web.post("/users/sign_in?next=/teams/", {"username": "viewer", "password": PASSWORD})
    assert good.headers["Location"].endswith("/teams/")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        web.post("/users/sign_out")
        response = web.post(
            f"/users/sign_in?next={target}", {"username": "viewer", "password": PASSWORD}
        )
        assert response.headers["Location"] == "/", target


def test_application_tokens_and_bots_cannot_open_a_web_session(world, web, plugins):
    _, token = credentials.create_application_token(plugins, world.users["viewer"], "ci")
    bot = make_user(plugins, "robot", bot=True)
    _, bot_token = credentials.create_application_token(plugins, bot, "default")
    db.session.commit()
    assert web.sign_in("viewer", token).status_code == 401
    assert web.sign_in("robot", bot_token).status_code == 401


def test_disabled_user_cannot_sign_in(world, web):
    world.users["viewer"].enabled = False
    db.session.commit()
    assert web.sign_in("viewer").status_code == 401


def test_password_change_ends_other_sessions(world, browser_for):
    first = browser_for(world.users["viewer"])
    second = browser_for(world.users["viewer"])
    response = first.post(
        "/profile/password",
        {
            "current_password": PASSWORD,
            "password": "a brand new password",
            "password_confirmation": "a brand new password",
        },
    )
    assert response.status_code == 302
    assert "docker login" in text(first.get("/profile"))  # the warning, shown once
    assert first.get("/teams/").status_code == 200
    assert second.get("/teams/").status_code == 302  # the other browser is signed out


def test_post_without_csrf_token_is_refused_and_changes_nothing(world, browser_for):
    browser = browser_for(world.users["owner"])
    response = browser.post(
        f"/namespaces/{world.private.id}/visibility", {"visibility": "public"}, csrf=False
    )
    assert response.status_code == 400
    assert "expired or was not sent by this site" in text(response)
    db.session.refresh(world.private)
    assert world.private.visibility.value == "private"


def test_sign_up_needs_csrf_too(web):
    response = web.post(
        "/users/sign_up",
        {"username": "a", "email": "a@example.com", "password": PASSWORD},
        csrf=False,
    )
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_registry_registration_checks_reachability(web, app, plugins):
    make_user(plugins, "root", admin=True)
    web.sign_in("root")
    refused = web.post(
        "/admin/registries", {"name": "main", "hostname": "127.0.0.1:9", "use_ssl": "1"}
    )
    assert refused.status_code == 400
    assert "no answer from https://127.0.0.1:9" in text(refused)
    assert "Save anyway" in text(refused)
    forced = web.post(
        "/admin/registries",
        {"name": "main", "hostname": "127.0.0.1:9", "use_ssl": "1", "force": "1"},
    )
    assert forced.status_code == 302
    bad = web.post("/admin/registries", {"name": "x", "hostname": "https://bad/path"})
    assert "without http://" in text(bad)


def test_existing_registry_means_no_first_run_redirect(web, plugins):
    make_user(plugins, "root", admin=True)
    make_registry(plugins)
    web.sign_in("root")
    assert web.get("/").status_code == 200
