"""The OpenAPI 3.1 document, built from the app's real routes.

Paths, methods, path parameters, summaries (the view's docstring) and whether a route
needs authentication come from the URL map and the views; ``OPERATIONS`` adds what a
route cannot tell (request and response schemas, query parameters). A route without an
entry, or an entry without a route, makes ``document`` raise, and
``tests/api/test_openapi.py`` fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Flask

from app.services import names
from app.services.accounts import PASSWORD_MAX, PASSWORD_MIN

NULLABLE_STRING = {"type": ["string", "null"]}
TIME = {"type": ["string", "null"], "format": "date-time"}
ID = {"type": "integer"}


def _text(pattern: re.Pattern, maximum: int) -> dict[str, Any]:
    """A string the services accept: their own pattern and length (anchored, so the
    document's ECMA regex means what the service's ``fullmatch`` means)."""
    return {"type": "string", "pattern": pattern.pattern, "minLength": 1, "maxLength": maximum}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object schema (extra properties allowed, as Portus clients ignore them)."""
    return {"type": "object", "properties": properties, "required": list(required)}


FIELD_MESSAGES = {
    "type": "object",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _object(
        {
            # A string, except in a 422, where it holds the messages per field (Portus).
            "message": {"oneOf": [{"type": "string"}, FIELD_MESSAGES]},
            "errors": FIELD_MESSAGES,
            "error": {"type": "string"},
        },
        ("message",),
    ),
    "User": _object(
        {
            "id": ID,
            "username": {"type": "string"},
            "email": NULLABLE_STRING,
            "display_name": NULLABLE_STRING,
            "admin": {"type": "boolean"},
            "enabled": {"type": "boolean"},
            "bot": {"type": "boolean"},
            "namespace_id": {"type": ["integer", "null"]},
            "created_at": TIME,
        },
        ("id", "username", "email", "admin", "namespace_id", "display_name"),
    ),
    "UserInput": _object(
        {
            "username": _text(names.USERNAME_PATTERN, names.USERNAME_MAX),
            "email": _text(names.EMAIL_PATTERN, 255),
            "password": {"type": "string", "minLength": PASSWORD_MIN, "maxLength": PASSWORD_MAX},
            "display_name": {"type": "string"},
            "bot": {"type": "boolean"},
            "admin": {"type": "boolean"},
            "enabled": {"type": "boolean"},
        }
    ),
    "ApplicationToken": _object(
        {
            "id": ID,
            "application": {"type": "string"},
            "read_only": {"type": "boolean"},
            "expires_at": TIME,
            "plain_token": {"type": "string"},
        },
        ("id", "application"),
    ),
    "ApplicationTokenInput": _object(
        {
            "application": {"type": "string"},
            "read_only": {"type": "boolean"},
            "expires_in": {"type": "string", "description": "e.g. 30d, 12h"},
        },
        ("application",),
    ),
    "Team": _object(
        {
            "id": ID,
            "name": {"type": "string"},
            "description": NULLABLE_STRING,
            "hidden": {"type": "boolean"},
            "users_count": {"type": ["integer", "null"]},
            "namespaces_count": {"type": ["integer", "null"]},
        },
        ("id", "name", "hidden"),
    ),
    "TeamInput": _object(
        {
            "name": _text(names.TEAM_PATTERN, names.TEAM_MAX),
            "description": {"type": "string"},
            "owner_id": {"type": "integer"},
        }
    ),
    "Member": _object(
        {
            "id": ID,
            "user_id": ID,
            "username": {"type": "string"},
            "role": {"enum": ["viewer", "contributor", "owner"]},
        },
        ("id", "user_id", "role"),
    ),
    "MemberInput": _object(
        {"user": {"type": "string"}, "role": {"enum": ["viewer", "contributor", "owner"]}}
    ),
    "Namespace": _object(
        {
            "id": ID,
            "name": {"type": "string"},
            "description": NULLABLE_STRING,
            "team": _object({"id": ID, "name": {"type": "string"}}),
            "visibility": {"enum": ["private", "protected", "public"]},
            "global": {"type": "boolean"},
        },
        ("id", "name", "team", "visibility", "global"),
    ),
    "NamespaceInput": _object(
        {
            "name": _text(names.NAMESPACE_PATTERN, names.NAMESPACE_MAX),
            "team": {"type": "string", "description": "team name or id"},
            "description": {"type": "string"},
            "visibility": {"enum": ["private", "protected", "public"]},
            "registry_id": {"type": "integer"},
        }
    ),
    "Repository": _object(
        {
            "id": ID,
            "name": {"type": "string"},
            "full_name": {"type": "string"},
            "namespace": _object({"id": ID, "name": {"type": "string"}}),
            "description": NULLABLE_STRING,
            "stars": {"type": "integer"},
            "tags_count": {"type": "integer"},
        },
        ("id", "name", "full_name", "namespace", "stars", "tags_count"),
    ),
    "RepositoryInput": _object({"description": {"type": "string"}}, ("description",)),
    "Tag": _object(
        {
            "id": ID,
            "name": {"type": "string"},
            "author": _object({"id": {"type": ["integer", "null"]}, "name": NULLABLE_STRING}),
            "digest": {"type": "string"},
            "image_id": {"type": "string"},
            "size": {"type": ["integer", "null"]},
            "created_at": TIME,
        },
        ("id", "name", "author", "digest", "image_id"),
    ),
    "Registry": _object(
        {
            "id": ID,
            "name": {"type": "string"},
            "hostname": {"type": "string"},
            "external_hostname": NULLABLE_STRING,
            "use_ssl": {"type": "boolean"},
        },
        ("id", "name", "hostname", "external_hostname", "use_ssl"),
    ),
    "RegistryInput": _object(
        {
            "name": {"type": "string"},
            "hostname": {"type": "string"},
            "external_hostname": {"type": "string"},
            "use_ssl": {"type": "boolean"},
            "force": {"type": "boolean", "description": "skip the reachability check"},
        }
    ),
    "Validation": _object(
        {
            "valid": {"type": "boolean"},
            "messages": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
        ("valid", "messages"),
    ),
    "Health": {
        "type": "object",
        "additionalProperties": _object(
            {"msg": {"type": "string"}, "success": {"type": "boolean"}}, ("msg", "success")
        ),
    },
    "Version": _object(
        {
            "api-versions": {"type": "array", "items": {"type": "string"}},
            "git": {"type": "object"},
            "version": {"type": "string"},
        },
        ("api-versions", "version"),
    ),
    "Object": {"type": "object"},
}


@dataclass(frozen=True)
class Operation:
    """What the document says about one route beyond its path and docstring."""

    tag: str
    response: str | None = None  # schema name, "Name[]" for a list, None for 204
    body: str | None = None
    query: tuple[str, ...] = ()
    paginated: bool = False
    status: int = 200
    media_type: str = "application/json"
    errors: tuple[int, ...] = ()  # answers beyond the common ones (502, 503)


PAGED = ("page", "per_page", "all", "sort_attr", "sort_order")
OPERATIONS: dict[str, Operation] = {
    "api.list_users": Operation("users", "User[]", query=PAGED, paginated=True),
    "api.get_user": Operation("users", "User"),
    "api.create_user": Operation("users", "User", "UserInput", status=201),
    "api.update_user": Operation("users", "User", "UserInput"),
    "api.delete_user": Operation("users", status=204),
    "api.bootstrap": Operation("users", "ApplicationToken", "UserInput", status=201),
    "api.list_tokens": Operation("application tokens", "ApplicationToken[]"),
    "api.create_token": Operation(
        "application tokens", "ApplicationToken", "ApplicationTokenInput", status=201
    ),
    "api.delete_token": Operation("application tokens", status=204),
    "api.list_teams": Operation("teams", "Team[]", query=PAGED, paginated=True),
    "api.get_team": Operation("teams", "Team"),
    "api.create_team": Operation("teams", "Team", "TeamInput", status=201),
    "api.update_team": Operation("teams", "Team", "TeamInput"),
    "api.delete_team": Operation("teams", query=("new_team",), status=204),
    "api.team_namespaces": Operation("teams", "Namespace[]", query=PAGED[:3], paginated=True),
    "api.list_members": Operation("teams", "Member[]"),
    "api.add_member": Operation("teams", "Member", "MemberInput", status=201),
    "api.update_member": Operation("teams", "Member", "MemberInput"),
    "api.delete_member": Operation("teams", status=204),
    "api.list_namespaces": Operation("namespaces", "Namespace[]", query=PAGED, paginated=True),
    "api.get_namespace": Operation("namespaces", "Namespace"),
    "api.namespace_repositories": Operation(
        "namespaces", "Repository[]", query=PAGED[:3], paginated=True
    ),
    "api.validate_namespace": Operation("namespaces", "Validation", query=("name", "registry_id")),
    "api.create_namespace": Operation("namespaces", "Namespace", "NamespaceInput", status=201),
    "api.update_namespace": Operation("namespaces", "Namespace", "NamespaceInput"),
    "api.change_visibility": Operation("namespaces", "Namespace", "NamespaceInput"),
    "api.delete_namespace": Operation("namespaces", status=204, errors=(502,)),
    "api.list_repositories": Operation(
        "repositories", "Repository[]", query=PAGED[:3], paginated=True
    ),
    "api.get_repository": Operation("repositories", "Repository"),
    "api.update_repository": Operation("repositories", "Repository", "RepositoryInput"),
    "api.delete_repository": Operation("repositories", status=204, errors=(502,)),
    "api.repository_tags": Operation("repositories", "Tag[]", query=PAGED[:3], paginated=True),
    "api.grouped_tags": Operation("repositories", "Tag[][]"),
    "api.repository_tag": Operation("repositories", "Tag"),
    "api.list_tags": Operation("tags", "Tag[]", query=PAGED[:3], paginated=True),
    "api.get_tag": Operation("tags", "Tag"),
    "api.delete_tag": Operation("tags", status=204, errors=(502,)),
    "api.list_registries": Operation("registries", "Registry[]"),
    "api.get_registry": Operation("registries", "Registry"),
    "api.validate_registry": Operation(
        "registries",
        "Validation",
        query=("name", "hostname", "external_hostname", "use_ssl", "force", "only[]"),
    ),
    "api.create_registry": Operation("registries", "Registry", "RegistryInput", status=201),
    "api.update_registry": Operation("registries", "Registry", "RegistryInput"),
    "api.ping": Operation("health", "Object"),
    "api.health_check": Operation("health", "Health", errors=(503,)),
    "api.version": Operation("health", "Version"),
    "api.openapi_document": Operation("documentation", "Object"),
    "api.openapi_page": Operation("documentation", "Object", media_type="text/html"),
}
QUERY_TYPES = {
    "page": {"type": "integer", "minimum": 1},
    "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
    "all": {"type": "boolean"},
    "new_team": {"type": "integer", "minimum": 1},
    "registry_id": {"type": "integer", "minimum": 1},
    "use_ssl": {"type": "boolean"},
    "force": {"type": "boolean"},
    "sort_order": {"enum": ["asc", "desc"]},
    "only[]": {"type": "array", "items": {"type": "string"}},
}
PAGINATION_HEADERS = ("X-Total", "X-Total-Pages", "X-Page", "X-Per-Page", "Link")
CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _schema(name: str) -> dict[str, Any]:
    """A reference to ``name``; ``Name[]`` is an array of it (``Name[][]`` nests)."""
    if name.endswith("[]"):
        return {"type": "array", "items": _schema(name[:-2])}
    return {"$ref": f"#/components/schemas/{name}"}


def openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """``/api/v1/users/<int(max=..):user_id>`` → ``/api/v1/users/{user_id}`` and its
    path parameters."""
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": 2147483647}
            if converter == "int"
            else {"type": "string"},
        }
        for converter, name in CONVERTER.findall(rule)
    ]
    return CONVERTER.sub(r"{\2}", rule), parameters


def _responses(operation: Operation) -> dict[str, Any]:
    """The success answer and the error answers every route may give."""
    error = {"description": "error", "content": {"application/json": {"schema": _schema("Error")}}}
    success: dict[str, Any] = {"description": "success"}
    if operation.response:
        success["content"] = {operation.media_type: {"schema": _schema(operation.response)}}
    if operation.paginated:
        success["headers"] = {name: {"schema": {"type": "string"}} for name in PAGINATION_HEADERS}
    codes = dict.fromkeys(("400", "401", "403", "404", "405", "422"), error)
    codes.update({str(code): error for code in operation.errors})
    if 503 in operation.errors:  # the health body, with the failing check
        codes["503"] = success | {"description": "a check failed"}
    return {str(operation.status): success, **codes}


def _operation(app: Flask, endpoint: str, rule: str) -> dict[str, Any]:
    """One operation object."""
    try:
        operation = OPERATIONS[endpoint]
    except KeyError:
        raise LookupError(f"route {endpoint} ({rule}) is missing from OPERATIONS") from None
    view = app.view_functions[endpoint]
    summary, _, description = (view.__doc__ or endpoint).strip().partition("\n")
    _, path_parameters = openapi_path(rule)
    query = [
        {"name": name, "in": "query", "schema": QUERY_TYPES.get(name, {"type": "string"})}
        for name in operation.query
    ]
    result: dict[str, Any] = {
        "operationId": endpoint.removeprefix("api."),
        "tags": [operation.tag],
        "summary": summary.strip(),
        "parameters": path_parameters + query,
        "responses": _responses(operation),
    }
    if description.strip():
        result["description"] = " ".join(description.split())
    if getattr(view, "api_public", False):
        result["security"] = []
    if operation.body:
        result["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": _schema(operation.body)}},
        }
    return result


def api_routes(app: Flask) -> list[tuple[str, str, str]]:
    """``(method, flask rule, endpoint)`` for every API route."""
    return sorted(
        (method, rule.rule, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in (rule.methods or set()) - IGNORED_METHODS
    )


def document(app: Flask, version: str) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document for ``app``'s API routes."""
    routes = api_routes(app)
    unrouted = set(OPERATIONS) - {endpoint for _, _, endpoint in routes}
    if unrouted:
        raise LookupError(f"OPERATIONS names routes that do not exist: {sorted(unrouted)}")
    paths: dict[str, dict[str, Any]] = {}
    for method, rule, endpoint in routes:
        path, _ = openapi_path(rule)
        paths.setdefault(path, {})[method.lower()] = _operation(app, endpoint, rule)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Wharfinger API",
            "version": version,
            "description": "Portus-compatible REST API v1. Authenticate with the header "
            "Portus-Auth: username:application-token, or Authorization: Bearer <token>.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "PortusAuth": {"type": "apiKey", "in": "header", "name": "Portus-Auth"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"PortusAuth": []}, {"Bearer": []}],
    }
