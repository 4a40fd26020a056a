"""Deleting from the web UI goes through the real registry 2.8.2 first."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Activity, Repository, Tag
from app.models.enums import Visibility
from tests.e2e.conftest import StackOptions
from tests.e2e.test_events_e2e import ok, push, settle
from tests.support.web import WebClient

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack_options() -> StackOptions:
    """Notifications on: pushes reach the database as they would in production."""
    return StackOptions(notifications=True)


def signed_in(app, username: str, password: str) -> WebClient:
    """A browser stand-in signed in as ``username``."""
    browser = WebClient(app.test_client())
    assert browser.sign_in(username, password).status_code == 302
    return browser


def test_deleting_a_tag_deletes_its_digest_in_the_registry(stack, people, images, skopeo):
    namespace = people.namespaces[Visibility.PRIVATE].name
    owner = people.creds("owner")
    digest = push(skopeo, stack, f"oci:{images}:one", f"{namespace}/app:1.0", owner)
    push(skopeo, stack, f"oci:{images}:one", f"{namespace}/app:stable", owner)
    push(skopeo, stack, f"oci:{images}:two", f"{namespace}/app:2.0", owner)
    settle(
        stack, lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Tag)) == 3, "3 tags"
    )
    repository = db.session.scalar(sa.select(Repository).where(Repository.name == "app"))

    browser = signed_in(stack.app, *owner)
    page = browser.get(f"/repositories/{repository.id}").get_data(as_text=True)
    assert "stable will be deleted too" in page  # the warning names the sibling tag

    response = browser.post(f"/repositories/{repository.id}/tags/1.0/delete")
    assert response.status_code == 302
    listed = json.loads(ok(skopeo.list_tags(stack.ref(f"{namespace}/app"), owner)))
    assert sorted(listed["Tags"]) == ["2.0"]  # the registry deleted the digest: both tags
    assert skopeo.inspect(stack.ref(f"{namespace}/app@{digest}"), owner).returncode != 0
    db.session.rollback()
    names = set(db.session.scalars(sa.select(Tag.name)))
    assert names == {"2.0"}
    deleted = db.session.scalars(
        sa.select(Activity.target_name).where(Activity.key == "repository.delete")
    ).all()
    assert sorted(deleted) == [f"{namespace}/app:1.0", f"{namespace}/app:stable"]


def test_a_contributor_cannot_delete_and_nothing_changes(stack, people, images, skopeo):
    namespace = people.namespaces[Visibility.PRIVATE].name
    push(skopeo, stack, f"oci:{images}:one", f"{namespace}/app:1.0", people.creds("owner"))
    settle(stack, lambda: db.session.scalar(sa.select(Tag)), "the tag")
    repository = db.session.scalar(sa.select(Repository))
    browser = signed_in(stack.app, *people.creds("contributor"))
    assert browser.post(f"/repositories/{repository.id}/tags/1.0/delete").status_code == 403
    listed = json.loads(ok(skopeo.list_tags(stack.ref(f"{namespace}/app"), people.creds("owner"))))
    assert listed["Tags"] == ["1.0"]
