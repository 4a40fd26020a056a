"""Two Wharfinger servers (real gunicorn) over one MariaDB database and one Redis.

Scaling out as docs/deployment.md describes it: each instance has its own instance folder
and shares only what must be shared (the database, Redis, the secret key, the events
secret, the token-signing key and certificate; here handed over as files through
``WHARFINGER_*_FILE`` and the signing paths). The registry's realm is instance A, yet a
token minted by B is just as good; a revocation or a lockout decided through A holds on B
at once, whatever B's per-process caches remember. A browser session opened on A is valid
on B (one secret key), and a password change in the shared database ends it on A.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy.exc

from app import create_app
from app.extensions import db
from app.services import accounts, credentials, registries
from tests.e2e.conftest import start_registry
from tests.factories import PASSWORD, make_user
from tests.support import databases
from tests.support.clients import Skopeo
from tests.support.images import oci_ref
from tests.support.ports import loopback_session
from tests.support.serve import WHARFINGER, Served, clean_env, served

pytestmark = pytest.mark.e2e

MARIADB_URL = os.environ.get(
    "WHARFINGER_OPS_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/wharfinger_ops_e2e"
)
REDIS_URL = "redis://127.0.0.1:6379/7"
LOCKOUT_ATTEMPTS = 3


@dataclass
class Pair:
    """Instances A and B, the registry whose realm is A, and the shared environment."""

    a: Served
    b: Served
    registry: object
    env: dict[str, str]
    pki: object

    @property
    def ca(self) -> str:
        """The test CA that signed both instances' and the registry's certificates."""
        return str(self.pki.cert)

    def token(self, server: Served, creds, scopes=()) -> object:
        """``GET /v2/token`` on one instance."""
        query = [("service", self.registry.host_port), *(("scope", s) for s in scopes)]
        with loopback_session() as session:
            return session.get(
                f"{server.url}/v2/token", params=query, auth=creds, verify=self.ca, timeout=10
            )

    def registry_get(self, path: str, bearer: str):
        """``GET`` on the registry with a bearer token."""
        with loopback_session() as session:
            return session.get(
                f"{self.registry.url}{path}",
                headers={"Authorization": f"Bearer {bearer}"},
                verify=self.ca,
                timeout=10,
            )


@pytest.fixture(scope="module")
def shared_database() -> Iterator[str]:
    """A fresh MariaDB database for this module (skipped when MariaDB is not running)."""
    try:
        url = databases.recreate_database(MARIADB_URL)
    except sqlalchemy.exc.OperationalError as exc:
        pytest.skip(f"MariaDB unreachable at {MARIADB_URL}: {str(exc.orig).splitlines()[0]}")
    yield url
    databases.drop_database(url)


def _shared_settings(tmp_path: Path, database_url: str, pki) -> dict[str, str]:
    """Instance A is initialised; what B must share with it is then named explicitly."""
    first = tmp_path / "instance-a"
    common = {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "FQDN": "wharfinger.test",
        "TLS_CERT": str(pki.cert),
        "TLS_KEY": str(pki.key),
        "SYNC_STRATEGY": "off",
        "LOCKOUT_ATTEMPTS": str(LOCKOUT_ATTEMPTS),
    }
    env = clean_env(INSTANCE_PATH=str(first), **common)
    subprocess.run([WHARFINGER, "init"], env=env, check=True, capture_output=True, timeout=120)
    return {
        **common,
        "SECRET_KEY_FILE": str(first / "secret_key"),
        "EVENTS_SECRET_FILE": str(first / "events_secret"),
        "SIGNING_KEY": str(first / "token-signing.key"),
        "SIGNING_CERT": str(first / "token-signing.crt"),
    }


@pytest.fixture(scope="module")
def pair(tmp_path_factory, shared_database, e2e_pki) -> Iterator[tuple[Pair, object]]:
    """Both instances serving (started once for this module: each test uses its own
    user), the registry started, and a local app over the same database for set-up, as
    an admin's command would do it."""
    tmp_path = tmp_path_factory.mktemp("two-instances")
    settings = _shared_settings(tmp_path, shared_database, e2e_pki)
    local = create_app({**settings, "INSTANCE_PATH": str(tmp_path / "local")})
    env_a, env_b = (
        clean_env(INSTANCE_PATH=str(tmp_path / f"instance-{name}"), **settings) for name in "ab"
    )
    ca = str(e2e_pki.cert)
    with (
        local.app_context(),
        served(env_a, ca, tmp_path / "a.log") as a,
        served(env_b, ca, tmp_path / "b.log") as b,
    ):
        registry = start_registry(tmp_path / "registry", local, e2e_pki, f"{a.url}/v2/token")
        try:
            plugins = local.extensions["wharfinger.plugins"]
            registries.add_registry(plugins, "e2e", registry.host_port)
            db.session.commit()
            yield Pair(a, b, registry, env_a, e2e_pki), plugins
        finally:
            registry.stop()
            db.session.remove()
            db.engine.dispose()


def _user(plugins, name: str) -> tuple[str, str]:
    """A new user; returns the credentials."""
    make_user(plugins, name)
    db.session.commit()
    return name, PASSWORD


def test_both_instances_are_ready_over_the_shared_database_and_redis(pair):
    instances, _ = pair
    for server in (instances.a, instances.b):
        with loopback_session() as session:
            assert session.get(f"{server.url}/-/ready", verify=instances.ca).status_code == 200


def test_a_token_from_either_instance_is_accepted_by_the_registry(pair, tmp_path, images):
    instances, plugins = pair
    alice = _user(plugins, "alice")
    scope = "repository:alice/app:pull,push"
    for server in (instances.a, instances.b):
        response = instances.token(server, alice, [scope])
        assert response.status_code == 200, response.text
        assert instances.registry_get("/v2/", response.json()["token"]).status_code == 200
    # skopeo follows the registry's realm (instance A) to push; B's token then reads it.
    host_port = instances.registry.host_port
    skopeo = Skopeo(state_dir=tmp_path / "skopeo", cert_dir=instances.pki.cert_dir(host_port))
    pushed = skopeo.copy(oci_ref(images, "one"), f"docker://{host_port}/alice/app:1", alice)
    assert pushed.returncode == 0, pushed.stderr
    from_b = instances.token(instances.b, alice, ["repository:alice/app:pull"]).json()["token"]
    tags = instances.registry_get("/v2/alice/app/tags/list", from_b)
    assert tags.status_code == 200 and tags.json()["tags"] == ["1"]


def test_a_token_revoked_through_a_is_refused_at_once_by_b(pair):
    instances, plugins = pair
    _user(plugins, "bob")
    _, plain = credentials.create_application_token(plugins, accounts.get_user("bob"), "ci")
    db.session.commit()
    for _ in range(2):  # B has used it (anything B caches, it has cached now)
        assert instances.token(instances.b, ("bob", plain)).status_code == 200
    revoked = subprocess.run(
        [WHARFINGER, "token", "revoke", "bob", "ci"],
        env=instances.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert revoked.returncode == 0, revoked.stderr
    assert instances.token(instances.b, ("bob", plain)).status_code == 401
    assert instances.token(instances.a, ("bob", plain)).status_code == 401


def test_a_lockout_caused_on_a_is_enforced_on_b(pair):
    instances, plugins = pair
    carol = _user(plugins, "carol")
    assert instances.token(instances.b, carol).status_code == 200  # B remembers the password
    for _ in range(LOCKOUT_ATTEMPTS):
        assert instances.token(instances.a, ("carol", "wrong password")).status_code == 401
    refused = instances.token(instances.b, carol)
    assert refused.status_code == 401 and "locked" in refused.json()["errors"][0]["message"]


def _sign_in(session, server: Served, ca: str, username: str, password: str):
    """Sign in through the web form as a browser does (CSRF token, Referer)."""
    page = session.get(f"{server.url}/users/sign_in", verify=ca, timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return session.post(
        f"{server.url}/users/sign_in",
        data={"username": username, "password": password, "csrf_token": token},
        headers={"Referer": f"{server.url}/users/sign_in"},
        verify=ca,
        allow_redirects=False,
        timeout=10,
    )


def test_a_session_opened_on_a_works_on_b_until_the_password_changes(pair):
    instances, plugins = pair
    dave = _user(plugins, "dave")
    with loopback_session() as session:  # cookies are per host, not per port
        assert _sign_in(session, instances.a, instances.ca, *dave).status_code == 302
        on_b = session.get(f"{instances.b.url}/teams/", verify=instances.ca, allow_redirects=False)
        assert on_b.status_code == 200 and "dave" in on_b.text
        accounts.set_password(plugins, accounts.get_user("dave"), "another password 1")
        db.session.commit()
        on_a = session.get(f"{instances.a.url}/teams/", verify=instances.ca, allow_redirects=False)
        assert on_a.status_code == 302 and "/users/sign_in" in on_a.headers["Location"]
