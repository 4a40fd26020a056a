"""``/api/v1/registries`` (administrators): list, validate, create (reachability checked
unless ``force``), update."""

from __future__ import annotations

from flask import current_app, jsonify, request

from app.blueprints.api import entities
from app.blueprints.api.core import (
    ID,
    ApiError,
    body,
    bp,
    caller,
    created,
    flag,
    plugins,
    require_admin,
    saved,
    text,
)
from app.services import diagnostics, registries


@bp.get("/v1/registries")
def list_registries():
    """Every registry, by name."""
    require_admin()
    return jsonify([entities.registry(r) for r in registries.all_registries()])


@bp.get(f"/v1/registries/<{ID}:registry_id>")
def get_registry(registry_id: int):
    """One registry."""
    require_admin()
    return jsonify(entities.registry(registries.get_registry_by_id(registry_id)))


@bp.get("/v1/registries/validate")
def validate_registry():
    """Whether these values could register a registry: ``{"valid", "messages"}``;
    ``only[]`` limits the fields checked. The reachability check runs unless
    ``force`` or ``only`` leaves out the hostname."""
    require_admin()
    args = request.args
    messages = registries.validation_errors(
        text(args, "name", maximum=300),
        text(args, "hostname", maximum=300),
        text(args, "external_hostname", maximum=300),
    )
    only = set(args.getlist("only[]") or args.getlist("only"))
    if (
        not messages.get("hostname")
        and not flag(args, "force")
        and (not only or "hostname" in only)
    ):
        problem = diagnostics.probe_registry(
            args.get("hostname", ""), flag(args, "use_ssl") is not False, current_app.config
        )
        if problem:
            messages["hostname"] = [problem]
    if only:
        messages = {field: found for field, found in messages.items() if field in only}
    return jsonify(valid=not messages, messages=messages)


@bp.post("/v1/registries")
def create_registry():
    """Register a registry; ``/v2/`` must answer like one unless ``force`` is true."""
    require_admin()
    data = body("registry")
    hostname = registries.check_hostname(text(data, "hostname", required=True, maximum=300))
    use_ssl = flag(data, "use_ssl") is not False
    if not flag(data, "force"):
        problem = diagnostics.probe_registry(hostname, use_ssl, current_app.config)
        if problem:
            raise ApiError(400, problem, {"hostname": [problem]})
    registry = registries.add_registry(
        plugins(),
        text(data, "name", required=True, maximum=300) or "",
        hostname,
        external_hostname=text(data, "external_hostname", maximum=300) or None,
        use_ssl=use_ssl,
        actor=caller(),
    )
    return created(entities.registry(registry))


@bp.put(f"/v1/registries/<{ID}:registry_id>")
def update_registry(registry_id: int):
    """Change name, external hostname, SSL, or the hostname while no repository exists."""
    require_admin()
    data = body("registry")
    registry = registries.update_registry(
        plugins(),
        registries.get_registry_by_id(registry_id),
        name=text(data, "name", maximum=300),
        hostname=text(data, "hostname", maximum=300),
        external_hostname=text(data, "external_hostname", maximum=300),
        use_ssl=flag(data, "use_ssl"),
        actor=caller(),
    )
    return saved(entities.registry(registry))
