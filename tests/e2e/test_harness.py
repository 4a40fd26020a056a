"""Self-test of the end-to-end harness in ``tests/support`` against the real binaries.

A toy token server (``http.server`` thread, TLS, authlib RS256, libtrust kid) grants
whatever is asked, except to the user ``mallory`` who gets nothing; it also records the
registry's webhook deliveries. It exists only to prove the harness, not the token server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import time
import uuid
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import authlib.deprecate  # installs an "always" warning filter, overridden below
import pytest

with warnings.catch_warnings():
    # authlib.jose warns that it is deprecated in favour of joserfc; it still works.
    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.jose import JsonWebSignature

from tests.support.certs import TestPKI, make_test_pki
from tests.support.clients import Podman, Skopeo
from tests.support.images import (
    OCI_INDEX,
    build_oci_image,
    build_oci_index,
    manifest_digest,
    oci_ref,
    read_blob,
)
from tests.support.live import serving
from tests.support.ports import free_port, loopback_session
from tests.support.registry import Notifications, RegistryProcess, require_binaries

pytestmark = pytest.mark.e2e

SERVICE = "harness-registry"
ISSUER = "harness-issuer"
WEBHOOK_SECRET = "harness-webhook-secret"
DENIED_USER = "mallory"
CREDS = ("alice", "secret")


def parse_scope(scope: str) -> dict:
    """``type:name:actions`` → access entry; the name may itself contain ``host:port``."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    return {"type": kind, "name": name, "actions": actions.split(",")}


def basic_user(header: str | None) -> str:
    """The user name of a Basic ``Authorization`` header ('' when absent)."""
    if not header or not header.startswith("Basic "):
        return ""
    return base64.b64decode(header[6:]).decode().partition(":")[0]


def sign_token(pki: TestPKI, subject: str, access: list[dict]) -> str:
    """An RS256 JWT that registry 2.8.2 accepts: libtrust kid, string aud, int times."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "aud": SERVICE,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "access": access,
    }
    header = {"alg": "RS256", "typ": "JWT", "kid": pki.kid}
    payload = json.dumps(claims).encode()
    return (
        JsonWebSignature(["RS256"])
        .serialize_compact(header, payload, pki.private_key_pem())
        .decode()
    )


class ToyTokenServer(ThreadingHTTPServer):
    """HTTPS server on 127.0.0.1 serving ``/v2/token`` and recording webhook deliveries."""

    daemon_threads = True

    def __init__(self, pki: TestPKI) -> None:
        super().__init__(("127.0.0.1", free_port()), ToyHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.cert, pki.key)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.pki = pki
        self.token_requests: list[dict] = []
        self.webhooks: list[dict] = []
        self.url = f"https://127.0.0.1:{self.server_address[1]}"


class ToyHandler(BaseHTTPRequestHandler):
    """Token GET (grant all asked, nothing to ``mallory``) and webhook POST (record)."""

    server: ToyTokenServer

    def do_GET(self) -> None:
        """Answer ``GET /v2/token`` with a signed token for the requested scopes."""
        url = urlsplit(self.path)
        if url.path != "/v2/token":
            return self._reply(404, {"error": "not found"})
        query = parse_qs(url.query)
        user = basic_user(self.headers.get("Authorization"))
        scopes = query.get("scope", [])
        self.server.token_requests.append({"user": user, "scopes": scopes})
        access = [] if user == DENIED_USER else [parse_scope(s) for s in scopes]
        token = sign_token(self.server.pki, user, access)
        self._reply(200, {"token": token, "access_token": token, "expires_in": 300})

    def do_POST(self) -> None:
        """Record a notification envelope with its ``Authorization`` header; answer 200."""
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/v2/webhooks/events":
            envelope = json.loads(body)
            auth = self.headers.get("Authorization")
            self.server.webhooks += [{"auth": auth, **e} for e in envelope["events"]]
        self._reply(200, {})

    def _reply(self, status: int, body: dict) -> None:
        """Send a JSON response."""
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        """Keep the test output quiet."""


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> TestPKI:
    """One key/cert for registry TLS, token TLS, token signing and client trust."""
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def token_server(pki):
    """The toy token server running in a daemon thread for the module."""
    with serving(ToyTokenServer(pki)) as server:
        yield server


@pytest.fixture(scope="module")
def registry(tmp_path_factory, pki, token_server):
    """docker-registry over TLS, trusting the toy server's tokens, notifying it over https."""
    require_binaries("/usr/bin/docker-registry", "/usr/bin/skopeo")
    process = RegistryProcess(
        tmp_path_factory.mktemp("registry"),
        realm=f"{token_server.url}/v2/token",
        service=SERVICE,
        issuer=ISSUER,
        rootcertbundle=pki.cert,
        tls=(pki.cert, pki.key),
        notifications=Notifications(f"{token_server.url}/v2/webhooks/events", WEBHOOK_SECRET),
        ssl_cert_file=pki.bundle,
        ca_file=pki.cert,
    )
    with process:
        print(f"registry start: {process.startup_seconds:.3f}s")
        yield process


@pytest.fixture
def skopeo(tmp_path, pki, registry) -> Skopeo:
    """A skopeo with its own blob-info cache and auth file, trusting the test CA."""
    return Skopeo(state_dir=tmp_path / "skopeo", cert_dir=pki.cert_dir(registry.host_port))


@pytest.fixture
def podman(tmp_path, pki, registry):
    """A podman with a private vfs store, trusting the test CA."""
    require_binaries("/usr/bin/podman")
    with Podman(tmp_path / "podman", cert_dir=pki.cert_dir(registry.host_port)) as client:
        yield client


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """One OCI layout holding tags ``v1``, ``v2`` (other payload) and index ``multi``."""
    folder = tmp_path_factory.mktemp("layout")
    build_oci_image(folder, "v1", "hello from the harness")
    build_oci_image(folder, "v2", "a different payload", layers=2)
    build_oci_index(folder, "multi")
    return folder


# --- helpers ---------------------------------------------------------------------------


def docker_ref(registry: RegistryProcess, repo_tag: str) -> str:
    """``docker://HOST:PORT/<repo_tag>`` for the test registry."""
    return f"docker://{registry.host_port}/{repo_tag}"


def ok(result) -> str:
    """Assert a CompletedProcess succeeded (showing its stderr if not); return stdout."""
    assert result.returncode == 0, f"{result.args}\n{result.stderr}"
    return result.stdout


def tags_of(skopeo: Skopeo, registry: RegistryProcess, repo: str) -> list[str]:
    """Sorted tag list of a repository (2.8.2 returns readdir order)."""
    listing = json.loads(ok(skopeo.list_tags(docker_ref(registry, repo), CREDS)))
    return sorted(listing["Tags"] or [])


def raw_manifest(skopeo: Skopeo, registry: RegistryProcess, repo_tag: str) -> bytes:
    """The manifest bytes exactly as the registry stores them."""
    return ok(skopeo.inspect(docker_ref(registry, repo_tag), CREDS, raw=True)).encode()


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def wait_for_event(server: ToyTokenServer, predicate, timeout: float = 10.0) -> dict:
    """The first recorded webhook event matching ``predicate`` (polls until ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in list(server.webhooks):
            if predicate(event):
                return event
        time.sleep(0.05)
    raise AssertionError(f"no matching webhook event; got {server.webhooks}")


# --- tests -----------------------------------------------------------------------------


def test_images_are_deterministic_per_payload(tmp_path):
    """Same payload → same digests; another payload → another digest (no binaries needed)."""
    first = build_oci_image(tmp_path / "a", "t", "payload one")
    again = build_oci_image(tmp_path / "b", "t", b"payload one")
    other = build_oci_image(tmp_path / "c", "t", "payload two")
    assert manifest_digest(first, "t") == manifest_digest(again, "t")
    assert manifest_digest(first, "t") != manifest_digest(other, "t")
    index_a = build_oci_index(tmp_path / "a", "m")
    index_b = build_oci_index(tmp_path / "b", "m")
    assert manifest_digest(index_a, "m") == manifest_digest(index_b, "m")
    assert manifest_digest(index_a, "t") == manifest_digest(first, "t")  # earlier tag kept


def test_registry_answers_with_bearer_challenge(registry, pki, token_server):
    """/v2/ over verified TLS gives the challenge naming our realm and service."""
    with loopback_session() as session:
        response = session.get(f"{registry.url}/v2/", verify=str(pki.cert), timeout=5)
    assert response.status_code == 401
    challenge = response.headers["Www-Authenticate"]
    assert challenge == f'Bearer realm="{token_server.url}/v2/token",service="{SERVICE}"'
    assert registry.pid_path.read_text().strip() == str(registry.pid)
    assert f'rootcertbundle: "{pki.cert}"' in registry.config_text
    assert "listening on 127.0.0.1:" in registry.log_text()


def test_push_list_inspect_delete(skopeo, registry, layout, token_server):
    """An OCI image pushed over TLS keeps its digest; deleting one tag removes its twins."""
    started = time.monotonic()
    ok(skopeo.copy(oci_ref(layout, "v1"), docker_ref(registry, "alice/hello:1.0"), CREDS))
    print(f"skopeo push (new blobs): {time.monotonic() - started:.3f}s")
    ok(skopeo.copy(oci_ref(layout, "v1"), docker_ref(registry, "alice/hello:1.1"), CREDS))
    ok(skopeo.copy(oci_ref(layout, "v2"), docker_ref(registry, "alice/hello:2.0"), CREDS))
    assert tags_of(skopeo, registry, "alice/hello") == ["1.0", "1.1", "2.0"]

    stored = raw_manifest(skopeo, registry, "alice/hello:1.0")
    assert stored == read_blob(layout, manifest_digest(layout, "v1"))
    assert sha256_digest(stored) == manifest_digest(layout, "v1")
    assert sha256_digest(raw_manifest(skopeo, registry, "alice/hello:2.0")) == manifest_digest(
        layout, "v2"
    )

    ok(skopeo.delete(docker_ref(registry, "alice/hello:1.0"), CREDS))
    assert tags_of(skopeo, registry, "alice/hello") == ["2.0"]


def test_notifications_reach_an_https_receiver(skopeo, registry, layout, token_server):
    """SSL_CERT_FILE=bundle lets the registry POST events to our self-signed https sink."""
    ok(skopeo.copy(oci_ref(layout, "v1"), docker_ref(registry, "alice/events:e1"), CREDS))
    event = wait_for_event(
        token_server,
        lambda e: e["action"] == "push" and e["target"].get("tag") == "e1",
    )
    assert event["auth"] == f"Bearer {WEBHOOK_SECRET}"
    assert event["target"]["repository"] == "alice/events"
    assert event["target"]["digest"] == manifest_digest(layout, "v1")
    assert event["actor"] == {"name": "alice"}
    assert "x509" not in registry.log_text()


def test_blob_info_cache_is_private(tmp_path, pki, registry, layout, token_server):
    """A fresh Skopeo knows no blobs elsewhere, so it never asks for a cross-repo mount."""
    first = Skopeo(state_dir=tmp_path / "one", cert_dir=pki.cert_dir(registry.host_port))
    ok(first.copy(oci_ref(layout, "v2"), docker_ref(registry, "alice/cache-a:1"), CREDS))
    assert (tmp_path / "one/data/containers/cache/blob-info-cache-v1.boltdb").is_file()

    fresh = Skopeo(state_dir=tmp_path / "two", cert_dir=pki.cert_dir(registry.host_port))
    ok(fresh.copy(oci_ref(layout, "v2"), docker_ref(registry, "alice/cache-b:1"), CREDS))
    scopes = [r["scopes"] for r in token_server.token_requests if "alice/cache-b" in str(r)]
    assert scopes and all(len(s) == 1 for s in scopes), scopes

    ok(first.copy(oci_ref(layout, "v2"), docker_ref(registry, "alice/cache-c:1"), CREDS))
    scopes = [r["scopes"] for r in token_server.token_requests if "alice/cache-c" in str(r)]
    assert any("repository:alice/cache-a:pull" in s for s in scopes), scopes


def test_push_oci_index_with_all(skopeo, registry, layout):
    """``--all`` keeps the OCI index and both platform children, byte for byte."""
    ok(
        skopeo.copy(
            oci_ref(layout, "multi"), docker_ref(registry, "alice/multi:1"), CREDS, all_images=True
        )
    )
    stored = raw_manifest(skopeo, registry, "alice/multi:1")
    assert sha256_digest(stored) == manifest_digest(layout, "multi")
    index = json.loads(stored)
    assert index["mediaType"] == OCI_INDEX
    platforms = sorted(d["platform"]["architecture"] for d in index["manifests"])
    assert platforms == ["amd64", "arm64"]
    for child in index["manifests"]:
        assert (
            sha256_digest(raw_manifest(skopeo, registry, f"alice/multi@{child['digest']}"))
            == child["digest"]
        )


def test_push_docker_formats(skopeo, registry, layout):
    """``--format v2s2`` yields a Docker v2 schema 2 manifest, and with ``--all`` a list."""
    ok(
        skopeo.copy(
            oci_ref(layout, "v1"),
            docker_ref(registry, "alice/docker:1"),
            CREDS,
            manifest_format="v2s2",
        )
    )
    manifest = json.loads(raw_manifest(skopeo, registry, "alice/docker:1"))
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert manifest["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"

    ok(
        skopeo.copy(
            oci_ref(layout, "multi"),
            docker_ref(registry, "alice/docker-list:1"),
            CREDS,
            all_images=True,
            manifest_format="v2s2",
        )
    )
    listing = json.loads(raw_manifest(skopeo, registry, "alice/docker-list:1"))
    assert listing["mediaType"] == "application/vnd.docker.distribution.manifest.list.v2+json"
    assert len(listing["manifests"]) == 2


def test_denied_push_reports_the_registry_error(skopeo, registry, layout):
    """A token with no access makes the push fail with the registry's 'denied' text."""
    result = skopeo.copy(
        oci_ref(layout, "v1"), docker_ref(registry, "mallory/x:1"), (DENIED_USER, "pw")
    )
    assert result.returncode != 0
    assert "requested access to the resource is denied" in result.stderr
    missing = skopeo.list_tags(docker_ref(registry, "mallory/x"), CREDS)
    assert missing.returncode != 0
    assert "404 (Not Found)" in missing.stderr


def test_login_then_push_without_creds(skopeo, registry, layout, token_server):
    """skopeo login writes the private auth file that later commands use; logout clears it."""
    assert "Login Succeeded" in ok(skopeo.login(registry.host_port, "alice", "secret"))
    assert registry.host_port in json.loads(skopeo.authfile.read_text())["auths"]
    ok(skopeo.copy(oci_ref(layout, "v1"), docker_ref(registry, "alice/login:1")))
    users = {r["user"] for r in token_server.token_requests if "alice/login" in str(r)}
    assert users == {"alice"}
    assert "Removed login credentials" in ok(skopeo.logout(registry.host_port))
    assert json.loads(skopeo.authfile.read_text())["auths"] == {}


def test_podman_login_pull_tag_push(tmp_path, skopeo, podman, registry, layout):
    """podman (root, vfs, no daemon) logs in, pulls, tags and pushes; mallory is denied."""
    ok(skopeo.copy(oci_ref(layout, "v1"), docker_ref(registry, "alice/source:1"), CREDS))
    assert "Login Succeeded" in ok(podman.login(registry.host_port, "alice", "secret"))
    source, target = f"{registry.host_port}/alice/source:1", f"{registry.host_port}/alice/podman:1"
    ok(podman.pull(source))
    ok(podman.tag(source, target))
    digest_file = tmp_path / "pushed.digest"
    ok(podman.push(target, extra=[f"--digestfile={digest_file}"]))
    stored = raw_manifest(skopeo, registry, "alice/podman:1")
    assert sha256_digest(stored) == digest_file.read_text().strip()

    denied = podman.push(
        target, f"{registry.host_port}/mallory/podman:1", creds=(DENIED_USER, "pw")
    )
    assert denied.returncode == 125
    assert "requested access to the resource is denied" in denied.stderr


def test_registry_from_verbatim_config(tmp_path, pki, token_server):
    """A caller-written config runs unchanged (plain HTTP here) and stops by its own pid."""
    require_binaries("/usr/bin/docker-registry")
    port = free_port()
    text = (
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        f"auth:\n  token:\n    realm: {token_server.url}/v2/token\n"
        f"    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {pki.cert}\n"
    )
    process = RegistryProcess.from_config_text(tmp_path, text)
    with process:
        assert process.url == f"http://127.0.0.1:{port}"
        assert process.config_path.read_text() == text
        assert process.is_running()
    assert not process.is_running()
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        RegistryProcess.from_config_text(tmp_path, text.replace(f"127.0.0.1:{port}", f":{port}"))
