"""The seed walkthrough through the REST API only, end to end (issue #7, "Must show").

Against a live Wharfinger over HTTPS (``requests`` verifies the test CA) and the real
registry 2.8.2, with nothing created beforehand: ``POST /api/v1/users/bootstrap`` gives
the first admin and its application token; with ``PORTUS-AUTH: admin:<token>`` (the header
as portusctl spells it) the admin registers the registry (``POST /api/v1/registries``,
which probes its ``/v2/``), creates user ``gggg``, a team, the namespace ``microbox`` and
adds ``gggg`` as contributor. skopeo then pushes ``microbox/app:1.0`` as ``gggg`` (the
registry asks Wharfinger for a token), a push into another namespace fails, and a second
bootstrap is refused.
"""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import Stack, StackOptions
from tests.e2e.test_events_e2e import ok, push
from tests.support.ports import loopback_session

pytestmark = pytest.mark.e2e

ADMIN_PASSWORD = "admin password 1"
GGGG_PASSWORD = "gggg password 1"


@pytest.fixture
def stack_options() -> StackOptions:
    """The registry runs, but registering it is left to the admin, through the API."""
    return StackOptions(register=False)


class Api:
    """``requests`` against the live server's ``/api``, verifying the test CA."""

    def __init__(self, stack: Stack, session: requests.Session, auth: str | None = None):
        self.stack = stack
        self.session = session
        self.auth = auth

    def call(self, method: str, path: str, json=None) -> requests.Response:
        """One request; ``PORTUS-AUTH`` when this client has a token."""
        headers = {"Accept": "application/json"}
        if self.auth:
            headers["PORTUS-AUTH"] = self.auth
        return self.session.request(
            method,
            f"{self.stack.live.url}/api{path}",
            json=json,
            headers=headers,
            verify=str(self.stack.pki.cert),
            timeout=30,
        )

    def expect(self, status: int, method: str, path: str, json=None) -> dict | list:
        """The decoded body of a request that must answer ``status``."""
        response = self.call(method, path, json)
        assert response.status_code == status, (method, path, response.text)
        return response.json() if response.content else {}


def test_bootstrap_to_push_through_the_api(stack, images):
    with loopback_session() as session:
        anonymous = Api(stack, session)
        assert anonymous.call("GET", "/v1/users").status_code == 401

        # 1. Bootstrap: the first admin and its application token.
        first = {"username": "admin", "email": "admin@example.com", "password": ADMIN_PASSWORD}
        token = anonymous.expect(201, "POST", "/v1/users/bootstrap", {"user": first})
        assert token["application"] == "bootstrap" and token["plain_token"]
        admin = Api(stack, session, f"admin:{token['plain_token']}")
        assert admin.expect(200, "GET", f"/v1/users/{token['user_id']}")["admin"] is True

        # 2. Register the running registry (its /v2/ is probed over TLS).
        registry = admin.expect(
            201,
            "POST",
            "/v1/registries",
            {"registry": {"name": "registry", "hostname": stack.host_port, "use_ssl": True}},
        )
        assert registry["hostname"] == stack.host_port

        # 3. User, team, namespace, and the user as contributor.
        gggg = {"username": "gggg", "email": "gggg@example.com", "password": GGGG_PASSWORD}
        user = admin.expect(201, "POST", "/v1/users", {"user": gggg})
        assert (user["username"], user["admin"]) == ("gggg", False)
        team = admin.expect(201, "POST", "/v1/teams", {"name": "microbox-team"})
        namespace = admin.expect(
            201,
            "POST",
            "/v1/namespaces",
            {"namespace": {"name": "microbox", "team": "microbox-team"}},
        )
        assert (namespace["name"], namespace["team"]["id"]) == ("microbox", team["id"])
        member = admin.expect(
            201,
            "POST",
            f"/v1/teams/{team['id']}/members",
            {"member": {"user": "gggg", "role": "contributor"}},
        )
        assert (member["username"], member["role"]) == ("gggg", "contributor")

        # 4. gggg pushes into microbox; 5. a push into another namespace is refused.
        skopeo = stack.skopeo()
        creds = ("gggg", GGGG_PASSWORD)
        digest = push(skopeo, stack, f"oci:{images}:one", "microbox/app:1.0", creds)
        assert digest.startswith("sha256:")
        ok(skopeo.inspect(stack.ref("microbox/app:1.0"), creds))
        refused = skopeo.copy(f"oci:{images}:one", stack.ref("elsewhere/app:1.0"), creds)
        assert refused.returncode != 0
        assert "denied" in refused.stderr.lower() or "unauthorized" in refused.stderr.lower()

        # 6. Bootstrap a second time is refused, with or without credentials.
        again = {"username": "root", "email": "root@example.com", "password": ADMIN_PASSWORD}
        assert anonymous.call("POST", "/v1/users/bootstrap", {"user": again}).status_code == 400
        assert admin.call("POST", "/v1/users/bootstrap", {"user": again}).status_code == 400
        usernames = {row["username"] for row in admin.expect(200, "GET", "/v1/users?all=true")}
        assert usernames == {"admin", "gggg"}
