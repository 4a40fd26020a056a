"""Fixtures for Wharfinger end to end: the real registry, skopeo and podman on loopback.

``stack`` wires one test's pieces together (registry-lab §4):

* one throwaway PKI (``e2e_pki``) is the TLS identity of both Wharfinger and the registry,
  and the CA that skopeo/podman trust (``certs.d/<host:port>/ca.crt``);
* Wharfinger signs tokens with the app's ``SIGNING_KEY``/``SIGNING_CERT`` (the session's
  ``signing_files`` unless a test overrides ``app_config``), and that certificate is the
  registry's ``rootcertbundle``;
* the registry's port is chosen first, because its ``127.0.0.1:PORT`` is at once the
  hostname registered in Wharfinger, the token ``service`` and the image-name prefix;
* ``stack_options`` (override it in a module or class) turns on the registry's
  notifications to the live Wharfinger (``https://127.0.0.1:PORT/v2/webhooks/events`` with
  the app's ``EVENTS_SECRET``; the registry trusts the test CA through ``SSL_CERT_FILE``,
  registry-lab §7) and can lower ``catalog.maxentries`` so catalog walks paginate;
* a ``WebhookGate`` in front of the live server can take the notification endpoint down
  or lose its replies while the token endpoint keeps answering.

Everything is function-scoped because the ``app`` fixture is; a stack starts in about a
quarter of a second.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from flask import Flask

from app.extensions import db
from app.models import Namespace, User
from app.models.enums import Visibility
from app.registry import keys
from app.services import registries
from tests.factories import PASSWORD, make_namespace, make_role_team, make_user
from tests.support.certs import TestPKI, make_test_pki
from tests.support.clients import Podman, Skopeo
from tests.support.images import build_oci_image
from tests.support.live import LiveServer
from tests.support.ports import NotReadyError, free_port, loopback_session
from tests.support.registry import (
    Notifications,
    RegistryProcess,
    registry_config,
    require_binaries,
)

REGISTRY_NAME = "e2e"
IMAGE_TAGS = ("one", "two")
PORT_ATTEMPTS = 3
EVENTS_PATH = "/v2/webhooks/events"


@pytest.fixture(scope="session")
def e2e_pki(tmp_path_factory) -> TestPKI:
    """The TLS key and CA-capable certificate shared by Wharfinger and the registry."""
    return make_test_pki(tmp_path_factory.mktemp("e2e-pki"))


@pytest.fixture
def app_config(app_config, e2e_pki):
    """The root settings, plus trust in the test CA for Wharfinger's own registry reads
    (manifest details when applying events, catalog reconciliation)."""
    return {**app_config, "REGISTRY_CA_BUNDLE": str(e2e_pki.cert)}


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> Path:
    """One OCI layout with two small images (tags ``one`` and ``two``), built once."""
    layout = tmp_path_factory.mktemp("e2e-images")
    for tag in IMAGE_TAGS:
        build_oci_image(layout, tag, f"wharfinger end-to-end image {tag}")
    return layout


@pytest.fixture(scope="session")
def es256_signing_files(tmp_path_factory) -> dict[str, str]:
    """A P-256 signing key and certificate as app settings (``SIGNING_ALGORITHM=ES256``)."""
    folder = tmp_path_factory.mktemp("es256-signing")
    key = keys.generate_private_key("ES256")
    cert = keys.self_signed_certificate(key, "wharfinger es256 tests", ["127.0.0.1"])
    (folder / "signing.key").write_bytes(keys.private_key_pem(key))
    (folder / "signing.crt").write_bytes(keys.certificate_pem(cert))
    return {
        "SIGNING_KEY": str(folder / "signing.key"),
        "SIGNING_CERT": str(folder / "signing.crt"),
        "SIGNING_ALGORITHM": "ES256",
    }


def basic_auth(username: str, password: str) -> str:
    """The value of ``auth`` in a containers auth file: base64 of ``user:password``."""
    return base64.b64encode(f"{username}:{password}".encode()).decode()


@dataclass(frozen=True)
class StackOptions:
    """How ``stack`` configures its registry.

    ``notifications``: POST events to the live Wharfinger's webhook. ``catalog_maxentries``:
    the registry's ``catalog.maxentries`` (None: the registry's default of 1000).
    ``register``: register the registry in Wharfinger (off: the test registers it, e.g.
    through the web UI as a new admin would).
    """

    notifications: bool = False
    catalog_maxentries: int | None = None
    register: bool = True


class WebhookGate:
    """WSGI middleware in front of Wharfinger that can disturb the notification endpoint.

    Only ``POST /v2/webhooks/events`` is affected; the token endpoint always passes, so
    clients keep pushing. ``down = True`` answers 503 without reaching the app, as if the
    endpoint were unreachable. ``lose_replies(n)`` lets the next ``n`` deliveries carrying
    a tag push reach the app (which stores them) and then answers 503 instead of the app's
    reply, so the registry delivers the same event again, as after a lost reply.
    ``deliveries`` holds the event ids of every POST the gate saw, in order, and
    ``tag_pushes`` the ids of the tag-push events among them.
    """

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.down = False
        self.deliveries: list[list[str]] = []
        self.tag_pushes: list[str] = []
        self._to_lose = 0
        self._lock = threading.Lock()

    def lose_replies(self, count: int) -> None:
        """Replace the app's reply to the next ``count`` tag-push deliveries with a 503."""
        with self._lock:
            self._to_lose = count

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Pass requests through, disturbing the webhook as configured."""
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != EVENTS_PATH:
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        events = _events_of(body)
        with self._lock:
            self.deliveries.append([event.get("id", "") for event in events])
            self.tag_pushes += [event.get("id", "") for event in events if _is_tag_push(event)]
            lose = self._to_lose > 0 and any(_is_tag_push(event) for event in events)
            self._to_lose -= lose
        if self.down:
            return _unavailable(start_response)
        if not lose:
            return self.app(environ, start_response)
        reply = self.app(environ, lambda *args, **kwargs: None)
        try:
            b"".join(reply)  # the app stores the events; its reply is then "lost"
        finally:
            getattr(reply, "close", lambda: None)()
        return _unavailable(start_response)

    def delivered(self, event_id: str) -> int:
        """How many times the registry POSTed the event ``event_id``."""
        return sum(ids.count(event_id) for ids in list(self.deliveries))


def _events_of(body: bytes) -> list[dict]:
    """The events of a notification envelope (empty when it is not one)."""
    try:
        events = json.loads(body).get("events")
    except (ValueError, AttributeError):
        return []
    return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []


def _is_tag_push(event: dict) -> bool:
    """True for the event of a manifest pushed by tag."""
    return event.get("action") == "push" and bool(event.get("target", {}).get("tag"))


def _unavailable(start_response: Callable) -> list[bytes]:
    """A 503 as a down endpoint (or a proxy in front of it) would answer."""
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"webhook endpoint down (test gate)\n"]


@dataclass
class Stack:
    """Wharfinger (LiveServer over TLS) and a registry trusting its tokens, for one test.

    ``host_port`` is the registry's ``127.0.0.1:PORT``: registry hostname in Wharfinger,
    token service and image-name prefix. ``workdir`` is the test's scratch folder.
    ``gate`` sits between the live server and the app (see ``WebhookGate``).
    """

    app: Flask
    plugins: object
    pki: TestPKI
    live: LiveServer
    registry: RegistryProcess
    host_port: str
    workdir: Path
    gate: WebhookGate | None = None
    options: StackOptions = field(default_factory=StackOptions)

    @property
    def cert_dir(self) -> Path:
        """The ``certs.d`` folder holding ``ca.crt`` for the registry (and the realm)."""
        return self.pki.cert_dir(self.host_port)

    def ref(self, repo_tag: str) -> str:
        """``docker://127.0.0.1:PORT/<repo_tag>`` for skopeo."""
        return f"docker://{self.host_port}/{repo_tag}"

    def image(self, repo_tag: str) -> str:
        """``127.0.0.1:PORT/<repo_tag>`` for podman."""
        return f"{self.host_port}/{repo_tag}"

    def skopeo(self, name: str = "skopeo", authfile: Path | None = None) -> Skopeo:
        """A skopeo with its own state (blob-info cache, auth file) trusting the test CA."""
        require_binaries("/usr/bin/skopeo")
        return Skopeo(state_dir=self.workdir / name, cert_dir=self.cert_dir, authfile=authfile)

    def podman(self, name: str = "podman") -> Podman:
        """A podman with a private vfs store trusting the test CA; the caller closes it."""
        require_binaries("/usr/bin/podman")
        return Podman(self.workdir / name, cert_dir=self.cert_dir)

    def write_authfile(self, path: Path, username: str, identity_token: str) -> Path:
        """An auth file as ``docker login`` leaves it after receiving a refresh token."""
        entry = {"auth": basic_auth(username, ""), "identitytoken": identity_token}
        path.write_text(json.dumps({"auths": {self.host_port: entry}}))
        return path

    def token_response(
        self,
        scopes: Sequence[str] = (),
        creds: tuple[str, str] | None = None,
        **params: str,
    ) -> requests.Response:
        """``GET /v2/token`` on the live Wharfinger, verified against the test CA."""
        query = [("service", self.host_port), *(("scope", s) for s in scopes), *params.items()]
        with loopback_session() as session:
            return session.get(
                f"{self.live.url}/v2/token",
                params=query,
                auth=creds,
                verify=str(self.pki.cert),
                timeout=10,
            )

    def token_post(self, form: dict[str, str]) -> requests.Response:
        """``POST /v2/token`` with an OAuth2 form on the live Wharfinger."""
        with loopback_session() as session:
            return session.post(
                f"{self.live.url}/v2/token", data=form, verify=str(self.pki.cert), timeout=10
            )

    def token(self, scopes: Sequence[str] = (), creds: tuple[str, str] | None = None) -> str:
        """A bearer token from Wharfinger for ``scopes`` (asserts the request succeeded)."""
        response = self.token_response(scopes, creds)
        assert response.status_code == 200, response.text
        return response.json()["token"]

    def registry_get(self, path: str, token: str | None = None) -> requests.Response:
        """``GET`` on the registry itself (e.g. ``/v2/_catalog``) with an optional bearer."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with loopback_session() as session:
            return session.get(
                f"{self.registry.url}{path}",
                headers=headers,
                verify=str(self.pki.cert),
                timeout=10,
            )


def registry_process(
    workdir: Path,
    app: Flask,
    pki: TestPKI,
    realm: str,
    *,
    notifications: Notifications | None = None,
    catalog_maxentries: int | None = None,
) -> RegistryProcess:
    """A not-yet-started TLS registry on a free port, trusting the app's signing cert.

    The port is picked here, before the config is written, because ``127.0.0.1:PORT`` is
    also the token ``service`` and the hostname registered in Wharfinger. ``SSL_CERT_FILE``
    is the system bundle plus the test CA, so https notifications to Wharfinger verify.
    """
    host_port = f"127.0.0.1:{free_port()}"
    config = registry_config(
        addr=host_port,
        storage=workdir / "data",
        realm=realm,
        service=host_port,
        issuer=app.config["TOKEN_ISSUER"],
        rootcertbundle=app.config["SIGNING_CERT"],
        tls=(pki.cert, pki.key),
        notifications=notifications,
        catalog_maxentries=catalog_maxentries,
    )
    return RegistryProcess.from_config_text(
        workdir, config, ssl_cert_file=pki.bundle, ca_file=pki.cert
    )


def start_registry(
    workdir: Path, app: Flask, pki: TestPKI, realm: str, **options
) -> RegistryProcess:
    """Start ``registry_process``; another process may grab a just-freed port, so a start
    failing with "address already in use" is retried on a new port."""
    for _ in range(PORT_ATTEMPTS - 1):
        try:
            return registry_process(workdir, app, pki, realm, **options).start()
        except NotReadyError as exc:
            if "address already in use" not in str(exc):
                raise
    return registry_process(workdir, app, pki, realm, **options).start()


@pytest.fixture
def stack_options() -> StackOptions:
    """The registry's options for ``stack``: no notifications, default catalog limit.
    Override this fixture in a module or class for another set-up."""
    return StackOptions()


@pytest.fixture
def stack(app, plugins, e2e_pki, tmp_path, stack_options) -> Iterator[Stack]:
    """Wharfinger over HTTPS plus a registered, running registry that trusts its tokens.

    Order: the live server first (its URL is the registry's realm and, with
    notifications, its webhook), then the registry (its address is the service), then
    the registration in Wharfinger; no client talks to either before the fixture returns.
    Teardown stops the registry, then the server, then waits for the app's background
    jobs (events still being applied), before the ``app`` fixture empties the tables.
    """
    require_binaries("/usr/bin/docker-registry")
    gate = WebhookGate(app)
    with LiveServer(gate, tls=(e2e_pki.cert, e2e_pki.key)) as live:
        notifications = (
            Notifications(url=f"{live.url}{EVENTS_PATH}", secret=app.config["EVENTS_SECRET"])
            if stack_options.notifications
            else None
        )
        registry = start_registry(
            tmp_path / "registry",
            app,
            e2e_pki,
            f"{live.url}/v2/token",
            notifications=notifications,
            catalog_maxentries=stack_options.catalog_maxentries,
        )
        try:
            if stack_options.register:
                registries.add_registry(plugins, REGISTRY_NAME, registry.host_port)
                db.session.commit()
            yield Stack(
                app,
                plugins,
                e2e_pki,
                live,
                registry,
                registry.host_port,
                tmp_path,
                gate,
                stack_options,
            )
        finally:
            registry.stop()
    app.extensions["wharfinger.jobs"].wait_idle(10)


@pytest.fixture
def skopeo(stack) -> Skopeo:
    """The test's default skopeo (fresh blob-info cache and auth file)."""
    return stack.skopeo()


@pytest.fixture
def podman(stack) -> Iterator[Podman]:
    """The test's podman with a private store; its short runroot is removed afterwards."""
    with stack.podman() as client:
        yield client


@dataclass
class People:
    """Users and namespaces of the e2e world; every password is ``PASSWORD``."""

    users: dict[str, User]
    namespaces: dict[Visibility, Namespace]
    password: str = PASSWORD

    def creds(self, name: str) -> tuple[str, str]:
        """(username, password) of one of the users."""
        return self.users[name].username, self.password


@pytest.fixture
def people(stack, plugins) -> People:
    """alice and bob (personal namespaces), an admin, and team ``devs`` with an owner, a
    contributor and a viewer, owning ``devs-private``/``-protected``/``-public``."""
    names = ("alice", "bob", "owner", "contributor", "viewer")
    users = {name: make_user(plugins, name) for name in names}
    users["admin"] = make_user(plugins, "admin", admin=True)
    team = make_role_team("devs", users)
    registry = registries.get_registry(REGISTRY_NAME)
    spaces = {
        v: make_namespace(registry, team, f"devs-{v.value}", visibility=v) for v in Visibility
    }
    return People(users, spaces)
