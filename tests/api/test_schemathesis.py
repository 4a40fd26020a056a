"""schemathesis against the OpenAPI document of a live server on 127.0.0.1 (issue #7).

The web tests' world (users, team ``devs``, its namespaces, a tagged repository) is
served by a real werkzeug server on loopback; schemathesis loads
``/api/v1/openapi.json`` from it and, for every operation, sends requests generated from
the document with an administrator's application token in ``PORTUS-AUTH``. Every answer
must be below 500 and conform to the document: a declared status code, the declared
content type, pagination headers, and a body matching the response schema.

Bounded for CI: a few examples per operation, no deadline, derandomized (the same cases
on every run), no example database. Generated hostnames (registries) must never reach
the network: name resolution of anything but loopback fails for the duration.
"""

from __future__ import annotations

import itertools
import re
import socket

import pytest
import requests
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from app.extensions import db
from app.models import Tag, TeamMember
from app.services import credentials
from tests.api.conftest import issue_token
from tests.support.live import LiveServer

schemathesis = pytest.importorskip("schemathesis")
checks = pytest.importorskip("schemathesis.checks")
GenerationMode = pytest.importorskip("schemathesis.generation").GenerationMode

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = 6
# Valid requests (answers must match the document) and invalid ones (must be refused with
# a 4xx, never a 5xx).
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
DOCUMENTED_5XX = {502, 503}
PATH_PARAMETER = re.compile(r"{(\w+)}")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# No 5xx but the documented ones (a deletion the registry refuses is a 502, a failing
# health check a 503): status_code_conformance fails any status the document does not
# declare, and no operation declares 500.
CHECKS = [
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def existing_objects(world, plugins) -> dict[str, int]:
    """An existing object for every path parameter (never the caller or its token)."""
    spare = issue_token(plugins, world.users["admin"], "spare").partition(":")[2]
    viewer = world.users["viewer"]
    found = {
        "user_id": viewer.id,
        "team_id": world.team.id,
        "member_id": db.session.scalar(
            sa.select(TeamMember.id).where(TeamMember.user_id == viewer.id)
        ),
        "namespace_id": world.public.id,
        "repository_id": world.repository.id,
        "tag_id": db.session.scalar(
            sa.select(Tag.id).where(Tag.repository_id == world.repository.id).limit(1)
        ),
        "token_id": credentials.application_token_owner(spare)[1].id,
        "registry_id": world.registry.id,
    }
    db.session.rollback()  # hold no read transaction while the server writes (SQLite)
    return found


@pytest.fixture
def loopback_only(monkeypatch):
    """Resolve loopback names only: a generated registry hostname gets an error, never
    a DNS query or a connection elsewhere."""
    resolve = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in LOOPBACK:
            raise socket.gaierror(socket.EAI_NONAME, f"test: only loopback ({name!r})")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


def exercise(strategy, base_url: str, session: requests.Session, auth: str) -> None:
    """Run the cases of ``strategy`` against the server, each answer checked."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        response = case.call(
            base_url=base_url, session=session, headers={"PORTUS-AUTH": auth}, timeout=30
        )
        assert response.status_code < 500 or response.status_code in DOCUMENTED_5XX
        case.validate_response(response, checks=CHECKS)

    run()


def test_the_api_conforms_to_its_openapi_document(app, plugins, world, loopback_only):
    failures: list[str] = []
    with LiveServer(app) as live, requests.Session() as session:
        session.trust_env = False
        schema = schemathesis.openapi.from_url(f"{live.url}/api/v1/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 40

        existing = existing_objects(world, plugins)
        rounds = [
            *((operation, mode, {}) for operation, mode in itertools.product(operations, MODES)),
            # Generated ids rarely exist: once more, with the path naming real objects.
            *(
                (operation, GenerationMode.POSITIVE, bound)
                for operation in operations
                if (bound := {n: existing[n] for n in PATH_PARAMETER.findall(operation.path)})
            ),
        ]
        for number, (operation, mode, bound) in enumerate(rounds):
            # A generated id may name this very token (DELETE .../application_tokens/1):
            # every round gets a fresh one.
            auth = issue_token(plugins, world.users["admin"], f"schemathesis-{number}")
            db.session.rollback()
            strategy = operation.as_strategy(mode, path_parameters=bound or None)

            try:
                exercise(strategy, live.url, session, auth)
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                assert mode == GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # report every operation
                failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
