"""Wharfinger's token server end to end: real registry 2.8.2, real skopeo and podman.

Nothing is mocked. Each test gets its own Wharfinger (HTTPS, ``LiveServer``) and registry
(``stack`` in conftest), then drives the real clients and asserts what they report: exit
codes, the registry's own error text relayed by the client, digests and tag lists. The
permission cases follow Portus's matrix (portus.md §2.1) with the default settings
(``allow-teams``, deletes enabled, contributors may not delete).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from app.extensions import db
from app.services import accounts, credentials
from tests.e2e.conftest import People, Stack
from tests.support.clients import Podman, Skopeo
from tests.support.images import manifest_digest, oci_ref

pytestmark = pytest.mark.e2e

DENIED = "requested access to the resource is denied"
BAD_LOGIN = "invalid username/password"
NEW_PASSWORD = "a brand new passphrase"
REFRESH_REVOKED = "refresh token is invalid, revoked"
PODMAN_ERROR = 125


# --- helpers ---------------------------------------------------------------------------


def ok(result: subprocess.CompletedProcess) -> str:
    """Assert that a client run succeeded (showing its stderr if not); return stdout."""
    assert result.returncode == 0, f"{result.args}\nrc={result.returncode}\n{result.stderr}"
    return result.stdout


def failed(result: subprocess.CompletedProcess, *texts: str) -> str:
    """Assert that a client run failed with every one of ``texts`` in stderr; return it."""
    assert result.returncode != 0, f"{result.args} unexpectedly succeeded:\n{result.stdout}"
    for text in texts:
        assert text in result.stderr, f"{text!r} not in stderr:\n{result.stderr}"
    return result.stderr


def push(skopeo: Skopeo, stack: Stack, images: Path, repo_tag: str, creds=None, tag="one"):
    """``skopeo copy`` of a local test image to ``repo_tag`` in the registry."""
    return skopeo.copy(oci_ref(images, tag), stack.ref(repo_tag), creds)


def pull(skopeo: Skopeo, stack: Stack, repo_tag: str, dest: Path, creds=None, extra=()):
    """``skopeo copy`` from the registry into the OCI layout ``dest`` (tag ``pulled``)."""
    return skopeo.copy(stack.ref(repo_tag), oci_ref(dest, "pulled"), creds, extra)


def pulled_digest(dest: Path) -> str:
    """The manifest digest of what ``pull`` wrote into ``dest``."""
    return manifest_digest(dest, "pulled")


def tags(skopeo: Skopeo, stack: Stack, repo: str, creds) -> list[str]:
    """Sorted tags of ``repo`` as the registry lists them."""
    listing = json.loads(ok(skopeo.list_tags(stack.ref(repo), creds)))
    return sorted(listing["Tags"] or [])


def catalog(stack: Stack, people: People) -> list[str]:
    """Repository names in the registry's ``/v2/_catalog``, read with an admin token."""
    token = stack.token(["registry:catalog:*"], people.creds("admin"))
    response = stack.registry_get("/v2/_catalog", token)
    assert response.status_code == 200, response.text
    return response.json()["repositories"]


def jwt_header(token: str) -> dict:
    """The decoded (unverified) JOSE header of a JWT."""
    segment = token.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


ACCESS_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/1\.1" (\d{3}) ')


def registry_requests(stack: Stack) -> list[tuple[str, str, int]]:
    """(method, uri, status) of every request in the registry's access log, in order."""
    return [
        (method, uri, int(status))
        for method, uri, status in ACCESS_LINE.findall(stack.registry.log_text())
    ]


def mounts_into(stack: Stack, repo: str) -> list[int]:
    """Statuses of the cross-repository mount POSTs into ``repo`` (201 = mounted)."""
    prefix = f"/v2/{repo}/blobs/uploads/?"
    return [
        status
        for method, uri, status in registry_requests(stack)
        if method == "POST" and uri.startswith(prefix) and "mount=" in uri
    ]


def statuses(stack: Stack, method: str, uri_prefix: str) -> list[int]:
    """Statuses of registry requests with ``method`` whose URI starts with ``uri_prefix``."""
    return [
        s for m, uri, s in registry_requests(stack) if m == method and uri.startswith(uri_prefix)
    ]


def token_scopes(stack: Stack) -> list[set[str]]:
    """The ``scope`` values of each GET /v2/token the live Wharfinger answered, in order."""
    return [
        set(parse_qs(r.query).get("scope", [])) for r in stack.live.requests_to("/v2/token", "GET")
    ]


# --- login ------------------------------------------------------------------------------


def test_skopeo_login_succeeds_with_the_password(stack, people, skopeo):
    """``skopeo login`` gets a scope-less token and stores the credentials."""
    assert "Login Succeeded" in ok(skopeo.login(stack.host_port, *people.creds("alice")))
    assert stack.host_port in json.loads(skopeo.authfile.read_text())["auths"]
    assert token_scopes(stack) == [set()]


def test_skopeo_login_with_a_wrong_password_is_refused(stack, people, skopeo):
    """A wrong password is a 401 from /v2/token, which skopeo calls invalid username/password."""
    failed(skopeo.login(stack.host_port, "alice", "not the password"), BAD_LOGIN)
    assert not skopeo.authfile.exists()


# --- push -------------------------------------------------------------------------------


def test_push_into_own_personal_namespace(stack, people, skopeo, images):
    """alice pushes to ``alice/app``; the registry stores exactly the local manifest."""
    ok(push(skopeo, stack, images, "alice/app:1", people.creds("alice")))
    stored = json.loads(ok(skopeo.inspect(stack.ref("alice/app:1"), people.creds("alice"))))
    assert stored["Digest"] == manifest_digest(images, "one")
    assert tags(skopeo, stack, "alice/app", people.creds("alice")) == ["1"]


def test_push_into_team_namespace_as_contributor_and_owner(stack, people, skopeo, images):
    """Contributors and owners of ``devs`` both push into its private namespace."""
    ok(push(skopeo, stack, images, "devs-private/app:by-contributor", people.creds("contributor")))
    ok(push(skopeo, stack, images, "devs-private/app:by-owner", people.creds("owner"), "two"))
    assert tags(skopeo, stack, "devs-private/app", people.creds("viewer")) == [
        "by-contributor",
        "by-owner",
    ]


@pytest.mark.parametrize(
    ("user", "repo"),
    [
        ("viewer", "devs-private/app"),  # viewer: pull only
        ("bob", "devs-private/app"),  # not a member of devs
        ("bob", "alice/app"),  # someone else's personal namespace
    ],
)
def test_push_is_denied(stack, people, skopeo, images, user, repo):
    """The registry refuses the upload with the client's 'denied' text; nothing is stored."""
    failed(push(skopeo, stack, images, f"{repo}:1", people.creds(user)), DENIED)
    assert repo not in catalog(stack, people)


# --- pull by visibility -----------------------------------------------------------------


def seed(stack: Stack, people: People, images: Path, repos: list[str]) -> None:
    """The owner of ``devs`` pushes image ``one`` to each of ``repos`` (tag ``1``)."""
    owner = stack.skopeo("seed")
    for repo in repos:
        ok(push(owner, stack, images, f"{repo}:1", people.creds("owner")))


def test_anonymous_pull_of_public_namespace_but_not_private(stack, people, images, tmp_path):
    """No credentials: a public image is pulled intact, a private one is denied."""
    seed(stack, people, images, ["devs-public/app", "devs-private/app"])
    anonymous = stack.skopeo("anonymous")
    no_creds = ["--src-no-creds"]
    ok(pull(anonymous, stack, "devs-public/app:1", tmp_path / "public", extra=no_creds))
    assert pulled_digest(tmp_path / "public") == manifest_digest(images, "one")
    failed(
        pull(anonymous, stack, "devs-private/app:1", tmp_path / "private", extra=no_creds), DENIED
    )


def test_protected_namespace_pull_needs_a_login(stack, people, images, tmp_path):
    """Protected: any logged-in user (bob is no member) pulls; anonymous is denied."""
    seed(stack, people, images, ["devs-protected/app"])
    bob = stack.skopeo("bob")
    ok(pull(bob, stack, "devs-protected/app:1", tmp_path / "bob", people.creds("bob")))
    assert pulled_digest(tmp_path / "bob") == manifest_digest(images, "one")
    anonymous = stack.skopeo("anonymous")
    failed(
        pull(anonymous, stack, "devs-protected/app:1", tmp_path / "anon", extra=["--src-no-creds"]),
        DENIED,
    )


# --- delete -----------------------------------------------------------------------------


def test_delete_allowed_for_owner_refused_for_contributor(stack, people, skopeo, images):
    """``skopeo delete`` asks scope ``*``: the owner gets it, a contributor only pull+push."""
    seed(stack, people, images, ["devs-private/app"])
    refused = failed(
        skopeo.delete(stack.ref("devs-private/app:1"), people.creds("contributor")),
        "401 Unauthorized",
    )
    assert re.search(r"Action\W+delete", refused), refused
    assert set(statuses(stack, "DELETE", "/v2/devs-private/app/manifests/")) == {401}
    assert tags(skopeo, stack, "devs-private/app", people.creds("owner")) == ["1"]
    ok(skopeo.delete(stack.ref("devs-private/app:1"), people.creds("owner")))
    assert statuses(stack, "DELETE", "/v2/devs-private/app/manifests/")[-1] == 202
    assert tags(skopeo, stack, "devs-private/app", people.creds("owner")) == []


# --- catalog ----------------------------------------------------------------------------


def test_catalog_for_admin_only(stack, people, skopeo, images):
    """``registry:catalog:*`` is granted to admins; a normal user's token is insufficient."""
    ok(push(skopeo, stack, images, "alice/app:1", people.creds("alice")))
    assert catalog(stack, people) == ["alice/app"]
    token = stack.token(["registry:catalog:*"], people.creds("alice"))
    response = stack.registry_get("/v2/_catalog", token)
    assert response.status_code == 401
    challenge = response.headers["Www-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="registry:catalog:*"' in challenge


# --- application tokens -----------------------------------------------------------------


def application_token(stack: Stack, people: People, name: str, *, read_only=False):
    """A committed application token of alice: (row, plain secret)."""
    row, plain = credentials.create_application_token(
        stack.plugins, people.users["alice"], name, read_only=read_only
    )
    db.session.commit()
    return row, plain


def test_application_token_logs_in_and_pushes_until_revoked(stack, people, skopeo, images):
    """An application token works as the password; after revocation the next push fails."""
    row, plain = application_token(stack, people, "ci")
    assert "Login Succeeded" in ok(skopeo.login(stack.host_port, "alice", plain))
    ok(push(skopeo, stack, images, "alice/app:1"))
    credentials.revoke_application_token(stack.plugins, row)
    db.session.commit()
    failed(push(skopeo, stack, images, "alice/app:2", tag="two"), BAD_LOGIN)
    assert tags(skopeo, stack, "alice/app", people.creds("alice")) == ["1"]


def test_read_only_application_token_pulls_but_cannot_push(stack, people, skopeo, images, tmp_path):
    """A read-only token gets pull but never push, even in the owner's own namespace."""
    ok(push(skopeo, stack, images, "alice/app:1", people.creds("alice")))
    _, plain = application_token(stack, people, "reader", read_only=True)
    reader = ("alice", plain)
    ok(pull(skopeo, stack, "alice/app:1", tmp_path / "pulled", reader))
    assert pulled_digest(tmp_path / "pulled") == manifest_digest(images, "one")
    failed(push(skopeo, stack, images, "alice/app:2", reader, tag="two"), DENIED)


# --- refresh tokens (identitytoken) -----------------------------------------------------


def refresh_token_by_get(stack: Stack, people: People) -> str:
    """``GET /v2/token?offline_token=true`` with Basic, as ``docker login`` asks."""
    response = stack.token_response(creds=people.creds("alice"), offline_token="true")
    assert response.status_code == 200, response.text
    return response.json()["refresh_token"]


def refresh_token_by_post(stack: Stack, people: People) -> str:
    """``POST grant_type=password&access_type=offline``, as containerd asks."""
    username, password = people.creds("alice")
    form = {
        "grant_type": "password",
        "username": username,
        "password": password,
        "access_type": "offline",
        "service": stack.host_port,
        "client_id": "wharfinger-e2e",
    }
    response = stack.token_post(form)
    assert response.status_code == 200, response.text
    return response.json()["refresh_token"]


@pytest.mark.parametrize("obtain", [refresh_token_by_get, refresh_token_by_post])
def test_identity_token_pushes_and_pulls_until_password_change(
    stack, people, images, tmp_path, obtain
):
    """With only an identitytoken in its auth file, skopeo POSTs grant_type=refresh_token
    and pushes and pulls; a password change revokes the refresh token, so it then fails."""
    authfile = stack.write_authfile(tmp_path / "auth.json", "alice", obtain(stack, people))
    skopeo = stack.skopeo("identity", authfile=authfile)
    before = len(stack.live.requests)
    ok(push(skopeo, stack, images, "alice/app:1"))
    ok(pull(skopeo, stack, "alice/app:1", tmp_path / "pulled"))
    assert pulled_digest(tmp_path / "pulled") == manifest_digest(images, "one")
    used = stack.live.requests[before:]
    assert used and {(r.method, r.status) for r in used} == {("POST", 200)}, used

    accounts.set_password(stack.plugins, people.users["alice"], NEW_PASSWORD)
    db.session.commit()
    failed(push(skopeo, stack, images, "alice/app:2", tag="two"), BAD_LOGIN, REFRESH_REVOKED)
    assert stack.live.requests[-1].method == "POST"
    assert stack.live.requests[-1].status == 401


# --- ES256 signing ----------------------------------------------------------------------


class TestES256:
    """The same stack with a P-256 signing key: 2.8.2 verifies raw r||s ES256 signatures."""

    @pytest.fixture
    def app_config(self, app_config, es256_signing_files):
        """Sign tokens with the session's P-256 key (the registry trusts its certificate)."""
        return {**app_config, **es256_signing_files}

    def test_registry_accepts_es256_tokens(self, stack, people, skopeo, images, tmp_path):
        """Tokens are ES256, and pushing and pulling with them works."""
        token = stack.token(["repository:alice/app:pull"], people.creds("alice"))
        assert jwt_header(token)["alg"] == "ES256"
        ok(push(skopeo, stack, images, "alice/app:1", people.creds("alice")))
        ok(pull(skopeo, stack, "alice/app:1", tmp_path / "pulled", people.creds("alice")))
        assert pulled_digest(tmp_path / "pulled") == manifest_digest(images, "one")


# --- podman -----------------------------------------------------------------------------


def podman_load(podman: Podman, images: Path, tag: str = "one") -> str:
    """Copy a test image from the OCI layout into podman's store; return its image id."""
    return ok(podman.run("pull", "--quiet", oci_ref(images, tag))).strip()


def test_podman_login_push_own_namespace_and_foreign_denied(stack, people, podman, images):
    """podman logs in and pushes into alice's namespace; bob's namespace gives rc 125."""
    image_id = podman_load(podman, images)
    assert "Login Succeeded" in ok(podman.login(stack.host_port, *people.creds("alice")))
    own = stack.image("alice/podman:1")
    ok(podman.tag(image_id, own))
    digest_file = podman.root_dir / "pushed.digest"
    ok(podman.push(own, extra=[f"--digestfile={digest_file}"]))
    stored = stack.skopeo().inspect(stack.ref("alice/podman:1"), people.creds("alice"))
    assert json.loads(ok(stored))["Digest"] == digest_file.read_text().strip()

    denied = podman.push(own, stack.image("bob/podman:1"))
    assert denied.returncode == PODMAN_ERROR, denied.stderr
    assert DENIED in denied.stderr
    assert "bob/podman" not in catalog(stack, people)


# --- cross-repository mounts ------------------------------------------------------------


def test_skopeo_cross_repo_mount_when_source_is_pullable(stack, people, skopeo, images):
    """A second push of known blobs asks two scopes; both granted → the registry mounts."""
    creds = people.creds("contributor")
    ok(push(skopeo, stack, images, "devs-private/source:1", creds))
    ok(push(skopeo, stack, images, "devs-private/copy:1", creds))
    mount_scopes = {"repository:devs-private/copy:pull,push", "repository:devs-private/source:pull"}
    assert mount_scopes in token_scopes(stack), token_scopes(stack)
    assert 201 in mounts_into(stack, "devs-private/copy")
    assert tags(skopeo, stack, "devs-private/copy", creds) == ["1"]


def test_podman_cross_repo_mount(stack, people, podman, images):
    """podman pushes the same image to a second repository by mounting its blobs."""
    image_id = podman_load(podman, images)
    ok(podman.login(stack.host_port, *people.creds("alice")))
    for repo in ("alice/first:1", "alice/second:1"):
        ok(podman.tag(image_id, stack.image(repo)))
        ok(podman.push(stack.image(repo)))
    mounts = mounts_into(stack, "alice/second")
    assert mounts and set(mounts) == {201}, registry_requests(stack)
    assert statuses(stack, "PUT", "/v2/alice/second/manifests/1") == [201]


def test_mount_from_an_unreadable_repository_is_not_granted(stack, people, skopeo, images):
    """A shared blob cache makes bob ask to read alice's private repo as a mount source:
    Wharfinger leaves that scope out, the registry refuses bob there, and bob's push still
    succeeds by uploading the blobs itself."""
    ok(push(skopeo, stack, images, "alice/source:1", people.creds("alice")))
    ok(push(skopeo, stack, images, "bob/copy:1", people.creds("bob")))
    mount_scopes = {"repository:bob/copy:pull,push", "repository:alice/source:pull"}
    assert mount_scopes in token_scopes(stack), token_scopes(stack)
    assert 401 in statuses(stack, "HEAD", "/v2/alice/source/blobs/")
    assert 201 not in mounts_into(stack, "bob/copy")
    assert tags(skopeo, stack, "bob/copy", people.creds("bob")) == ["1"]
