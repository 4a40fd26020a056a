"""Registry notifications and catalog reconciliation end to end (issue 4).

The real registry 2.8.2 POSTs its events over https to a running Wharfinger
(``stack_options`` below turns notifications on; ``WebhookGate`` can take the endpoint down
or lose its replies), skopeo and podman push and delete, and the app applies the events
on its in-process job runner. Tests wait for the runner to go idle and then poll the
database (bounded), because the registry delivers asynchronously.

Reconciliation runs as the job runs it (``tasks.reconcile``), or as ``wharfinger sync``,
each in its own app context so the test's own session is left alone.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.jobs import tasks
from app.models import Activity, Namespace, RegistryEvent, Repository, Tag, Team
from app.models.enums import EventStatus, NamespaceKind, Visibility
from app.registry import manifests
from app.registry.client import RegistryClient
from app.services import registries, registry_access
from app.services.catalog import RECONCILER, ReconcileReport
from tests.e2e.conftest import REGISTRY_NAME, People, Stack, StackOptions
from tests.support.clients import Skopeo
from tests.support.images import build_oci_image, build_oci_index, oci_ref, read_blob
from tests.support.ports import free_port
from tests.support.registry import RegistryProcess, registry_config

pytestmark = pytest.mark.e2e

SETTLE_SECONDS = 20.0
MAXENTRIES = 2
FOUND = "found by reconciliation"
REMOVED = "removed by reconciliation"


@pytest.fixture
def stack_options() -> StackOptions:
    """This module's registry notifies the live Wharfinger of every event."""
    return StackOptions(notifications=True)


@pytest.fixture(scope="module")
def formats(tmp_path_factory) -> Path:
    """An OCI layout with an image ``image`` and a two-platform OCI index ``multi``."""
    layout = tmp_path_factory.mktemp("e2e-formats")
    build_oci_image(layout, "image", "wharfinger formats image")
    build_oci_index(layout, "multi")
    return layout


# --- helpers ---------------------------------------------------------------------------


def ok(result) -> str:
    """Assert that a client run succeeded (showing its stderr if not); return stdout."""
    assert result.returncode == 0, f"{result.args}\nrc={result.returncode}\n{result.stderr}"
    return result.stdout


def push(skopeo: Skopeo, stack: Stack, source: str, repo_tag: str, creds=None, **options) -> str:
    """``skopeo copy`` of ``source`` (an ``oci:`` reference) to ``repo_tag``; the digest."""
    digest_file = stack.workdir / f"digest-{time.monotonic_ns()}"
    extra = [f"--digestfile={digest_file}", *options.pop("extra", ())]
    ok(skopeo.copy(source, stack.ref(repo_tag), creds, extra, **options))
    return digest_file.read_text().strip()


def settle(stack: Stack, probe: Callable[[], object], what: str, timeout: float = SETTLE_SECONDS):
    """Wait until ``probe()`` is truthy and return its value.

    Each round waits for the app's job runner to go idle, then re-reads the database in a
    fresh transaction (the events arrive from the registry on their own schedule).
    """
    runner = stack.app.extensions["wharfinger.jobs"]
    deadline = time.monotonic() + timeout
    while True:
        runner.wait_idle(timeout)
        db.session.rollback()
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            events = [(e.action, e.repository, e.tag, e.status.value) for e in event_rows()]
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}\nstored events: {events}\n"
                f"deliveries: {stack.gate.deliveries}\n--- registry log tail ---\n"
                + stack.registry.log_text()[-3000:]
            )
        time.sleep(0.1)


def fresh() -> None:
    """End the test session's transaction, so the next query sees other threads' commits."""
    db.session.rollback()


def tags_of(repository: str) -> dict[str, Tag]:
    """Tags of ``namespace/name`` by tag name (empty when the repository is unknown)."""
    namespace, _, name = repository.partition("/")
    query = (
        sa.select(Tag)
        .join(Repository, Tag.repository_id == Repository.id)
        .join(Namespace, Repository.namespace_id == Namespace.id)
        .where(Namespace.name == namespace, Repository.name == name)
    )
    return {tag.name: tag for tag in db.session.scalars(query)}


def all_tags() -> set[str]:
    """Every tag as ``namespace/name:tag``."""
    query = (
        sa.select(Namespace.name, Repository.name, Tag.name)
        .join(Repository, Tag.repository_id == Repository.id)
        .join(Namespace, Repository.namespace_id == Namespace.id)
    )
    return {f"{ns}/{repo}:{tag}" for ns, repo, tag in db.session.execute(query)}


def activities(key: str) -> list[Activity]:
    """Activities with ``key``, oldest first."""
    query = sa.select(Activity).where(Activity.key == key).order_by(Activity.id)
    return list(db.session.scalars(query))


def event_rows() -> list[RegistryEvent]:
    """Stored registry events, oldest first."""
    return list(db.session.scalars(sa.select(RegistryEvent).order_by(RegistryEvent.id)))


def row_counts() -> dict[str, int]:
    """Rows per table that a pass may touch."""
    return {
        model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Namespace, Repository, Tag, Activity)
    }


def sync(stack: Stack, strategy: str) -> ReconcileReport:
    """One reconciliation pass over the e2e registry, as the job runs it."""
    with stack.app.app_context():
        [report] = tasks.reconcile(strategy=strategy, registry_name=REGISTRY_NAME)
    fresh()
    return report


def image_size(raw_manifest: bytes) -> int:
    """What Wharfinger shows as an image's size: config plus compressed layers."""
    document = json.loads(raw_manifest)
    return document["config"]["size"] + sum(layer["size"] for layer in document["layers"])


def registry_client(stack: Stack) -> RegistryClient:
    """A client of the e2e registry authenticating as Wharfinger itself."""
    registry = registries.get_registry(REGISTRY_NAME)
    return registry_access.client_for(
        registry, stack.app.config, stack.app.extensions["wharfinger.tokens"]
    )


class SQLWrites:
    """Counts INSERT/UPDATE/DELETE statements on the app's engine (lease rows excluded)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        """``before_cursor_execute`` listener."""
        verb = statement.lstrip().split(" ", 1)[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE") and "job_leases" not in statement:
            self.statements.append(statement)


@pytest.fixture
def sql_writes() -> Iterator[SQLWrites]:
    """Every data-changing SQL statement sent while the test runs (except lease upkeep)."""
    writes = SQLWrites()
    sa.event.listen(db.engine, "before_cursor_execute", writes)
    try:
        yield writes
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", writes)


# --- pushes, deletes and duplicates through notifications -------------------------------


def test_a_skopeo_push_appears_as_repository_tag_and_activity_by_its_author(stack, people, images):
    """alice pushes with skopeo; the event creates ``alice/app``, tag ``1`` and an activity
    naming alice, with the details Wharfinger read back from the registry."""
    alice = people.users["alice"]
    digest = push(
        stack.skopeo(), stack, oci_ref(images, "one"), "alice/app:1", people.creds("alice")
    )
    tag = settle(stack, lambda: tags_of("alice/app").get("1"), "the tag alice/app:1")
    repository = db.session.get(Repository, tag.repository_id)
    assert db.session.get(Namespace, repository.namespace_id).name == "alice"
    assert (tag.digest, tag.author_id, tag.author_name) == (digest, alice.id, "alice")
    assert tag.media_type == manifests.OCI_MANIFEST
    assert tag.size == image_size(read_blob(images, digest))
    assert tag.platforms == ["linux/amd64"]
    [activity] = activities("repository.push")
    assert (activity.actor_id, activity.actor_name) == (alice.id, "alice")
    assert (activity.target_name, activity.target_id) == ("alice/app:1", repository.id)
    assert activity.parameters["digest"] == digest
    [row] = [e for e in event_rows() if e.tag == "1"]
    assert (row.action, row.status, row.actor_name) == ("push", EventStatus.DONE, "alice")


def test_a_podman_push_appears_with_its_author(stack, people, podman, images):
    """The team's contributor pushes with podman into ``devs-private``: the tag and the
    activity name the contributor, and the digest is the one podman reports."""
    contributor = people.users["contributor"]
    image_id = ok(podman.run("pull", "--quiet", oci_ref(images, "two"))).strip()
    ok(podman.login(stack.host_port, *people.creds("contributor")))
    target = stack.image("devs-private/tool:p1")
    ok(podman.tag(image_id, target))
    digest_file = podman.root_dir / "pushed.digest"
    ok(podman.push(target, extra=[f"--digestfile={digest_file}"]))
    digest = digest_file.read_text().strip()
    tag = settle(stack, lambda: tags_of("devs-private/tool").get("p1"), "podman's tag")
    assert (tag.digest, tag.author_id, tag.author_name) == (digest, contributor.id, "contributor")
    assert tag.media_type in manifests.IMAGE_MEDIA_TYPES and tag.size and tag.platforms
    [activity] = activities("repository.push")
    assert (activity.actor_name, activity.target_name) == ("contributor", "devs-private/tool:p1")


def test_a_delete_removes_every_tag_on_the_digest(stack, people, images):
    """``skopeo delete`` by alice: both tags on that digest go (one activity each, by
    alice); the tag on another image stays."""
    skopeo, creds = stack.skopeo(), people.creds("alice")
    push(skopeo, stack, oci_ref(images, "one"), "alice/app:1", creds)
    push(skopeo, stack, oci_ref(images, "one"), "alice/app:latest", creds)
    push(skopeo, stack, oci_ref(images, "two"), "alice/app:2", creds)
    settle(stack, lambda: len(tags_of("alice/app")) == 3, "three tags")
    ok(skopeo.delete(stack.ref("alice/app:1"), creds))
    settle(stack, lambda: set(tags_of("alice/app")) == {"2"}, "the deletion")
    deleted = activities("repository.delete")
    assert sorted(a.target_name for a in deleted) == ["alice/app:1", "alice/app:latest"]
    assert {(a.actor_id, a.actor_name) for a in deleted} == {(people.users["alice"].id, "alice")}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Repository)) == 1


def test_duplicate_deliveries_are_applied_once(stack, people, images):
    """The first two deliveries of the tag push are stored but their replies are lost, so
    the registry sends the same event three times: one row, one tag, one activity."""
    stack.gate.lose_replies(2)
    push(stack.skopeo(), stack, oci_ref(images, "one"), "alice/app:1", people.creds("alice"))
    settle(stack, lambda: tags_of("alice/app").get("1"), "the tag")
    [row] = [e for e in event_rows() if e.tag == "1"]
    settle(stack, lambda: stack.gate.delivered(row.event_id) >= 3, "three deliveries")
    stack.app.extensions["wharfinger.jobs"].wait_idle()
    fresh()
    assert [e.event_id for e in event_rows()].count(row.event_id) == 1
    assert db.session.get(RegistryEvent, row.id).status == EventStatus.DONE
    assert len(activities("repository.push")) == 1
    assert list(tags_of("alice/app")) == ["1"]


def test_a_push_while_the_endpoint_is_down_is_found_by_reconciliation(
    stack, people, images, runner
):
    """The webhook answers 503 during the push, so nothing is recorded; ``wharfinger sync``
    then finds the tag. The registry's retry, once the endpoint is back, changes nothing."""
    stack.gate.down = True
    digest = push(
        stack.skopeo(), stack, oci_ref(images, "one"), "alice/app:1", people.creds("alice")
    )
    # The registry's queue is head-of-line blocked: it retries the first event (a blob
    # push) forever, and the tag push waits behind it.
    settle(stack, lambda: stack.gate.deliveries, "a refused delivery")
    fresh()
    assert tags_of("alice/app") == {} and event_rows() == []
    with stack.app.app_context():
        result = runner.invoke(args=["sync", "--strategy", "update"])
    assert result.exit_code == 0, result.output
    assert f"{REGISTRY_NAME}: 1 repositories, 1 tags, 1 tags created" in result.output
    assert result.output.rstrip().endswith(", complete")
    fresh()
    tag = tags_of("alice/app")["1"]
    assert (tag.digest, tag.media_type) == (digest, manifests.OCI_MANIFEST)
    assert tag.size == image_size(read_blob(images, digest)) and tag.platforms == ["linux/amd64"]
    [activity] = activities("repository.push")
    assert (activity.actor_id, activity.actor_name) == (None, RECONCILER)
    assert activity.parameters["reason"] == FOUND
    stack.gate.down = False
    row = settle(
        stack,
        lambda: next((e for e in event_rows() if e.tag == "1" and e.processed_at), None),
        "the redelivered push",
    )
    # The late event only names the pusher of the tag reconciliation found: no new push.
    assert row.status == EventStatus.DONE and "author recorded" in row.reason
    assert len(activities("repository.push")) == 1
    db.session.expire_all()
    assert tags_of("alice/app")["1"].author_name == "alice"


# --- formats ---------------------------------------------------------------------------

BOTH_PLATFORMS = ["linux/amd64", "linux/arm64"]
# tag → (skopeo options, layout tag, media type the registry stores, platforms shown)
FORMATS = {
    "oci-image": ({}, "image", manifests.OCI_MANIFEST, ["linux/amd64"]),
    "oci-index": ({"all_images": True}, "multi", manifests.OCI_INDEX, BOTH_PLATFORMS),
    "docker-image": (
        {"manifest_format": "v2s2"},
        "image",
        manifests.DOCKER_MANIFEST_V2,
        ["linux/amd64"],
    ),
    "docker-list": (
        {"all_images": True, "manifest_format": "v2s2"},
        "multi",
        manifests.DOCKER_MANIFEST_LIST,
        BOTH_PLATFORMS,
    ),
}


def push_formats(stack: Stack, people: People, layout: Path) -> dict[str, str]:
    """alice pushes every entry of FORMATS to ``alice/formats``; tag → digest."""
    skopeo, creds = stack.skopeo(), people.creds("alice")
    return {
        name: push(skopeo, stack, oci_ref(layout, source), f"alice/formats:{name}", creds, **opts)
        for name, (opts, source, _, _) in FORMATS.items()
    }


def check_formats(stack: Stack, people: People, pushed: dict[str, str]) -> None:
    """Each tag has the stored media type, its platforms, and a size only for images
    (config plus layers, from the manifest as the registry serves it)."""
    skopeo, creds, tags = stack.skopeo("inspect"), people.creds("alice"), tags_of("alice/formats")
    for name, (_, _, media_type, platforms) in FORMATS.items():
        raw = ok(skopeo.inspect(stack.ref(f"alice/formats:{name}"), creds, raw=True)).encode()
        assert json.loads(raw)["mediaType"] == media_type, name
        tag = tags[name]
        assert (tag.digest, tag.media_type) == (pushed[name], media_type), name
        assert sorted(tag.platforms) == platforms, name
        assert tag.size == (None if manifests.is_index(media_type) else image_size(raw)), name


def test_oci_image_oci_index_docker_image_and_manifest_list_are_shown_correctly(
    stack, people, formats
):
    """Through the events: each format gets its media type, platforms and a size where
    one is defined; a reconciliation pass then agrees and changes nothing."""
    pushed = push_formats(stack, people, formats)
    settle(stack, lambda: len(tags_of("alice/formats")) == len(FORMATS), "every format's tag")
    check_formats(stack, people, pushed)
    report = sync(stack, "update")
    assert report.complete and report.tags == len(FORMATS) and report.changes == 0


# --- reconciliation (no notifications, paginated catalog) -------------------------------


class TestReconciliation:
    """Passes over a registry Wharfinger was not told about (notifications off), with
    ``catalog.maxentries: 2`` so that every catalog walk takes several pages."""

    @pytest.fixture
    def stack_options(self) -> StackOptions:
        """No notifications; two repositories per catalog page."""
        return StackOptions(notifications=False, catalog_maxentries=MAXENTRIES)

    @pytest.fixture
    def seeded(self, stack, people, images) -> dict[str, str]:
        """Five tags in four repositories over two catalog pages, all known to Wharfinger
        after one ``update`` pass; ``repo:tag`` → digest."""
        skopeo = stack.skopeo()
        plan = [
            ("alice/a:1", "one", "alice"),
            ("alice/b:1", "two", "alice"),
            ("bob/c:1", "one", "bob"),
            ("bob/d:1", "one", "bob"),
            ("bob/d:2", "two", "bob"),
        ]
        digests = {
            ref: push(skopeo, stack, oci_ref(images, source), ref, people.creds(user))
            for ref, source, user in plan
        }
        report = sync(stack, "update")
        assert report.complete and report.created_tags == 5 and report.removed_tags == 0
        assert all_tags() == set(digests)
        return digests

    def test_a_registry_failing_half_way_through_the_catalog_causes_no_deletion(
        self, stack, seeded, doomed_catalog, runner
    ):
        """``bob/d:2`` is deleted behind Wharfinger's back. ``wharfinger sync`` with
        ``update-delete``, whose catalog read dies after the first page, deletes nothing
        (not even page two's repositories), says so and exits 1; a complete pass then
        removes the tag, keeping the history as a ``repository.delete`` activity."""
        with registry_client(stack) as client:
            assert client.delete_manifest("bob/d", seeded["bob/d:2"])
        doomed_catalog.arm()
        with stack.app.app_context():
            result = runner.invoke(args=["sync", "--strategy", "update-delete"])
        assert doomed_catalog.stopped, result.output
        assert result.exit_code == 1, result.output
        summary = f"{REGISTRY_NAME}: {MAXENTRIES} repositories, {MAXENTRIES} tags, 0 tags created"
        assert summary in result.output
        assert "0 removed" in result.output
        assert "INCOMPLETE (nothing deleted)" in result.output
        assert "problem: catalog incomplete" in result.output
        fresh()
        assert all_tags() == set(seeded)
        assert activities("repository.delete") == []

        report = sync(stack, "update-delete")  # the real registry's whole catalog
        assert report.complete and report.repositories == 4 and report.removed_tags == 1
        assert all_tags() == set(seeded) - {"bob/d:2"}
        [removed] = activities("repository.delete")
        assert (removed.target_name, removed.actor_name) == ("bob/d:2", RECONCILER)
        assert removed.parameters["reason"] == REMOVED
        assert removed.parameters["digest"] == seeded["bob/d:2"]

    def test_a_pass_with_nothing_changed_writes_nothing(self, stack, seeded, sql_writes):
        """Every tag is already known: the pass reads the whole registry and no INSERT,
        UPDATE or DELETE reaches the database (the pass's lease aside)."""
        before = row_counts()
        sql_writes.statements.clear()
        report = sync(stack, "update-delete")
        assert report.complete and report.changes == 0 and report.tags == 5
        assert sql_writes.statements == []
        assert row_counts() == before

    def test_a_pass_shows_every_format_correctly(self, stack, people, formats):
        """Found by reconciliation alone, the formats get the same details as through
        the events (the reconciler reads each new manifest and an image's config)."""
        pushed = push_formats(stack, people, formats)
        report = sync(stack, "update")
        assert report.complete and report.created_tags == len(FORMATS)
        check_formats(stack, people, pushed)

    def test_a_pass_creates_an_unknown_namespace_admin_only(self, stack, people, images, caplog):
        """An image pushed straight to the registry under ``ghost/`` (with a token Wharfinger
        minted for itself) is found: the namespace is created private and owned by the
        registry's hidden team, and the pass reports it; alice gets no access to it."""
        token = stack.app.extensions["wharfinger.tokens"].system_token(
            stack.host_port, ["repository:ghost/app:pull,push"]
        )
        digest = push(
            stack.skopeo("system"),
            stack,
            oci_ref(images, "one"),
            "ghost/app:1",
            extra=[f"--dest-registry-token={token}"],
        )
        caplog.set_level("INFO", logger="wharfinger.catalog")
        report = sync(stack, "update")
        assert report.complete and report.created_namespaces == ["ghost"]
        assert report.created_repositories == 1 and report.created_tags == 1
        assert "Created the namespace 'ghost' (admin-only" in caplog.text
        namespace = db.session.scalar(sa.select(Namespace).where(Namespace.name == "ghost"))
        team = db.session.get(Team, namespace.team_id)
        assert (namespace.kind, namespace.visibility) == (NamespaceKind.TEAM, Visibility.PRIVATE)
        assert team.hidden and team.name.startswith("~global:")
        [created] = activities("namespace.create")
        assert (created.target_name, created.actor_name) == ("ghost", RECONCILER)
        assert tags_of("ghost/app")["1"].digest == digest
        assert granted(stack, people, "alice", "repository:ghost/app:pull") == []
        assert granted(stack, people, "admin", "repository:ghost/app:pull") == ["pull"]


def granted(stack: Stack, people: People, user: str, scope: str) -> list[str]:
    """The actions Wharfinger grants ``user`` for ``scope`` (read from the token's claims)."""
    token = stack.token([scope], people.creds(user))
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return sorted(action for entry in claims.get("access", []) for action in entry["actions"])


class DoomedCatalog:
    """A second registry over the same storage that, once ``arm``ed, serves the next
    client's catalog and is stopped after the first page, so that walk fails half-way;
    tags and manifests are still read from the real registry. It serves one walk only."""

    def __init__(self, process: RegistryProcess, tokens: Callable[[list[str]], str]) -> None:
        self.process = process
        self.tokens = tokens
        self.armed = False
        self.stopped = False

    def arm(self) -> None:
        """The next client made by ``registry_access.client_for`` walks this catalog."""
        self.armed = True

    def client_for(self, original: Callable) -> Callable[..., RegistryClient]:
        """Wrap ``registry_access.client_for``: the next client after ``arm`` walks this
        catalog."""

        def client_for(*args, **kwargs) -> RegistryClient:
            client = original(*args, **kwargs)
            if self.armed:
                self.armed = False
                client.catalog = self.catalog
            return client

        return client_for

    def catalog(self, page_size: int = 100) -> Iterator[str]:
        """This registry's catalog; the registry is stopped once the first page is out."""
        with RegistryClient(self.process.url, self.tokens, retries=1, backoff=0.01) as client:
            for count, name in enumerate(client.catalog(page_size), start=1):
                yield name
                if count == MAXENTRIES:
                    self.process.stop()
                    self.stopped = True


@pytest.fixture
def doomed_catalog(stack, monkeypatch, tmp_path) -> Iterator[DoomedCatalog]:
    """A catalog that breaks after one page, for the first pass after ``arm()``."""
    config = registry_config(
        addr=f"127.0.0.1:{free_port()}",
        storage=stack.registry.workdir / "data",
        realm="http://127.0.0.1:9/token",
        service=stack.host_port,
        issuer=stack.app.config["TOKEN_ISSUER"],
        rootcertbundle=stack.app.config["SIGNING_CERT"],
        catalog_maxentries=MAXENTRIES,
    )
    process = RegistryProcess.from_config_text(tmp_path / "doomed", config).start()
    issuer = stack.app.extensions["wharfinger.tokens"]
    doomed = DoomedCatalog(process, lambda scopes: issuer.system_token(stack.host_port, scopes))
    monkeypatch.setattr(
        registry_access, "client_for", doomed.client_for(registry_access.client_for)
    )
    try:
        yield doomed
    finally:
        process.stop()
