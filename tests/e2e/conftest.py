"""Fixtures for Wharfinger end to end: the real registry, skopeo and podman on loopback.

``stack`` wires one test's pieces together (registry-lab §4):

* one throwaway PKI (``e2e_pki``) is the TLS identity of both Wharfinger and the registry,
  and the CA that skopeo/podman trust (``certs.d/<host:port>/ca.crt``);
* Wharfinger signs tokens with the app's ``SIGNING_KEY``/``SIGNING_CERT`` (the session's
  ``signing_files`` unless a test overrides ``app_config``), and that certificate is the
  registry's ``rootcertbundle``;
* the registry's port is chosen first, because its ``127.0.0.1:PORT`` is at once the
  hostname registered in Wharfinger, the token ``service`` and the image-name prefix.

Everything is function-scoped because the ``app`` fixture is; a stack starts in about a
quarter of a second.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from flask import Flask

from app.extensions import db
from app.models import Namespace, User
from app.models.enums import Role, Visibility
from app.registry import keys
from app.services import registries
from tests.factories import PASSWORD, make_namespace, make_team, make_user
from tests.support.certs import TestPKI, make_test_pki
from tests.support.clients import Podman, Skopeo
from tests.support.images import build_oci_image
from tests.support.live import LiveServer
from tests.support.ports import NotReadyError, free_port, loopback_session
from tests.support.registry import RegistryProcess, registry_config, require_binaries

REGISTRY_NAME = "e2e"
IMAGE_TAGS = ("one", "two")
PORT_ATTEMPTS = 3


@pytest.fixture(scope="session")
def e2e_pki(tmp_path_factory) -> TestPKI:
    """The TLS key and CA-capable certificate shared by Wharfinger and the registry."""
    return make_test_pki(tmp_path_factory.mktemp("e2e-pki"))


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


@dataclass
class Stack:
    """Wharfinger (LiveServer over TLS) and a registry trusting its tokens, for one test.

    ``host_port`` is the registry's ``127.0.0.1:PORT``: registry hostname in Wharfinger,
    token service and image-name prefix. ``workdir`` is the test's scratch folder.
    """

    app: Flask
    plugins: object
    pki: TestPKI
    live: LiveServer
    registry: RegistryProcess
    host_port: str
    workdir: Path

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


def registry_process(workdir: Path, app: Flask, pki: TestPKI, realm: str) -> RegistryProcess:
    """A not-yet-started TLS registry on a free port, trusting the app's signing cert.

    The port is picked here, before the config is written, because ``127.0.0.1:PORT`` is
    also the token ``service`` and the hostname registered in Wharfinger.
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
    )
    return RegistryProcess.from_config_text(
        workdir, config, ssl_cert_file=pki.bundle, ca_file=pki.cert
    )


def start_registry(workdir: Path, app: Flask, pki: TestPKI, realm: str) -> RegistryProcess:
    """Start ``registry_process``; another process may grab a just-freed port, so a start
    failing with "address already in use" is retried on a new port."""
    for _ in range(PORT_ATTEMPTS - 1):
        try:
            return registry_process(workdir, app, pki, realm).start()
        except NotReadyError as exc:
            if "address already in use" not in str(exc):
                raise
    return registry_process(workdir, app, pki, realm).start()


@pytest.fixture
def stack(app, plugins, e2e_pki, tmp_path) -> Iterator[Stack]:
    """Wharfinger over HTTPS plus a registered, running registry that trusts its tokens.

    Order: the live server first (its URL is the registry's realm), then the registry
    (its address is the service), then the registration in Wharfinger; no client talks to
    either before the fixture returns. Teardown stops the registry, then the server,
    before the ``app`` fixture empties the tables.
    """
    require_binaries("/usr/bin/docker-registry")
    with LiveServer(app, tls=(e2e_pki.cert, e2e_pki.key)) as live:
        registry = start_registry(tmp_path / "registry", app, e2e_pki, f"{live.url}/v2/token")
        try:
            registries.add_registry(plugins, REGISTRY_NAME, registry.host_port)
            db.session.commit()
            yield Stack(app, plugins, e2e_pki, live, registry, registry.host_port, tmp_path)
        finally:
            registry.stop()


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
    team = make_team(
        "devs",
        members=[
            (users["owner"], Role.OWNER),
            (users["contributor"], Role.CONTRIBUTOR),
            (users["viewer"], Role.VIEWER),
        ],
    )
    registry = registries.get_registry(REGISTRY_NAME)
    spaces = {
        v: make_namespace(registry, team, f"devs-{v.value}", visibility=v) for v in Visibility
    }
    return People(users, spaces)
