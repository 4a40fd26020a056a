"""Fixtures for token-endpoint tests: a registry, users, teams, and a JWT reader."""

from __future__ import annotations

import base64
import warnings
from pathlib import Path

import authlib.deprecate
import pytest

from app.models.enums import Visibility
from tests.factories import PASSWORD, make_namespace, make_registry, make_role_team, make_user

with warnings.catch_warnings():
    # authlib.jose announces its move to joserfc; it still verifies tokens correctly.
    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.jose import JsonWebToken

SERVICE = "registry.test:5000"


def basic(username: str, password: str) -> dict:
    """An Authorization header for HTTP Basic."""
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


class TokenReader:
    """Verifies tokens with authlib against the signing certificate (an independent check)."""

    def __init__(self, cert_path: str):
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        self.public_key = cert.public_key()
        self.jwt = JsonWebToken(["RS256", "ES256"])

    def claims(self, token: str) -> dict:
        """Decoded and signature-checked claims."""
        return dict(self.jwt.decode(token, self.public_key))

    def access(self, token: str) -> dict[str, list[str]]:
        """``{"type:name": actions}`` of a token's access claim."""
        return {f"{e['type']}:{e['name']}": e["actions"] for e in self.claims(token)["access"]}


@pytest.fixture
def reader(app):
    """A verifier for tokens signed by this app."""
    return TokenReader(app.config["SIGNING_CERT"])


@pytest.fixture
def world(plugins):
    """A registry, an admin, team members of each role, an outsider, and namespaces."""
    registry = make_registry(plugins, hostname=SERVICE)
    users = {
        name: make_user(plugins, name) for name in ("owner", "contributor", "viewer", "outsider")
    }
    users["admin"] = make_user(plugins, "admin", admin=True)
    team = make_role_team("devs", users)
    spaces = {
        v: make_namespace(registry, team, f"team-{v.value}", visibility=v) for v in Visibility
    }
    return {
        "registry": registry,
        "users": users,
        "team": team,
        "namespaces": spaces,
        "password": PASSWORD,
    }


def get_token(client, *, user=None, password=PASSWORD, scopes=(), service=SERVICE, **params):
    """GET /v2/token and return the response."""
    query = [("service", service)] if service is not None else []
    query += [("scope", s) for s in scopes] + list(params.items())
    headers = basic(user, password) if user else {}
    return client.get("/v2/token", query_string=query, headers=headers)
