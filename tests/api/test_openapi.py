"""The OpenAPI document matches the real routes both ways, and its page renders."""

from __future__ import annotations

import pytest

from app.blueprints.api import openapi

SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def routed(app) -> set[tuple[str, str]]:
    """``(METHOD, /openapi/{path})`` for every API route in the URL map."""
    return {
        (method, openapi.openapi_path(rule.rule)[0])
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - SKIPPED_METHODS
    }


def documented(document) -> set[tuple[str, str]]:
    """``(METHOD, path)`` for every operation of the document."""
    return {(m.upper(), path) for path, item in document["paths"].items() for m in item}


def test_document_names_exactly_the_routes(app, api):
    document = api.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    assert documented(document) == routed(app)


def test_every_portus_endpoint_is_there(app):
    expected = {
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users/bootstrap"),
        ("POST", "/api/v1/users/{user_id}/application_tokens"),
        ("DELETE", "/api/v1/users/application_tokens/{token_id}"),
        ("GET", "/api/v1/teams/{team_id}/members"),
        ("PUT", "/api/v1/teams/{team_id}/members/{member_id}"),
        ("GET", "/api/v1/namespaces/validate"),
        ("GET", "/api/v1/repositories/{repository_id}/tags/grouped"),
        ("DELETE", "/api/v1/tags/{tag_id}"),
        ("GET", "/api/v1/registries/validate"),
        ("GET", "/api/v1/_ping"),
        ("GET", "/api/v1/health"),
        ("GET", "/api/version"),
    }
    assert expected <= routed(app)


def test_a_route_missing_from_the_table_fails(app, monkeypatch):
    table = dict(openapi.OPERATIONS)
    del table["api.list_users"]
    monkeypatch.setattr(openapi, "OPERATIONS", table)
    with pytest.raises(LookupError, match="missing from OPERATIONS"):
        openapi.document(app, "1")


def test_an_entry_without_a_route_fails(app, monkeypatch):
    table = dict(openapi.OPERATIONS, **{"api.gone": openapi.Operation("x")})
    monkeypatch.setattr(openapi, "OPERATIONS", table)
    with pytest.raises(LookupError, match="do not exist"):
        openapi.document(app, "1")


def test_public_operations_need_no_security(app):
    document = openapi.document(app, "1")
    public = {
        (m.upper(), p)
        for p, item in document["paths"].items()
        for m, op in item.items()
        if op.get("security") == []
    }
    assert public == {
        ("GET", "/api/v1/_ping"),
        ("GET", "/api/v1/health"),
        ("POST", "/api/v1/users/bootstrap"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/docs"),
    }


def test_every_reference_resolves(app):
    document = openapi.document(app, "1")
    text = str(document)
    for name in openapi.SCHEMAS:
        assert name in document["components"]["schemas"]
    for reference in {part.split("'")[0] for part in text.split("#/components/schemas/")[1:]}:
        assert reference in openapi.SCHEMAS


def test_readable_page(api):
    page = api.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/users/{user_id}/application_tokens" in html
    assert "http://" not in html and "https://" not in html  # nothing from a CDN
