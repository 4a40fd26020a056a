"""Malformed input gets a clear answer (404, 400 with a message, a field error), never a
500: huge or non-ASCII numbers, stray query arguments, NUL characters, unknown names."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Tag, TeamMember
from app.registry.client import RegistryUnavailable
from app.services import deletion
from tests.web.conftest import make_repository

HUGE = "99999999999999999999"


def text(response) -> str:
    """The response body as text."""
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        f"/namespaces/{HUGE}",
        f"/repositories/{HUGE}",
        f"/teams/{HUGE}",
        f"/admin/users/{HUGE}",
        f"/users/{HUGE}/tokens",
        "/namespaces/0",
    ],
)
def test_out_of_range_ids_in_paths_are_404(world, browser_for, path):
    assert browser_for(world.users["admin"]).get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        f"/?page={HUGE}",
        f"/explore?page={HUGE}",
        "/explore?page=²",
        f"/namespaces/?page={HUGE}&per_page=²",
        "/teams/?page=-1",
        f"/admin/users?page={HUGE}",
        f"/admin/events?page={HUGE}",
        f"/admin/activities?before={HUGE}",
        "/admin/activities?before=²",
        "/namespaces/?per_page=1&_method=POST",
        "/admin/users?per_page=1&endpoint=x&_external=1",
    ],
)
def test_nonsense_query_arguments_are_ignored(world, browser_for, path):
    response = browser_for(world.users["admin"]).get(path)
    assert response.status_code == 200, text(response)[-400:]


def test_a_page_past_the_end_shows_the_last_page(world, browser_for):
    body = text(browser_for(world.users["admin"]).get("/namespaces/?page=50&per_page=1"))
    assert "Page 50" not in body and 'rel="next"' not in body


@pytest.mark.parametrize("value", [HUGE, "²", "", "x"])
def test_malformed_ids_in_forms_are_refused_with_a_message(world, browser_for, value):
    owner = browser_for(world.users["owner"])
    created = owner.post(
        "/namespaces/", {"team_id": value, "registry_id": str(world.registry.id), "name": "n"}
    )
    assert created.status_code == 400 and "choose a team" in text(created)
    moved = owner.post(f"/namespaces/{world.private.id}/team", {"team_id": value})
    assert moved.status_code == 400 and "choose a team" in text(moved)
    token = owner.post(
        f"/users/{world.users['owner'].id}/tokens", {"application": "ci", "expires_days": value}
    )
    if value:
        assert token.status_code == 400
        assert "expiry must be a number of days" in text(token)
    else:  # empty means "never": the token is created and shown once
        assert token.status_code == 200 and "shown only this once" in text(token)


def test_nul_characters_in_forms_are_refused(world, browser_for):
    response = browser_for(world.users["owner"]).post(
        f"/teams/{world.team.id}/edit", {"description": "a\x00b"}
    )
    assert response.status_code == 400
    assert "NUL" in text(response)
    db.session.refresh(world.team)
    assert world.team.description is None


def test_an_unknown_member_name_is_a_field_error(world, browser_for):
    response = browser_for(world.users["owner"]).post(
        f"/teams/{world.team.id}/members", {"username": "nosuch", "role": "viewer"}
    )
    assert response.status_code == 400
    assert "there is no user named &#39;nosuch&#39;" in text(response)
    assert 'aria-invalid="true"' in text(response)


def test_typeahead_attributes_reach_the_input(world, browser_for):
    body = text(browser_for(world.users["owner"]).get(f"/teams/{world.team.id}"))
    assert 'list="user-suggestions"' in body
    assert f'data-suggest="/teams/{world.team.id}/typeahead"' in body


class HalfWorkingRegistry:
    """A registry that deletes the first manifest asked for and then goes away: a real
    registry cannot be made to fail between two requests on cue, so this stands in for
    the client (the e2e tests delete through the real registry)."""

    def __init__(self):
        self.deleted = []

    def delete_manifest(self, repository, digest):
        if self.deleted:
            raise RegistryUnavailable("connection refused")
        self.deleted.append(digest)
        return True


def test_a_repository_delete_refused_half_way_keeps_what_the_registry_deleted(world, plugins, app):
    from app.blueprints.web import commit_deletion

    repository = make_repository(world.private, "multi", ("a",), digest="sha256:" + "1" * 64)
    for name, digit in (("b", "2"), ("c", "3")):
        db.session.add(Tag(repository_id=repository.id, name=name, digest="sha256:" + digit * 64))
    db.session.commit()
    registry = HalfWorkingRegistry()
    settings = app.extensions["wharfinger.tokens"].access_settings
    with pytest.raises(deletion.RegistryRefused):
        commit_deletion(
            lambda: deletion.delete_repository(
                plugins, world.users["owner"], repository, settings=settings, client=registry
            )
        )
    db.session.rollback()
    left = set(db.session.scalars(sa.select(Tag.digest).where(Tag.repository_id == repository.id)))
    assert registry.deleted and registry.deleted[0] not in left  # gone there, gone here
    assert len(left) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TeamMember)) > 0
