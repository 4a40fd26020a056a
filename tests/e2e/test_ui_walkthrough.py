"""The seed walkthrough in a real browser (seed-walkthrough.md §3), end to end.

Debian's chromium (headless, driven by Playwright) signs up the first admin, registers the
real registry 2.8.2 started by the test, creates user ``gggg``, a team, the namespace
``microbox`` and adds ``gggg`` as contributor; then skopeo pushes ``microbox/etcd:2.1.1``
as ``gggg`` (the registry asks Wharfinger), a push into another namespace fails, and the
dashboard shows the repository and "gggg pushed microbox/etcd:2.1.1", which arrived as a
registry notification. Screenshots of the main pages go to ``test-artifacts/screenshots``
(not committed) for a reviewer to look at.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Repository, Tag
from tests.e2e.conftest import StackOptions
from tests.e2e.test_events_e2e import ok, push, settle

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("WHARFINGER_SCREENSHOTS", "test-artifacts/screenshots"))
ADMIN_PASSWORD = "admin password 1"
GGGG_PASSWORD = "gggg password 1"


@pytest.fixture
def stack_options() -> StackOptions:
    """Notifications on, and the registry left for the admin to register in the browser."""
    return StackOptions(notifications=True, register=False)


@pytest.fixture
def browser():
    """Headless Debian chromium; skipped with the reason when it or Playwright is missing."""
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield instance
        instance.close()


def new_page(browser, base_url: str):
    """A fresh browser profile; the test CA is not in chromium's store, so certificate
    errors of the loopback server are ignored (only the browser: skopeo and the registry
    verify TLS for real)."""
    context = browser.new_context(base_url=base_url, ignore_https_errors=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def shot(page, name: str) -> None:
    """Save a full-page screenshot for the reviewer."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, username: str, password: str) -> None:
    """Sign in through the form."""
    page.goto("/users/sign_in")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_seed_walkthrough_in_a_browser(stack, browser, images, tmp_path):
    page = new_page(browser, stack.live.url)

    # 1. A new instance opens on the sign-up page; the first account is the admin.
    page.goto("/")
    assert "/users/sign_up" in page.url
    shot(page, "01-sign-up")
    page.get_by_label("Username", exact=True).fill("admin")
    page.get_by_label("E-mail address", exact=True).fill("admin@example.com")
    page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    page.get_by_label("Password again", exact=True).fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Create account").click()

    # 2. With no registry yet, the admin lands on the registration form.
    page.wait_for_url(re.compile(r".*/admin/registries/new$"))
    shot(page, "02-register-registry")
    page.get_by_label("Name", exact=True).fill("registry")
    page.get_by_label("Hostname", exact=True).fill(stack.host_port)
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r".*/admin/registries$"))
    assert stack.host_port in page.content()

    # 3. Admin → Users → create user gggg.
    page.get_by_role("link", name="Admin", exact=True).click()
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_label("Username", exact=True).fill("gggg")
    page.get_by_label("E-mail address", exact=True).fill("gggg@example.com")
    page.get_by_label("Password", exact=True).fill(GGGG_PASSWORD)
    page.get_by_role("button", name="Add").click()
    assert page.get_by_text("User gggg created.").is_visible()
    shot(page, "03-admin-users")

    # 4. Teams → create a team; 5. add namespace microbox; 6. add gggg as contributor.
    page.get_by_role("link", name="Teams", exact=True).click()
    page.get_by_label("Team name", exact=True).fill("microbox-team")
    page.get_by_role("button", name="Add team").click()
    page.get_by_text("Add namespace").click()
    page.get_by_label("Namespace name", exact=True).fill("microbox")
    page.get_by_role("button", name="Add", exact=True).click()
    assert page.get_by_role("heading", name=re.compile("Namespace microbox")).is_visible()
    page.get_by_role("link", name="microbox-team", exact=True).click()
    page.get_by_text("Add members").click()
    page.get_by_label("Username", exact=True).fill("gg")  # the typeahead suggests gggg
    page.wait_for_selector("#user-suggestions option[value='gggg']", state="attached")
    page.get_by_label("Username", exact=True).fill("gggg")
    page.get_by_label("Role", exact=True).select_option("contributor")
    page.get_by_role("button", name="Add", exact=True).click()
    assert page.get_by_text("gggg added.").is_visible()
    shot(page, "04-team")

    # 7. gggg pushes microbox/etcd:2.1.1: the registry asks Wharfinger, which allows it.
    skopeo = stack.skopeo()
    gggg = ("gggg", GGGG_PASSWORD)
    push(skopeo, stack, f"oci:{images}:one", "microbox/etcd:2.1.1", gggg)
    # 8. ... and into another namespace is refused.
    refused = skopeo.copy(f"oci:{images}:one", stack.ref("h0tbird/portus:v2.0.2-1"), gggg)
    assert refused.returncode != 0
    assert "denied" in refused.stderr.lower() or "unauthorized" in refused.stderr.lower()

    # The notification arrives and is applied: the repository and the activity show.
    settle(stack, lambda: db.session.scalar(sa.select(Tag).where(Tag.name == "2.1.1")), "the tag")
    user_page = new_page(browser, stack.live.url)
    sign_in(user_page, "gggg", GGGG_PASSWORD)
    user_page.wait_for_url(re.compile(r".*/$"))
    activities = user_page.locator("section", has_text="Recent activities")
    assert "gggg pushed microbox/etcd:2.1.1" in " ".join(activities.inner_text().split())
    team_repositories = user_page.locator("section", has_text="Your teams' repositories")
    assert team_repositories.get_by_role("link", name="microbox/etcd", exact=True).is_visible()
    shot(user_page, "05-dashboard-gggg")

    # The repository page: the tag, its author, and a pull line with the registry's host.
    user_page.get_by_role("link", name="microbox/etcd", exact=True).first.click()
    body = user_page.content()
    assert "2.1.1" in body and "gggg" in body
    assert f"docker pull {stack.host_port}/microbox/etcd:2.1.1" in body
    shot(user_page, "06-repository")

    # The admin's dashboard shows the figures and the same activity.
    page.goto("/")
    assert "gggg pushed microbox/etcd:2.1.1" in " ".join(page.inner_text("main").split())
    shot(page, "07-dashboard-admin")
    for path, name in (
        ("/namespaces/", "08-namespaces"),
        ("/admin/activities", "09-admin-activities"),
        ("/admin/diagnostics", "10-admin-diagnostics"),
        ("/profile", "11-profile"),
    ):
        page.goto(path)
        assert "Traceback" not in page.content()
        shot(page, name)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Repository)) == 1
    ok(skopeo.inspect(stack.ref("microbox/etcd:2.1.1"), gggg))
