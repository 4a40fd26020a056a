"""RegistryClient against the real docker-registry 2.8.2, plus a scripted server for failures.

The registry runs over TLS with token auth; its ``rootcertbundle`` is a certificate made
here, and the client's ``token_provider`` mints tokens locally with ``TokenSigner`` granting
exactly the requested scopes, as Wharfinger's reconciler will. skopeo pushes through a tiny
token server (same signer) so the registry holds real OCI, Docker v2s2, OCI index and
Docker manifest list content. ``catalog.maxentries`` is 2, so every catalog walk paginates.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from app.registry.client import (
    CA_BUNDLE_SETTING,
    BearerChallenge,
    CatalogIncomplete,
    ManifestNotFound,
    ManifestRef,
    RegistryAuthError,
    RegistryClient,
    RegistryError,
    RegistryUnavailable,
    TLSUntrusted,
    map_bounded,
    parse_bearer_challenge,
)
from app.registry.jwt import TokenSigner, build_claims
from app.registry.manifests import (
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST_V2,
    DOCKER_SCHEMA1_SIGNED,
    OCI_INDEX,
    OCI_MANIFEST,
    summarize,
)
from app.registry.scopes import parse_scopes
from tests.support.certs import SYSTEM_CA_BUNDLE, make_test_pki
from tests.support.clients import Skopeo
from tests.support.images import build_oci_image, build_oci_index, oci_ref, read_blob
from tests.support.live import serving
from tests.support.ports import free_port
from tests.support.registry import RegistryProcess, registry_config, require_binaries

pytestmark = pytest.mark.e2e

SERVICE = "client-test-registry"
ISSUER = "client-test-issuer"
CREDS = ("alice", "secret")
SYNC_SUBJECT = "wharfinger-sync"
MAXENTRIES = 2

# repository → (layout tag, skopeo options, tags pushed in this order)
PUSHES = {
    "lib/alpha": ("v2", {}, ("2.0",)),
    "lib/alpha ": ("v1", {}, ("1.0", "10", "1.1")),  # same repo, second image (key differs)
    "lib/multi": ("multi", {"all_images": True}, ("1",)),
    "lib/docker": ("v1", {"manifest_format": "v2s2"}, ("1",)),
    "lib/docker-list": ("multi", {"all_images": True, "manifest_format": "v2s2"}, ("1",)),
    "lib/empty": ("v3", {}, ("gone",)),
    "lib/doomed": ("v3", {}, ("a", "b")),
    "lib/doomed ": ("v1", {}, ("c",)),
    "b/c": ("v1", {}, ("1",)),
    "b-c": ("v1", {}, ("1",)),
    "b.c": ("v1", {}, ("1",)),
    "zeta": ("v1", {}, ("1",)),
}
REPOSITORIES = sorted({name.strip() for name in PUSHES})


# --- the registry and its content --------------------------------------------------------


class Signer:
    """Mints registry tokens for exactly the requested scopes, recording every call."""

    def __init__(self, signer: TokenSigner) -> None:
        self.signer = signer
        self.calls: list[list[str]] = []

    def token(self, scopes: list[str], subject: str = SYNC_SUBJECT, audience: str = SERVICE) -> str:
        """A signed token granting ``scopes`` (the registry checks iss, aud and the key)."""
        claims = build_claims(
            issuer=ISSUER,
            subject=subject,
            audience=audience,
            access=parse_scopes(scopes),
            ttl_seconds=300,
        )
        return self.signer.sign(claims)

    def __call__(self, scopes: list[str]) -> str:
        """The token_provider interface of RegistryClient."""
        self.calls.append(list(scopes))
        return self.token(scopes)


class TokenRealm(ThreadingHTTPServer):
    """A plain-HTTP ``/token`` endpoint for skopeo: anyone gets what they ask for."""

    daemon_threads = True

    def __init__(self, signer: Signer) -> None:
        super().__init__(("127.0.0.1", free_port()), TokenHandler)
        self.signer = signer
        self.url = f"http://127.0.0.1:{self.server_address[1]}/token"


class TokenHandler(BaseHTTPRequestHandler):
    """Answers the token GET of skopeo with a token for the requested scopes."""

    server: TokenRealm

    def do_GET(self) -> None:
        """Sign the requested scopes for the Basic user."""
        scopes = parse_qs(urlsplit(self.path).query).get("scope", [])
        auth = self.headers.get("Authorization", "")
        user = base64.b64decode(auth[6:]).decode().partition(":")[0] if auth else ""
        token = self.server.signer.token(scopes, subject=user)
        body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The registry's TLS identity and the token-signing certificate (one key for both)."""
    return make_test_pki(tmp_path_factory.mktemp("client-pki"))


@pytest.fixture(scope="module")
def signer(pki) -> Signer:
    """Token minting with the key whose certificate is the registry's rootcertbundle."""
    return Signer(TokenSigner.from_pem(pki.key.read_bytes(), pki.cert.read_bytes()))


@pytest.fixture(scope="module")
def realm(signer):
    """The token endpoint skopeo is sent to by the registry's challenge."""
    with serving(TokenRealm(signer)) as server:
        yield server


@pytest.fixture(scope="module")
def registry(tmp_path_factory, pki, realm):
    """docker-registry 2.8.2 over TLS with token auth and ``catalog.maxentries: 2``."""
    require_binaries("/usr/bin/docker-registry", "/usr/bin/skopeo")
    process = RegistryProcess(
        tmp_path_factory.mktemp("client-registry"),
        realm=realm.url,
        service=SERVICE,
        issuer=ISSUER,
        rootcertbundle=pki.cert,
        tls=(pki.cert, pki.key),
        catalog_maxentries=MAXENTRIES,
        ca_file=pki.cert,
    )
    with process:
        yield process


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    """OCI images v1, v2 (two layers), v3 and a two-platform index ``multi``."""
    folder = tmp_path_factory.mktemp("client-layout")
    build_oci_image(folder, "v1", "client test one")
    build_oci_image(folder, "v2", "client test two", layers=2)
    build_oci_image(folder, "v3", "client test three")
    build_oci_index(folder, "multi")
    return folder


@pytest.fixture(scope="module")
def skopeo(tmp_path_factory, pki, registry) -> Skopeo:
    """skopeo trusting the registry's certificate."""
    state = tmp_path_factory.mktemp("client-skopeo")
    return Skopeo(state_dir=state, cert_dir=pki.cert_dir(registry.host_port))


@pytest.fixture(scope="module")
def pushed(registry, skopeo, layout, tmp_path_factory) -> dict[str, str]:
    """Push everything in PUSHES; return ``repo:tag`` → the digest skopeo reports."""
    digest_dir = tmp_path_factory.mktemp("digests")
    digests: dict[str, str] = {}
    for key, (source, options, tags) in PUSHES.items():
        repository = key.strip()
        for tag in tags:
            digest_file = digest_dir / f"{repository.replace('/', '_')}-{tag}"
            dest = f"docker://{registry.host_port}/{repository}:{tag}"
            extra = [f"--digestfile={digest_file}"]
            result = skopeo.copy(oci_ref(layout, source), dest, CREDS, extra, **options)
            assert result.returncode == 0, result.stderr
            digests[f"{repository}:{tag}"] = digest_file.read_text().strip()
    empty = digests["lib/empty:gone"]
    result = skopeo.delete(f"docker://{registry.host_port}/lib/empty@{empty}", CREDS)
    assert result.returncode == 0, result.stderr
    return digests


@pytest.fixture
def client(registry, pki, signer, pushed):
    """A client trusting the test CA, with quick retries."""
    with RegistryClient(
        registry.url, signer, verify=pki.cert, retries=1, backoff=0.01, timeout=(2, 5)
    ) as registry_client:
        yield registry_client


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- ping and catalog ----------------------------------------------------------------------


def test_ping_reports_the_challenge_and_server_time(client, realm):
    result = client.ping()
    assert result.status == 401
    assert result.api_version == "registry/2.0"
    assert result.challenge == BearerChallenge(realm=realm.url, service=SERVICE)
    assert abs(result.clock_skew) < 5
    assert client.ping(authenticate=True).status == 200


def test_catalog_walks_every_page_and_yields_each_repository_once(client, signer):
    before, minted = client.request_count, len(signer.calls)
    names = list(client.catalog(page_size=MAXENTRIES))
    assert sorted(names) == REPOSITORIES
    assert len(names) == len(set(names))
    # Storage order: '/' sorts before every other byte (protocol.md §10.1).
    assert names == sorted(names, key=lambda name: name.replace("/", "\x00"))
    assert client.request_count - before == math.ceil(len(REPOSITORIES) / MAXENTRIES)
    assert signer.calls[minted:] == [["registry:catalog:*"]]  # one token for every page


def test_a_page_size_above_maxentries_falls_back_to_the_registry_default(client):
    """n > maxentries is a 400 (CVE-2023-2253 fix); without n the registry picks its own."""
    before = client.request_count
    assert sorted(client.catalog(page_size=MAXENTRIES + 1)) == REPOSITORIES
    assert client.request_count - before == 1 + math.ceil(len(REPOSITORIES) / MAXENTRIES)


def test_a_registry_dying_mid_catalog_raises_catalog_incomplete(
    registry, pki, signer, tmp_path, pushed
):
    """A second registry over the same storage is stopped after serving the first page."""
    config = registry_config(
        addr=f"127.0.0.1:{free_port()}",
        storage=registry.workdir / "data",
        realm="http://127.0.0.1:9/token",
        service=SERVICE,
        issuer=ISSUER,
        rootcertbundle=pki.cert,
        catalog_maxentries=MAXENTRIES,
    )
    doomed = RegistryProcess.from_config_text(tmp_path, config).start()
    try:
        with RegistryClient(doomed.url, signer, retries=2, backoff=0.01) as doomed_client:
            walk = doomed_client.catalog(page_size=MAXENTRIES)
            first_page = [next(walk), next(walk)]
            doomed.stop()
            with pytest.raises(CatalogIncomplete, match=r"stopped after 1 pages, 2 rep") as caught:
                list(walk)
    finally:
        doomed.stop()
    assert first_page == sorted(REPOSITORIES, key=lambda name: name.replace("/", "\x00"))[:2]
    assert isinstance(caught.value.__cause__, RegistryUnavailable)
    assert "3 attempts" in str(caught.value)
    assert doomed_client.request_count == 1 + 3


# --- tags ----------------------------------------------------------------------------------


def test_tags_are_sorted(client):
    assert client.tags("lib/alpha") == ["1.0", "1.1", "10", "2.0"]
    assert client.tags("lib/multi") == ["1"]


def test_a_repository_whose_tags_were_all_deleted_has_an_empty_list(client):
    """2.8.2 answers ``"tags": null`` and keeps the repository in the catalog (§10.2)."""
    assert client.tags("lib/empty") == []
    assert "lib/empty" in set(client.catalog())


def test_an_unknown_repository_has_no_tags(client):
    assert client.tags("no/such-repository") is None


def test_malformed_names_never_reach_the_registry(client):
    before = client.request_count
    for name in ("../etc", "Upper", "a//b", "x?n=1", "a/b/"):
        with pytest.raises(ValueError):
            client.tags(name)
    with pytest.raises(ValueError, match="neither a tag nor a digest"):
        client.head_manifest("lib/alpha", "../../_catalog")
    assert client.request_count == before


# --- manifests -----------------------------------------------------------------------------

KINDS = [
    ("lib/alpha:1.0", OCI_MANIFEST, ()),
    ("lib/multi:1", OCI_INDEX, ("linux/amd64", "linux/arm64")),
    ("lib/docker:1", DOCKER_MANIFEST_V2, ()),
    ("lib/docker-list:1", DOCKER_MANIFEST_LIST, ("linux/amd64", "linux/arm64")),
]


@pytest.mark.parametrize(("reference", "media_type", "platforms"), KINDS)
def test_head_resolves_the_digest_skopeo_pushed(client, pushed, reference, media_type, platforms):
    repository, tag = reference.split(":")
    ref = client.head_manifest(repository, tag)
    assert ref.digest == pushed[reference]
    assert ref.media_type == media_type
    assert client.head_manifest(repository, ref.digest) == ref


@pytest.mark.parametrize(("reference", "media_type", "platforms"), KINDS)
def test_get_manifest_and_summarize(client, pushed, reference, media_type, platforms):
    repository, tag = reference.split(":")
    ref, body = client.get_manifest(repository, tag)
    assert ref == ManifestRef(pushed[reference], media_type, len(body))
    assert sha256(body) == ref.digest
    summary = summarize(ref.media_type, body)
    assert summary.media_type == media_type
    assert summary.platforms == platforms
    if summary.is_index:
        assert summary.size is None
        for child in summary.children:
            child_ref, _ = client.get_manifest(repository, child.digest)
            assert child_ref.digest == child.digest
    else:
        document = json.loads(body)
        layers = sum(layer["size"] for layer in document["layers"])
        assert summary.size == document["config"]["size"] + layers
        assert summary.layer_count == 1


def test_the_config_blob_gives_an_image_its_platform(client, layout):
    ref, body = client.get_manifest("lib/alpha", "2.0")
    config_digest = summarize(ref.media_type, body).config_digest
    config = client.get_blob("lib/alpha", config_digest)
    assert config == read_blob(layout, config_digest)
    summary = summarize(ref.media_type, body, config=config)
    assert summary.platforms == ("linux/amd64",)
    assert summary.layer_count == 2
    with pytest.raises(RegistryError, match="limit"):
        client.get_blob("lib/alpha", config_digest, max_bytes=10)


def test_unknown_manifests(client):
    missing = "sha256:" + "0" * 64
    assert client.head_manifest("lib/alpha", "no-such-tag") is None
    assert client.head_manifest("lib/alpha", missing) is None
    assert client.head_manifest("no/such-repository", "1") is None
    with pytest.raises(ManifestNotFound, match="MANIFEST_UNKNOWN"):
        client.get_manifest("lib/alpha", "no-such-tag")
    with pytest.raises(ManifestNotFound):
        client.get_blob("lib/alpha", missing)


def test_heads_across_repositories_in_parallel(client, pushed):
    references = [tuple(reference.split(":")) for reference in pushed if "empty" not in reference]
    before = client.request_count
    refs = map_bounded(lambda r: client.head_manifest(*r), references, workers=8)
    assert [ref.digest for ref in refs] == [pushed[":".join(r)] for r in references]
    assert client.request_count - before == len(references)


# --- deletion ------------------------------------------------------------------------------


def test_delete_manifest_removes_every_tag_on_the_digest(client, pushed):
    """Tags ``a`` and ``b`` share a digest; deleting it takes both (§10.4), ``c`` stays."""
    digest = client.head_manifest("lib/doomed", "a").digest
    assert digest == pushed["lib/doomed:b"]
    assert client.delete_manifest("lib/doomed", digest) is True
    assert client.tags("lib/doomed") == ["c"]
    assert client.head_manifest("lib/doomed", "a") is None
    assert client.delete_manifest("lib/doomed", digest) is False
    with pytest.raises(ValueError, match="resolve a tag with head_manifest"):
        client.delete_manifest("lib/doomed", "c")


# --- trust and authentication --------------------------------------------------------------


def test_an_untrusted_certificate_names_the_ca_bundle_setting(registry, signer, pushed):
    with RegistryClient(registry.url, signer, verify=SYSTEM_CA_BUNDLE) as untrusting:
        with pytest.raises(TLSUntrusted, match=CA_BUNDLE_SETTING) as caught:
            untrusting.tags("lib/alpha")
        assert "not trusted" in str(caught.value)
        assert untrusting.request_count == 1  # a certificate problem is not retried


def test_a_token_the_registry_rejects_is_renewed_once_then_reported(registry, pki, signer):
    minted = []

    def wrong_audience(scopes: list[str]) -> str:
        minted.append(scopes)
        return signer.token(scopes, audience="someone-else")

    with RegistryClient(registry.url, wrong_audience, verify=pki.cert) as rejected:
        with pytest.raises(RegistryAuthError, match=r"invalid_token.*issuer, service") as caught:
            rejected.tags("lib/alpha")
        assert caught.value.status == 401
        assert rejected.request_count == 2
    assert minted == [["repository:lib/alpha:pull"]] * 2


def test_a_token_without_the_needed_access_says_so(registry, pki, signer):
    def nothing(scopes: list[str]) -> str:
        return signer.token([])

    with (
        RegistryClient(registry.url, nothing, verify=pki.cert) as powerless,
        pytest.raises(CatalogIncomplete, match="did not grant registry:catalog:") as caught,
    ):
        list(powerless.catalog())
    assert isinstance(caught.value.cause, RegistryAuthError)
    assert caught.value.status == 401


def test_tokens_are_cached_per_scope_set(client, signer):
    before = len(signer.calls)
    for _ in range(3):
        client.tags("lib/multi")
        client.head_manifest("lib/multi", "1")
    assert signer.calls[before:] == [["repository:lib/multi:pull"]]


# --- failures, against a scripted server (no registry needed) ------------------------------


class ScriptedServer(ThreadingHTTPServer):
    """Answers each request with the next scripted ``(status, headers, body)``; records paths."""

    daemon_threads = True

    def __init__(self, script: list[tuple[int, dict, bytes]], delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", free_port()), ScriptedHandler)
        self.script = deque(script)
        self.delay = delay
        self.paths: list[str] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class ScriptedHandler(BaseHTTPRequestHandler):
    """Replays the server's script."""

    server: ScriptedServer

    def do_GET(self) -> None:
        """Send the next scripted answer (after the configured delay)."""
        self.server.paths.append(self.path)
        time.sleep(self.server.delay)
        status, headers, body = self.server.script.popleft()
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def scripted():
    """Start a ScriptedServer for the test: ``scripted(script, delay=0)``."""
    servers = []

    def start(script, delay: float = 0.0) -> ScriptedServer:
        server = ScriptedServer(script, delay)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def opaque_tokens(scopes: list[str]) -> str:
    """A token provider whose tokens are not JWTs (cached for a fixed time)."""
    return "opaque-token"


def json_answer(status: int, body: object, headers: dict | None = None):
    """A scripted JSON answer."""
    return (
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(body).encode(),
    )


TAGS = json_answer(200, {"name": "a/b", "tags": ["2", "1"]})
UNAVAILABLE = json_answer(503, {"errors": [{"code": "UNAVAILABLE", "message": "try later"}]})


def test_transient_statuses_are_retried_with_backoff(scripted):
    server = scripted([UNAVAILABLE, json_answer(429, {}, {"Retry-After": "0"}), TAGS])
    with RegistryClient(server.url, opaque_tokens, retries=2, backoff=0.01) as fake:
        assert fake.tags("a/b") == ["1", "2"]
        assert fake.request_count == 3


def test_persistent_failures_raise_registry_unavailable(scripted):
    server = scripted([UNAVAILABLE] * 3)
    with (
        RegistryClient(server.url, opaque_tokens, retries=2, backoff=0.01) as fake,
        pytest.raises(RegistryUnavailable, match=r"HTTP 503 \(UNAVAILABLE: try later\) after 3"),
    ):
        fake.tags("a/b")


def test_client_errors_are_not_retried(scripted):
    server = scripted([json_answer(400, {"errors": [{"code": "NAME_INVALID", "message": "no"}]})])
    with RegistryClient(server.url, opaque_tokens, retries=3, backoff=0.01) as fake:
        with pytest.raises(RegistryError, match=r"HTTP 400 \(NAME_INVALID: no\)") as caught:
            fake.tags("a/b")
        assert not isinstance(caught.value, RegistryUnavailable)
        assert fake.request_count == 1


def test_a_404_that_is_not_name_unknown_is_an_error_not_an_empty_repository(scripted):
    """A proxy's 404 must not make a reconciler believe the repository is gone."""
    server = scripted([(404, {"Content-Type": "text/html"}, b"<h1>Not Found</h1>")])
    with RegistryClient(server.url, opaque_tokens) as fake, pytest.raises(RegistryError):
        fake.tags("a/b")


def test_a_closed_port_is_unavailable_after_the_retries():
    with RegistryClient(
        f"http://127.0.0.1:{free_port()}", opaque_tokens, retries=1, backoff=0.01
    ) as fake:
        with pytest.raises(RegistryUnavailable, match="cannot reach the registry"):
            fake.tags("a/b")
        assert fake.request_count == 2


def test_a_slow_registry_times_out(scripted):
    server = scripted([TAGS, TAGS], delay=0.5)
    with (
        RegistryClient(
            server.url, opaque_tokens, retries=1, backoff=0.01, timeout=(1, 0.1)
        ) as fake,
        pytest.raises(RegistryUnavailable, match="within the timeout"),
    ):
        fake.tags("a/b")


def test_a_catalog_link_to_another_host_is_refused(scripted):
    page = json_answer(
        200,
        {"repositories": ["a", "b"]},
        {"Link": '<https://elsewhere.example/v2/_catalog?last=b&n=2>; rel="next"'},
    )
    server = scripted([page])
    with (
        RegistryClient(server.url, opaque_tokens) as fake,
        pytest.raises(CatalogIncomplete, match="leaves the registry"),
    ):
        list(fake.catalog(page_size=2))


def test_a_catalog_link_loop_is_refused_and_an_empty_page_ends_the_walk(scripted):
    link = {"Link": '</v2/_catalog?last=b&n=2>; rel="next"'}
    page = json_answer(200, {"repositories": ["a", "b"]}, link)
    server = scripted([page, page])
    with (
        RegistryClient(server.url, opaque_tokens) as fake,
        pytest.raises(CatalogIncomplete, match="loops back"),
    ):
        list(fake.catalog(page_size=2))
    server = scripted([page, json_answer(200, {"repositories": []}, link)])
    with RegistryClient(server.url, opaque_tokens) as fake:
        assert list(fake.catalog(page_size=2)) == ["a", "b"]
    assert server.paths == ["/v2/_catalog?n=2", "/v2/_catalog?last=b&n=2"]


def test_tokens_are_renewed_before_they_expire(scripted, signer):
    server = scripted([TAGS] * 4)
    minted = []

    def short_lived(scopes: list[str]) -> str:
        minted.append(scopes)
        exp = int(time.time()) + (-1 if len(minted) == 1 else 3600)
        payload = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).rstrip(b"=")
        return f"e30.{payload.decode()}.c2ln"

    with RegistryClient(server.url, short_lived) as fake:
        for _ in range(4):
            fake.tags("a/b")
    assert len(minted) == 2  # the expired token is not reused; the hour-long one is


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://auth.example/token",service="registry.example",'
            'scope="repository:demo/app:pull,push",error="insufficient_scope"',
            BearerChallenge(
                "https://auth.example/token",
                "registry.example",
                "repository:demo/app:pull,push",
                "insufficient_scope",
            ),
        ),
        ('bearer realm="r", service=s', BearerChallenge("r", "s")),
        ('Basic realm="Registry Realm"', None),
        ("", None),
        (None, None),
    ],
)
def test_parse_bearer_challenge(header, expected):
    assert parse_bearer_challenge(header) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "https://registry.example/prefix"}, "must not have a path"),
        ({"base_url": "registry.example:5000"}, "must look like"),
        ({"timeout": None}, "timeout must be"),
        ({"timeout": (0, 5)}, "positive"),
        ({"retries": -1}, "retries"),
        ({"pool_size": 0}, "pool_size"),
        ({"verify": "/nonexistent/ca.pem"}, CA_BUNDLE_SETTING),
    ],
)
def test_constructor_refuses_bad_settings(kwargs, message):
    arguments = {"base_url": "https://registry.example", **kwargs}
    with pytest.raises(ValueError, match=message):
        RegistryClient(arguments.pop("base_url"), opaque_tokens, **arguments)


def test_map_bounded_keeps_order_and_can_collect_failures():
    def invert(value: int) -> float:
        return 1 / value

    assert map_bounded(invert, [1, 2, 4], workers=2) == [1.0, 0.5, 0.25]
    assert map_bounded(invert, [], workers=2) == []
    with pytest.raises(ZeroDivisionError):
        map_bounded(invert, [1, 0, 2], workers=2)
    results = map_bounded(invert, [1, 0], workers=2, return_exceptions=True)
    assert results[0] == 1.0
    assert isinstance(results[1], ZeroDivisionError)


def manifest_answer(body: bytes, media_type: str, digest: str):
    """A scripted manifest GET answer announcing ``digest``."""
    headers = {"Content-Type": media_type, "Docker-Content-Digest": digest}
    return 200, headers, body


def test_content_that_does_not_match_its_digest_is_refused(scripted):
    body = (
        b'{"schemaVersion": 2, "mediaType": "%s", "config": {}, "layers": []}'
        % OCI_MANIFEST.encode()
    )
    wrong = "sha256:" + "f" * 64
    server = scripted([manifest_answer(body, OCI_MANIFEST, wrong)] * 2)
    with RegistryClient(server.url, opaque_tokens) as fake:
        with pytest.raises(RegistryError, match="hashes to"):
            fake.get_manifest("a/b", "latest")
        with pytest.raises(RegistryError, match="hashes to"):
            fake.get_manifest("a/b", wrong)


def test_a_signed_schema1_manifest_is_returned_and_summarized(scripted):
    """Its digest covers the payload without signatures, so it is not re-hashed (§10.3)."""
    body = json.dumps(
        {
            "schemaVersion": 1,
            "architecture": "amd64",
            "fsLayers": [{"blobSum": "x"}],
            "signatures": [],
        }
    ).encode()
    digest = "sha256:" + "e" * 64
    server = scripted([manifest_answer(body, DOCKER_SCHEMA1_SIGNED, digest)])
    with RegistryClient(server.url, opaque_tokens) as fake:
        ref, fetched = fake.get_manifest("a/b", "old")
    assert ref == ManifestRef(digest, DOCKER_SCHEMA1_SIGNED, len(body))
    assert summarize(ref.media_type, fetched).layer_count == 1
