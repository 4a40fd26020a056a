"""Every page renders for the people who may see it, with the data it is about."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.services import activities


def text(response) -> str:
    """The response body as text."""
    return response.get_data(as_text=True)


PAGES = [
    "/",
    "/explore",
    "/search?q=app",
    "/namespaces/",
    "/teams/",
    "/profile",
    "/tokens",
    "/admin/",
    "/admin/users",
    "/admin/registries",
    "/admin/registries/new",
    "/admin/activities",
    "/admin/events",
    "/admin/events?status=ignored",
]


@pytest.mark.parametrize("path", PAGES)
def test_admin_sees_every_page(world, browser_for, path):
    browser = browser_for(world.users["admin"])
    response = browser.get(path, follow_redirects=True)
    assert response.status_code == 200, text(response)
    assert "Traceback" not in text(response)


def test_object_pages_render(world, browser_for):
    browser = browser_for(world.users["owner"])
    for path in (
        f"/teams/{world.team.id}",
        f"/namespaces/{world.private.id}",
        f"/repositories/{world.repository.id}",
    ):
        response = browser.get(path)
        assert response.status_code == 200, (path, text(response))


def test_repository_page_groups_tags_and_offers_the_pull_line(world, browser_for):
    body = text(browser_for(world.users["viewer"]).get(f"/repositories/{world.repository.id}"))
    assert "docker pull 127.0.0.1:9/devs/app:" in body
    assert "1.0" in body and "latest" in body
    assert "contributor" in body  # the author


def test_dashboard_shows_recent_activities_in_words(world, browser_for, plugins):
    activities.record(
        plugins,
        "repository.push",
        world.users["contributor"],
        "repository",
        world.repository.id,
        "devs/app:1.0",
        team_id=world.team.id,
        namespace_id=world.private.id,
        tag="1.0",
    )
    db.session.commit()
    body = text(browser_for(world.users["viewer"]).get("/"))
    assert "<strong>contributor</strong> pushed devs/app:1.0" in body
    outsider = text(browser_for(world.users["outsider"]).get("/"))
    assert "devs/app:1.0" not in outsider
