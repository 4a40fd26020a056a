"""What pages show: safe Markdown, pagination, CSV export, typeahead, event retry, errors."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Activity, Namespace, RegistryEvent, Tag
from app.models.enums import EventStatus
from app.services import activities
from tests.events.conftest import envelope, event, post_events
from tests.factories import make_team


def text(response) -> str:
    """The response body as text."""
    return response.get_data(as_text=True)


def test_markdown_descriptions_cannot_inject_markup(world, browser_for):
    owner = browser_for(world.users["owner"])
    hostile = (
        "**bold** <script>alert(1)</script> <img src=x onerror=alert(2)> "
        "![tracker](https://example.invalid/t.png) [click](javascript:alert(3))"
    )
    response = owner.post(f"/namespaces/{world.private.id}/description", {"description": hostile})
    assert response.status_code == 302
    body = text(owner.get(f"/namespaces/{world.private.id}"))
    assert "<strong>bold</strong>" in body
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body
    assert "<img" not in body  # images are not rendered at all
    assert 'href="javascript:' not in body


def test_lists_paginate(world, browser_for, plugins):
    for number in range(30):
        make_team(f"bulk{number:02d}")
    browser = browser_for(world.users["admin"])
    first = text(browser.get("/teams/"))
    assert "Page 1 of 2" in first and 'rel="next"' in first
    second = text(browser.get("/teams/?page=2"))
    assert 'rel="prev"' in second and "bulk29" in second
    assert browser.get("/teams/?page=-3").status_code == 200  # nonsense falls back to page 1


def test_admin_activity_log_pages_backwards_from_an_id(world, browser_for, plugins):
    for number in range(60):
        activities.record(
            plugins, "team.create", world.users["viewer"], "team", 1, f"t{number:02d}"
        )
    db.session.commit()
    admin = browser_for(world.users["admin"])
    first = text(admin.get("/admin/activities"))
    assert "created team t59" in first and "created team t09" not in first
    older = re.search(r'href="(/admin/activities\?before=\d+)" rel="next"', first).group(1)
    second = text(admin.get(older))
    assert "created team t09" in second and "created team t59" not in second
    assert "Newest" in second


def test_csv_export_has_every_activity_and_defuses_formulas(world, browser_for, plugins):
    activities.record(plugins, "team.create", world.users["owner"], "team", 1, "=HYPERLINK()")
    db.session.commit()
    response = browser_for(world.users["admin"]).get("/admin/activities.csv")
    assert response.mimetype == "text/csv"
    lines = text(response).splitlines()
    assert lines[0].startswith("time,actor,action")
    db.session.rollback()  # a new snapshot (MariaDB's REPEATABLE READ keeps the old one)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Activity))
    assert len(lines) == total + 1
    assert any("'=HYPERLINK()" in line for line in lines)


def test_member_typeahead_suggests_non_members(world, browser_for):
    response = browser_for(world.users["owner"]).get(f"/teams/{world.team.id}/typeahead?q=o")
    assert response.get_json() == ["outsider"]  # "owner" is a member already


def test_failed_events_are_listed_with_their_reason_and_can_be_retried(
    world, browser_for, app, client
):
    runner = app.extensions["wharfinger.jobs"]
    notification = event(repository="ghost/app", tag="1.0", actor="contributor", host="127.0.0.1:9")
    assert post_events(client, envelope(notification)).status_code == 202
    assert runner.wait_idle(20)
    db.session.rollback()  # a new snapshot: the job committed in another session
    row = db.session.scalar(sa.select(RegistryEvent))
    assert row.status == EventStatus.FAILED
    admin = browser_for(world.users["admin"])
    body = text(admin.get("/admin/events"))
    assert "namespace &#39;ghost&#39; does not exist" in body and "ghost/app:1.0" in body
    # The admin fixes the cause, then retries: the push is applied this time.
    db.session.add(Namespace(name="ghost", registry_id=world.registry.id, team_id=world.team.id))
    db.session.commit()
    assert admin.post(f"/admin/events/{row.id}/retry").status_code == 302
    assert runner.wait_idle(20)
    db.session.rollback()
    assert db.session.get(RegistryEvent, row.id).status == EventStatus.DONE
    assert (
        db.session.scalar(
            sa.select(Tag.author_name).where(Tag.name == "1.0", Tag.digest == row.digest)
        )
        == "contributor"
    )
    again = admin.post(f"/admin/events/{row.id}/retry")
    assert again.status_code == 400 and "only failed events are retried" in text(again)


def test_unknown_pages_get_the_friendly_404(web):
    response = web.get("/no/such/page")
    assert response.status_code == 404
    assert "Nothing here" in text(response)
    api = web.get("/v2/nothing-here")
    assert api.status_code == 404 and api.is_json


def test_explore_can_be_switched_off(no_browsing, world, web, browser_for):
    assert web.get("/explore").headers["Location"].startswith("/users/sign_in")
    assert web.get("/").headers["Location"].endswith("/users/sign_in")
    closed = web.get(f"/namespaces/{world.public.id}")
    assert closed.headers["Location"].startswith("/users/sign_in")
    assert browser_for(world.users["viewer"]).get("/explore").status_code == 200


@pytest.fixture
def no_browsing(app_config):
    """Anonymous browsing switched off."""
    app_config["ANONYMOUS_BROWSING"] = "false"


def test_the_last_admin_cannot_be_disabled_nor_demote_themselves(world, browser_for):
    admin = world.users["admin"]
    browser = browser_for(admin)
    disabled = browser.post(f"/admin/users/{admin.id}/enabled")
    assert disabled.status_code == 400
    assert "the last administrator cannot be disabled" in text(disabled)
    demoted = browser.post(f"/admin/users/{admin.id}/admin")
    assert demoted.status_code == 403
    db.session.rollback()
    assert db.session.get(type(admin), admin.id).admin is True


def test_profile_saves_and_shows_field_errors(world, browser_for):
    viewer = browser_for(world.users["viewer"])
    saved = viewer.post("/profile", {"email": "new@example.com", "display_name": "Vi Ewer"})
    assert saved.status_code == 302
    assert "Vi Ewer" in text(viewer.get("/profile"))
    taken = viewer.post("/profile", {"email": "owner@example.com", "display_name": ""})
    assert taken.status_code == 400 and "already in use" in text(taken)
    assert 'aria-invalid="true"' in text(taken)
