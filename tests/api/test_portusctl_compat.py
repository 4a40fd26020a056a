"""portusctl (openSUSE/portusctl, Go) against Wharfinger: its exact requests, its parsing.

portusctl is not installed here; its source was read instead. Every request below is the
one portusctl builds (path, method, headers, JSON body) and every answer is checked the
way its Go code decodes it: ``encoding/json`` into the structs of ``entities.go`` (a JSON
type that does not fit a field is an ``UnmarshalTypeError``, which ``printer.go`` ignores
and prints a zero value instead: so the types are checked strictly here; ``null`` leaves
the zero value and is accepted), and error answers through ``handleCode`` of ``http.go``
(``go_error`` below replays it and gives the line portusctl prints).

What portusctl sends (``http.go`` ``buildRequest``/``generateBody``, ``cli.go``
``extractArguments``, ``resource.go``):

* every request carries ``Content-Type: application/json`` (GET and DELETE too) and
  ``PORTUS-AUTH: <user>:<token>``; for ``bootstrap`` user and token are empty, so the
  header is ``PORTUS-AUTH: :`` (``cli.go`` ``setFlags(ctx, true)``);
* ``key=value`` arguments become a JSON object of *strings* (``map[string]string``); only
  users have a ``bundler``, so only they are wrapped (``{"user": {...}}``); namespaces,
  teams and application tokens are sent unwrapped;
* the ``id=`` argument of an application token is not a field: it becomes the path
  prefix ``users/<id>`` (``extractArguments``, ``superresource: kindUser``);
* ``get <resource> [id [subresource]]`` is ``GET /api/v1/<plural>[/<id>[/<sub>]]``;
  ``validate`` is ``GET /api/v1/<plural>/validate?<key>=<value>``; ``delete`` is
  ``DELETE /api/v1/[<super>/]<plural>/<id>``; ``health`` is ``GET /api/v1/health``,
  ``version`` is ``GET /api/version``, ``bootstrap`` is ``POST /api/v1/users/bootstrap``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from app.extensions import db
from app.models import Namespace
from app.services import diagnostics
from tests.factories import make_registry
from tests.web.conftest import make_repository

V1 = "/api/v1"

# --- the Go structs (portusctl entities.go), as {json name: type} -----------------------

INT, STR, BOOL = "int64", "string", "bool"
STRINGS = ["string"]  # []string
MESSAGES = {"*": STRINGS}  # map[string][]string

USER = {  # entities.go: type User
    "id": INT,
    "username": STR,
    "email": STR,
    "admin": BOOL,
    "namespace_id": INT,
    "display_name": STR,
}
APPLICATION_TOKEN = {"id": INT, "application": STR}  # entities.go: type ApplicationToken
PLAIN_TOKEN = {"plain_token": STR}  # entities.go: type PlainToken
TEAM = {"id": INT, "name": STR, "hidden": BOOL}  # entities.go: type Team
NAMESPACE = {  # entities.go: Namespace.UnmarshalJSON's temporary struct
    "id": INT,
    "name": STR,
    "description": STR,
    "team": TEAM,
    "visibility": STR,
    "global": BOOL,
}
NAMESPACE_MIN = {"id": INT, "name": STR}  # entities.go: type NamespaceMin
REPOSITORY = {  # entities.go: type Repository
    "id": INT,
    "name": STR,
    "full_name": STR,
    "namespace": NAMESPACE_MIN,
    "stars": INT,
    "tags_count": INT,
}
AUTHOR = {"id": INT, "name": STR}  # entities.go: type Author
TAG = {"id": INT, "name": STR, "author": AUTHOR, "digest": STR, "image_id": STR}
REGISTRY = {  # entities.go: type Registry
    "id": INT,
    "name": STR,
    "hostname": STR,
    "external_hostname": STR,
    "use_ssl": BOOL,
}
VALIDATE = {"messages": MESSAGES, "valid": BOOL}  # entities.go: type Validate
HEALTH = {"*": {"msg": STR, "success": BOOL}}  # entities.go: Health map[string]HealthStatus
# entities.go: type gitInfo {branch, commit, tag}: Portus sent the tag or branch and commit,
# version.go printVersion prints what is there; every field is optional.
GIT_INFO = {"*": STR}
VERSION = {"api-versions": STRINGS, "git": GIT_INFO, "version": STR}  # type Version


def go_decode(value: Any, shape: Any, where: str = "$", *, required: bool = True) -> None:
    """Assert that ``value`` decodes into the Go type ``shape`` without an
    ``UnmarshalTypeError``; with ``required``, every struct field must be present (a
    missing one would print as a zero value)."""
    if value is None:  # JSON null leaves a Go value at its zero value, no error
        return
    if shape == INT:
        assert type(value) is int, f"{where}: {value!r} is not a JSON integer (int64)"
    elif shape == STR:
        assert isinstance(value, str), f"{where}: {value!r} is not a JSON string"
    elif shape == BOOL:
        assert isinstance(value, bool), f"{where}: {value!r} is not a JSON boolean"
    elif isinstance(shape, list):
        assert isinstance(value, list), f"{where}: {value!r} is not a JSON array"
        for index, item in enumerate(value):
            go_decode(item, shape[0], f"{where}[{index}]", required=required)
    elif "*" in shape:  # a Go map[string]T
        assert isinstance(value, dict), f"{where}: {value!r} is not a JSON object"
        for key, item in value.items():
            go_decode(item, shape["*"], f"{where}.{key}", required=required)
    else:  # a Go struct
        assert isinstance(value, dict), f"{where}: {value!r} is not a JSON object"
        for name, field_shape in shape.items():
            if required:
                assert name in value, f"{where}: field {name!r} is missing"
            if name in value:
                go_decode(value[name], field_shape, f"{where}.{name}", required=required)


def go_error(response) -> str:
    """The error portusctl prints for a non-2xx answer (``http.go`` ``handleCode``)."""
    code, raw = response.status_code, response.get_data()
    body = json.loads(raw) if raw else {}

    def as_messages(value) -> dict[str, list[str]] | None:
        """``value`` decoded as map[string][]string, or None on a type error."""
        ok = isinstance(value, dict) and all(
            isinstance(v, list) and all(isinstance(i, str) for i in v) for v in value.values()
        )
        return value if ok else None

    def messages_error(messages) -> str:  # printer.go: messagesError
        return "\n".join(
            f"- {k[:1].upper()}{k[1:]}: {'. '.join(v)}" for k, v in (messages or {}).items()
        )

    def capitalize(text) -> str:  # printer.go: capitalize
        text = text if isinstance(text, str) else ""
        return text[:1].upper() + text[1:]

    if code == 400:  # parseBadRequest: map[string]map[string][]string, else a message
        if any(as_messages(v) is None for v in body.values()):
            return capitalize(body.get("message"))
        return messages_error(body.get("errors"))
    if code in (401, 403):
        assert isinstance(body.get("message"), str), body
        return body["message"]
    if code == 404:
        return "Resource not found"
    if code == 405:
        return capitalize(body.get("message"))
    if code == 422:  # map[string]map[string][]string, then messagesError(target["message"])
        return messages_error(as_messages(body.get("message")))
    if 500 <= code <= 511:
        return capitalize(body.get("error"))
    raise AssertionError(f"not an error: {code}")


class Portusctl:
    """Sends the requests portusctl sends (``http.go`` ``buildRequest``)."""

    def __init__(self, client, user: str = "", token: str = ""):
        self.client = client
        self.user, self.token = user, token

    def request(self, method: str, path: str, query: str = "", body: dict | None = None):
        """``Content-Type: application/json`` always, ``PORTUS-AUTH: user:token``."""
        data = json.dumps(body).encode() if body is not None else b""
        return self.client.open(
            path + (f"?{query}" if query else ""),
            method=method,
            data=data,
            headers={
                "Content-Type": "application/json",
                "PORTUS-AUTH": f"{self.user}:{self.token}",
                "User-Agent": "Go-http-client/1.1",
            },
            base_url="https://localhost",
        )

    def create(self, plural: str, values: dict[str, str], *, bundler: str | None = None):
        """``portusctl create <resource> k=v...`` (``resource.go`` ``createUpdate``)."""
        body = {bundler: values} if bundler else values
        return self.request("POST", f"{V1}/{plural}", body=body)

    def get(self, *parts: object):
        """``portusctl get <resource> [id [subresource]]`` (``resource.go`` ``get``)."""
        return self.request("GET", "/".join([V1, *map(str, parts)]))

    def validate(self, plural: str, values: dict[str, str]):
        """``portusctl validate <resource> k=v`` (``resource.go`` ``validate``)."""
        return self.request("GET", f"{V1}/{plural}/validate", urlencode(values))


def decoded(response, status: int, shape: Any, *, single: bool) -> Any:
    """The body of a successful answer, checked as ``printer.go`` ``prettyPrint`` decodes
    it: a single element is wrapped in ``[...]`` and decoded as a list."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    go_decode([body] if single else body, [shape])
    return body


@pytest.fixture
def reachable_registry(app, plugins, monkeypatch):
    """The registry (as after ``portusctl``'s admin set Portus up), answering health."""
    monkeypatch.setattr(diagnostics, "probe_registry", lambda *args, **kwargs: None)
    registry = make_registry(plugins, hostname="registry.test:5000")
    db.session.commit()
    return registry


def test_portusctl_session(app, client, reachable_registry):
    anonymous = Portusctl(client)

    # bootstrap.go: the user resource's body ({"user": {...}}, bundler "user"), POSTed to
    # /api/v1/users/bootstrap with "PORTUS-AUTH: :"; printer.go decodes PlainTokens.
    values = {"username": "admin", "email": "admin@example.com", "password": "admin pw 123"}
    boot = anonymous.request("POST", f"{V1}/users/bootstrap", body={"user": values})
    token = decoded(boot, 201, PLAIN_TOKEN, single=True)["plain_token"]
    assert token
    again = anonymous.request("POST", f"{V1}/users/bootstrap", body={"user": values})
    assert again.status_code == 400 and go_error(again).startswith("Users exist already")
    admin = Portusctl(client, "admin", token)

    # version.go: GET /api/version into Version; health.go: GET /api/v1/health into Health.
    version = decoded(admin.request("GET", "/api/version"), 200, VERSION, single=True)
    assert version["api-versions"] == ["v1"]
    health = decoded(admin.get("health"), 200, HEALTH, single=True)
    assert health["database"]["success"] and health["registry"]["success"]
    stale = Portusctl(client, "admin", "wrong").get("health")  # a stale token: still answers
    assert stale.status_code == 200

    # resource.go: users have bundler "user"; display_name is optional; all values strings.
    user_values = {
        "username": "gggg",
        "email": "gggg@example.com",
        "password": "gggg pw 123",
        "display_name": "G",
    }
    user = decoded(admin.create("users", user_values, bundler="user"), 201, USER, single=True)
    assert (user["username"], user["admin"], user["display_name"]) == ("gggg", False, "G")

    # resource.go: teams and namespaces have no bundler; "team" is the team's name.
    team = decoded(
        admin.create("teams", {"name": "newteam", "description": "d"}), 201, TEAM, single=True
    )
    namespace = decoded(
        admin.create("namespaces", {"name": "newnamespace", "team": "newteam"}),
        201,
        NAMESPACE,
        single=True,
    )
    assert (namespace["team"]["id"], namespace["visibility"], namespace["global"]) == (
        team["id"],
        "private",
        False,
    )

    # test/namespaces.bats "create fails when the name has already been picked":
    # portusctl prints "- Name: has already been taken" (a 422, http.go handleCode).
    duplicate = admin.create("namespaces", {"name": "newnamespace", "team": "newteam"})
    assert duplicate.status_code == 422
    assert go_error(duplicate) == "- Name: has already been taken"
    duplicate_team = admin.create("teams", {"name": "newteam"})
    assert go_error(duplicate_team) == "- Name: has already been taken"
    duplicate_user = admin.create("users", {**user_values, "email": "x@e.com"}, bundler="user")
    assert go_error(duplicate_user) == "- Username: has already been taken"

    # test/namespaces.bats "validate namespace": Valid, then "- Name: has already been taken"
    # (printer.go printValidate -> messagesError on Validate.messages).
    free = decoded(admin.validate("namespaces", {"name": "something"}), 200, VALIDATE, single=True)
    assert free == {"valid": True, "messages": {}}
    taken = decoded(
        admin.validate("namespaces", {"name": "newnamespace"}), 200, VALIDATE, single=True
    )
    assert taken["valid"] is False
    assert taken["messages"] == {"name": ["has already been taken"]}

    # A repository with a tag, as pushes would leave them, for the read commands.
    repository = make_repository(db.session.get(Namespace, namespace["id"]), "app", author="gggg")

    # resource.go get: lists (single=False) and single elements (single=True).
    listed = [
        (("users",), USER, False),
        (("users", user["id"]), USER, True),
        (("users", boot.get_json()["user_id"], "application_tokens"), APPLICATION_TOKEN, False),
        (("teams",), TEAM, False),
        (("teams", team["id"]), TEAM, True),
        (("teams", team["id"], "namespaces"), NAMESPACE, False),
        (("namespaces",), NAMESPACE, False),
        (("namespaces", namespace["id"]), NAMESPACE, True),
        (("namespaces", namespace["id"], "repositories"), REPOSITORY, False),
        (("repositories",), REPOSITORY, False),
        (("repositories", repository.id), REPOSITORY, True),
        (("repositories", repository.id, "tags"), TAG, False),
        (("tags",), TAG, False),
        (("registries",), REGISTRY, False),
        (("registries", reachable_registry.id), REGISTRY, True),
    ]
    for parts, shape, single in listed:
        answer = decoded(admin.get(*parts), 200, shape, single=single)
        assert answer, parts
    [tag] = decoded(admin.get("repositories", repository.id, "tags"), 200, TAG, single=False)
    decoded(admin.get("tags", tag["id"]), 200, TAG, single=True)
    assert tag["author"]["name"] == "gggg"

    # `portusctl create at id=<user> application=ci`: id is the path prefix users/<id>,
    # the body is {"application": "ci"} (no bundler); printer.go decodes PlainTokens.
    created = admin.request(
        "POST", f"{V1}/users/{user['id']}/application_tokens", body={"application": "ci"}
    )
    # An admin may not mint a person's token (docs/api.md "Differences from Portus").
    assert created.status_code == 403 and go_error(created)
    own = admin.request(
        "POST",
        f"{V1}/users/{boot.get_json()['user_id']}/application_tokens",
        body={"application": "ci"},
    )
    minted = decoded(own, 201, PLAIN_TOKEN, single=True)
    assert minted["plain_token"]
    assert Portusctl(client, "admin", minted["plain_token"]).get("users").status_code == 200

    # `portusctl delete at <id>`: DELETE /api/v1/users/application_tokens/<id>.
    deleted = admin.request("DELETE", f"{V1}/users/application_tokens/{own.get_json()['id']}")
    assert deleted.status_code == 204
    assert Portusctl(client, "admin", minted["plain_token"]).get("users").status_code == 401

    # Error shapes: 401 and 403 print "message"; 404 prints "Resource not found".
    refused = Portusctl(client, "admin", "wrong").get("users")
    assert refused.status_code == 401 and go_error(refused)
    missing = admin.get("users", 999999)
    assert missing.status_code == 404 and go_error(missing) == "Resource not found"
    bad = admin.create(
        "users", {**user_values, "username": "short", "password": "x"}, bundler="user"
    )
    assert bad.status_code == 400 and go_error(bad).startswith("Password")

    # `portusctl delete user <id>`: DELETE /api/v1/users/<id>; the (empty) body is printed.
    gone = admin.request("DELETE", f"{V1}/users/{user['id']}")
    assert gone.status_code == 204 and gone.get_data() == b""
    assert admin.get("users", user["id"]).status_code == 404
