"""Health, version, and the OpenAPI document with its readable page."""

from __future__ import annotations

from importlib import metadata

from flask import current_app, jsonify, render_template_string

from app.blueprints.api import openapi
from app.blueprints.api.core import bp, public
from app.services import diagnostics, health, registries


@bp.get("/v1/_ping")
@public
def ping():
    """Liveness as Portus answered it: 200 with an empty object."""
    return jsonify({})


def _registry_status() -> dict:
    """Every registry answers ``/v2/`` like a registry (Portus's ``registry`` check)."""
    found = registries.all_registries()
    if not found:
        return {"msg": "no registry is registered", "success": False}
    problems = [
        f"{r.name}: {problem}"
        for r in found
        if (problem := diagnostics.probe_registry(r.hostname, r.use_ssl, current_app.config))
    ]
    if problems:
        return {"msg": "; ".join(problems), "success": False}
    return {"msg": f"{len(found)} registry(ies) reachable", "success": True}


@bp.get("/v1/health")
@public
def health_check():
    """Database, registry and (when configured) Redis: 200 when all pass, else 503."""
    runner = current_app.extensions["wharfinger.jobs"]
    checks = health.readiness(
        current_app.extensions["migrate"].directory, getattr(runner, "connection", None)
    )
    answer = {c.name: {"msg": c.message, "success": c.ok} for c in checks}
    if answer["database"]["success"]:
        answer["registry"] = _registry_status()
    ok = all(check["success"] for check in answer.values())
    return jsonify(answer), 200 if ok else 503


def version_string() -> str:
    """The installed package's version."""
    try:
        return metadata.version("wharfinger")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0.0.0+unknown"


@bp.get("/version")
def version():
    """API versions and the server's version (any authenticated user)."""
    return jsonify({"api-versions": ["v1"], "git": {}, "version": version_string()})


@bp.get("/v1/openapi.json")
@public
def openapi_document():
    """The OpenAPI 3.1 document, generated from the registered routes."""
    return jsonify(openapi.document(current_app, version_string()))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ doc.info.title }}</title>
<link rel="stylesheet" href="{{ url_for('static', filename='wharfinger.css') }}">
<style>td,th{padding:.3em .6em;text-align:left;vertical-align:top}code{white-space:nowrap}</style>
</head><body><main class="container">
<h1>{{ doc.info.title }} {{ doc.info.version }}</h1>
<p>{{ doc.info.description }}</p>
<p>Machine-readable: <a href="{{ url_for('api.openapi_document') }}">openapi.json</a>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>Summary</th><th>Auth</th></tr></thead>
<tbody>{% for path, item in doc.paths.items() %}{% for method, op in item.items() %}
<tr><td>{{ method.upper() }}</td><td><code>{{ path }}</code></td>
<td>{{ op.summary }}{% if op.description %}<br><small>{{ op.description }}</small>{% endif %}</td>
<td>{{ "none" if op.security == [] else "required" }}</td></tr>
{% endfor %}{% endfor %}</tbody></table>
</main></body></html>"""


@bp.get("/v1/docs")
@public
def openapi_page():
    """The OpenAPI document as a plain HTML page (no JavaScript, no CDN)."""
    return render_template_string(PAGE, doc=openapi.document(current_app, version_string()))
