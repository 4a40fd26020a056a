"""Registries: register one, with its global namespace and every user's personal namespace."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.models import GLOBAL_NAMESPACE_NAME, Namespace, Registry, Team, User
from app.models.enums import NamespaceKind, Visibility
from app.services import accounts, activities
from app.services.errors import Conflict, Invalid, NotFound

# host, host:port, [v6]:port; what clients put before the first "/" of an image name.
HOSTNAME_PATTERN = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$"
)


def check_hostname(value: str, field: str = "hostname") -> str:
    """Return ``host[:port]`` if well formed (no scheme, no path)."""
    value = (value or "").strip()
    if not HOSTNAME_PATTERN.fullmatch(value):
        raise Invalid(
            f"{field} {value!r} is invalid: expected host or host:port, without "
            "http:// and without a path (e.g. registry.example.com:5000)",
            field=field,
        )
    return value


def find_by_service(service: str) -> Registry | None:
    """The registry whose hostname or external hostname equals a token ``service``."""
    return db.session.scalar(
        sa.select(Registry).where(
            sa.or_(Registry.hostname == service, Registry.external_hostname == service)
        )
    )


def get_registry(name: str) -> Registry:
    """The registry with this name, or NotFound."""
    registry = db.session.scalar(sa.select(Registry).where(Registry.name == name))
    if registry is None:
        raise NotFound(f"no registry named {name!r}", field="name")
    return registry


def _check_free(name: str, hostname: str, external: str | None) -> None:
    """Raise Conflict when the name or a hostname is already registered."""
    _check_name_free(name)
    for host in filter(None, (hostname, external)):
        _check_host_free(host)


def add_registry(
    plugins,
    name: str,
    hostname: str,
    *,
    external_hostname: str | None = None,
    use_ssl: bool = True,
    actor: User | None = None,
) -> Registry:
    """Register a registry, create its public global namespace (owned by a hidden team)
    and a personal namespace for every existing user. The caller commits."""
    name = (name or "").strip()
    hostname = check_hostname(hostname)
    external_hostname = (
        check_hostname(external_hostname, "external_hostname") if external_hostname else None
    )
    _check_free(name, hostname, external_hostname)
    registry = Registry(
        name=name, hostname=hostname, external_hostname=external_hostname, use_ssl=use_ssl
    )
    db.session.add(registry)
    db.session.flush()
    _create_global_namespace(registry)
    for user in db.session.scalars(sa.select(User).where(User.bot.is_(False))):
        accounts.ensure_personal_namespace(user, registry, plugins)
    activities.record(
        plugins, "registry.create", actor, "registry", registry.id, name, hostname=hostname
    )
    return registry


def global_team_name(registry: Registry) -> str:
    """The hidden team owning a registry's global and orphan namespaces."""
    return f"~global:{registry.id}"


def _create_global_namespace(registry: Registry) -> Namespace:
    """The namespace for names without "/": public, owned by a hidden team (admins rule it)."""
    team = Team(name=global_team_name(registry), hidden=True)
    db.session.add(team)
    db.session.flush()
    namespace = Namespace(
        name=GLOBAL_NAMESPACE_NAME,
        registry_id=registry.id,
        team_id=team.id,
        kind=NamespaceKind.GLOBAL,
        visibility=Visibility.PUBLIC,
        description=f"Images without a namespace on {registry.hostname}.",
    )
    db.session.add(namespace)
    return namespace


def only_registry() -> Registry:
    """The single registered registry, or an error saying to name one."""
    rows = list(db.session.scalars(sa.select(Registry).order_by(Registry.id).limit(2)))
    if len(rows) != 1:
        what = "no registry is registered" if not rows else "several registries are registered"
        raise NotFound(f"{what}: name the registry (see 'wharfinger registry add')", field="name")
    return rows[0]


def default_listen_address(registry: Registry) -> str:
    """``:PORT`` from the registry's hostname (443 or 80 when it names no port)."""
    host = registry.hostname
    if host.rsplit(":", 1)[-1].isdigit() and not host.endswith("]"):
        return ":" + host.rsplit(":", 1)[1]
    return ":443" if registry.use_ssl else ":80"


def notifying_host(name: str | None) -> str | None:
    """The hostname of the registry a notification came from: named in the endpoint URL
    (``?registry=NAME``, which ``wharfinger registry config`` writes), or the only one.
    None when several exist and none is named: the event's Host header decides then.
    Reads one column, not the row: this runs for every notification."""
    if name:
        host = db.session.scalar(sa.select(Registry.hostname).where(Registry.name == name))
        if host is None:
            raise NotFound(f"no registry named {name!r}", field="name")
        return host
    hosts = list(db.session.scalars(sa.select(Registry.hostname).limit(2)))
    return hosts[0] if len(hosts) == 1 else None


def all_registries() -> list[Registry]:
    """Every registry, by name."""
    return list(db.session.scalars(sa.select(Registry).order_by(Registry.name)))


def get_registry_by_id(registry_id: int) -> Registry:
    """The registry with this id, or NotFound."""
    registry = db.session.get(Registry, registry_id)
    if registry is None:
        raise NotFound(f"no registry with id {registry_id}", field="registry_id")
    return registry


def _has_repositories(registry: Registry) -> bool:
    """Whether any repository lives in ``registry``."""
    from app.models import Repository

    return bool(
        db.session.scalar(
            sa.select(Repository.id)
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .where(Namespace.registry_id == registry.id)
            .limit(1)
        )
    )


def update_registry(
    plugins,
    registry: Registry,
    *,
    name: str | None = None,
    hostname: str | None = None,
    external_hostname: str | None = None,
    use_ssl: bool | None = None,
    actor: User | None = None,
) -> Registry:
    """Change a registry's name, hostnames or scheme (``None`` leaves a field alone; an
    empty ``external_hostname`` clears it). The hostname is the token ``service`` and the
    prefix of every stored image, so it is locked once repositories exist (as in Portus).
    The caller commits."""
    changes = {}
    if name is not None and name.strip() != registry.name:
        changes["name"] = name.strip()
        _check_name_free(changes["name"])
    if hostname is not None and hostname.strip() != registry.hostname:
        changes["hostname"] = _free_host(check_hostname(hostname), registry)
        if _has_repositories(registry):
            raise Invalid(
                "the hostname cannot change once the registry holds repositories",
                field="hostname",
            )
    if external_hostname is not None and (external_hostname or None) != registry.external_hostname:
        changes["external_hostname"] = (
            _free_host(check_hostname(external_hostname, "external_hostname"), registry)
            if external_hostname.strip()
            else None
        )
    if use_ssl is not None and use_ssl != registry.use_ssl:
        changes["use_ssl"] = use_ssl
    for key, value in changes.items():
        setattr(registry, key, value)
    if changes:
        db.session.flush()
        activities.record(
            plugins,
            "registry.update",
            actor,
            "registry",
            registry.id,
            registry.name,
            changed=sorted(changes),
        )
    return registry


def _free_host(host: str, registry: Registry) -> str:
    """``host`` unless another registry uses it as hostname or external hostname."""
    other = find_by_service(host)
    if other is not None and other.id != registry.id:
        raise Conflict(f"hostname {host!r} is already registered", field="hostname")
    return host


def validation_errors(
    name: str | None, hostname: str | None, external_hostname: str | None = None
) -> dict[str, list[str]]:
    """What would stop ``add_registry`` with these values, per field (empty: fine)."""
    errors: dict[str, list[str]] = {}
    checks = [
        ("name", lambda: _check_name_free((name or "").strip())),
        ("hostname", lambda: _check_host_free(check_hostname(hostname or ""))),
    ]
    if external_hostname:
        checks.append(
            (
                "external_hostname",
                lambda: _check_host_free(check_hostname(external_hostname, "external_hostname")),
            )
        )
    for field, check in checks:
        try:
            check()
        except (Invalid, Conflict) as exc:
            errors.setdefault(field, []).append(str(exc))
    return errors


def _check_name_free(name: str) -> None:
    """Invalid or Conflict when ``name`` cannot name a new registry."""
    if not name or len(name) > 128:
        raise Invalid("registry name must be 1 to 128 characters", field="name")
    if db.session.scalar(sa.select(Registry.id).where(Registry.name == name)):
        raise Conflict(f"a registry named {name!r} exists already", field="name")


def _check_host_free(host: str) -> None:
    """Conflict when ``host`` is already some registry's hostname."""
    if find_by_service(host) is not None:
        raise Conflict(f"hostname {host!r} is already registered", field="hostname")
