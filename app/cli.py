"""The ``wharfinger`` command: a Flask CLI group over the app factory.

Every command calls services; errors print one line (``error: ...``) and exit non-zero.
``flask --app wsgi <command>`` offers the same commands.
"""

from __future__ import annotations

import functools
import sys

import click
import sqlalchemy.exc
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from app.config import ConfigError, load_settings
from app.registry.keys import KeyMaterialError
from app.services.errors import ServiceError

EXIT_ERROR = 1
EXIT_CONFIG = 2


def _short_db_error(exc: sqlalchemy.exc.DBAPIError) -> str:
    """The driver's message without SQL or parameters (which could hold secrets)."""
    original = getattr(exc, "orig", None)
    return str(original.args[-1] if original is not None and original.args else exc).splitlines()[0]


def reports_errors(command):
    """Turn expected failures into one ``error:`` line and a non-zero exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (ServiceError, KeyMaterialError, ConfigError) as exc:
            _rollback()
            raise click.ClickException(str(exc)) from None
        except sqlalchemy.exc.OperationalError as exc:
            raise click.ClickException(
                f"database unreachable or not ready ({_short_db_error(exc)}); check "
                "WHARFINGER_DATABASE_URL and run 'wharfinger init'"
            ) from None

    return wrapper


def _rollback() -> None:
    """Discard a half-done change so nothing partial is ever committed."""
    from app.extensions import db

    db.session.rollback()


def _plugins():
    """This app's plugin manager."""
    return current_app.extensions["wharfinger.plugins"]


def _read_password(from_stdin: bool) -> str:
    """The password from one line of stdin, or a hidden prompt with confirmation."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.command("init")
@click.option("--fqdn", help="Name clients use for this server (certificate SAN and issuer).")
@click.option("--force", is_flag=True, help="Replace existing keys and certificates.")
@with_appcontext
@reports_errors
def init_command(fqdn, force):
    """Set up the instance folder, database, keys and certificates (safe to run twice)."""
    from flask_migrate import upgrade

    from app.services.instance import ensure_instance

    settings = dict(current_app.config["WHARFINGER"])
    if fqdn:
        settings["FQDN"] = fqdn
    report = ensure_instance(settings, force=force)
    upgrade(directory=current_app.extensions["migrate"].directory)
    for path in report.created:
        click.echo(f"created {path}")
    for path in report.kept:
        click.echo(f"kept    {path}")
    click.echo("database is at the latest schema")
    if fqdn and fqdn != current_app.config["FQDN"]:
        click.echo(f"note: set WHARFINGER_FQDN={fqdn} so tokens are issued as {fqdn}")


@click.group("user")
def user_group():
    """Manage users."""


@user_group.command("create")
@click.argument("username")
@click.option("--email", help="E-mail address (required except for bots).")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option("--bot", is_flag=True, help="A bot: no web login, application tokens only.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--display-name", help="Name shown in the UI.")
@with_appcontext
@reports_errors
def user_create(username, email, admin, bot, password_stdin, display_name):
    """Create a user with a personal team and namespace (bots get neither)."""
    from app.extensions import db
    from app.services import accounts

    password = None if bot and not password_stdin else _read_password(password_stdin)
    user = accounts.create_user(
        _plugins(), username, email, password, admin=admin, bot=bot, display_name=display_name
    )
    db.session.commit()
    click.echo(
        f"created user {user.username}" + (" (admin)" if admin else "") + (" (bot)" if bot else "")
    )


@user_group.command("make-admin")
@click.argument("username")
@with_appcontext
@reports_errors
def user_make_admin(username):
    """Give an existing user administrator rights."""
    from app.extensions import db
    from app.services import accounts

    accounts.set_admin(_plugins(), accounts.get_user(username), True)
    db.session.commit()
    click.echo(f"{username} is now an administrator")


@click.group("registry")
def registry_group():
    """Manage the registries Wharfinger issues tokens for."""


@registry_group.command("add")
@click.argument("name")
@click.argument("hostname")
@click.option("--external-hostname", help="Host clients use, when it differs (proxy).")
@click.option(
    "--use-ssl/--no-ssl", default=True, show_default=True, help="Whether the registry speaks HTTPS."
)
@with_appcontext
@reports_errors
def registry_add(name, hostname, external_hostname, use_ssl):
    """Register a registry (HOSTNAME is host:port, the token 'service')."""
    from app.extensions import db
    from app.services import registries

    registry = registries.add_registry(
        _plugins(), name, hostname, external_hostname=external_hostname, use_ssl=use_ssl
    )
    db.session.commit()
    click.echo(f"registered {registry.name} at {registry.hostname}")


@registry_group.command("config")
@click.argument("name", required=False)
@click.option("--listen", help="http.addr of the registry (default: :PORT of its hostname).")
@click.option(
    "--storage",
    default="/var/lib/docker-registry",
    show_default=True,
    help="Filesystem storage root of the registry.",
)
@click.option("--tls-cert", help="Registry TLS certificate (default: WHARFINGER_TLS_CERT).")
@click.option("--tls-key", help="Registry TLS key (default: WHARFINGER_TLS_KEY).")
@with_appcontext
@reports_errors
def registry_config(name, listen, storage, tls_cert, tls_key):
    """Print a registry config.yml wired to this Wharfinger, and the client trust steps.

    The YAML goes to standard output (redirect it to config.yml), the instructions to
    standard error. NAME may be left out when only one registry is registered.
    """
    from app.services import registries
    from app.services.registry_config import (
        RegistryConfigOptions,
        render_registry_config,
        trust_instructions,
    )

    registry = registries.get_registry(name) if name else registries.only_registry()
    config = current_app.config
    use_tls = registry.use_ssl
    options = RegistryConfigOptions(
        listen=listen or registries.default_listen_address(registry),
        storage=storage,
        tls_cert=(tls_cert or config["TLS_CERT"]) if use_tls else None,
        tls_key=(tls_key or config["TLS_KEY"]) if use_tls else None,
    )
    click.echo(render_registry_config(registry, config, options), nl=False)
    click.echo(trust_instructions(registry, config, options), err=True)


@click.group("token")
def token_group():
    """Manage application tokens (the password for docker login, and for the API)."""


@token_group.command("create")
@click.argument("username")
@click.argument("application")
@click.option("--read-only", is_flag=True, help="The token may only pull.")
@click.option("--expires-in", help="Lifetime such as 30d or 12h (default: no expiry).")
@with_appcontext
@reports_errors
def token_create(username, application, read_only, expires_in):
    """Create a token for USERNAME named APPLICATION and print it once."""
    import datetime as dt

    from app.config import parse_duration
    from app.extensions import db
    from app.models import utcnow
    from app.services import accounts, credentials

    try:
        lifetime = parse_duration(expires_in) if expires_in else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires-in") from None
    expires_at = utcnow() + dt.timedelta(seconds=lifetime) if lifetime else None
    _, plain = credentials.create_application_token(
        _plugins(),
        accounts.get_user(username),
        application,
        read_only=read_only,
        expires_at=expires_at,
    )
    db.session.commit()
    click.echo(plain)


@token_group.command("list")
@click.argument("username")
@with_appcontext
@reports_errors
def token_list(username):
    """List USERNAME's tokens (names and dates; secrets are never stored)."""
    from app.services import accounts, credentials

    for token in credentials.list_application_tokens(accounts.get_user(username)):
        flags = " read-only" if token.read_only else ""
        expiry = f" expires {token.expires_at:%Y-%m-%d %H:%M}" if token.expires_at else ""
        click.echo(f"{token.application}{flags}{expiry}")


@token_group.command("revoke")
@click.argument("username")
@click.argument("application")
@with_appcontext
@reports_errors
def token_revoke(username, application):
    """Revoke USERNAME's token named APPLICATION."""
    from app.extensions import db
    from app.services import accounts, credentials

    token = credentials.find_application_token(accounts.get_user(username), application)
    credentials.revoke_application_token(_plugins(), token)
    db.session.commit()
    click.echo(f"revoked {application}")


@click.command("serve")
@click.option(
    "--bind", default="0.0.0.0:8443", show_default=True, help="Address:port to listen on."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes (default: 2 per CPU, at most 8).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Threads per worker.",
)
@click.option(
    "--http", "plain_http", is_flag=True, help="Serve plain HTTP (only behind a TLS proxy)."
)
@with_appcontext
@reports_errors
def serve_command(bind, workers, threads, plain_http):
    """Run the production server (gunicorn, TLS from WHARFINGER_TLS_CERT/KEY)."""
    from app.server import run_gunicorn
    from app.services.instance import ensure_instance

    ensure_instance(current_app.config["WHARFINGER"])
    run_gunicorn(
        current_app.config, bind=bind, workers=workers, threads=threads, tls=not plain_http
    )


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
@with_appcontext
@reports_errors
def worker_command(burst):
    """Run the RQ worker and the periodic schedule (needs WHARFINGER_REDIS_URL)."""
    from app.jobs.worker import run_worker

    run_worker(current_app, burst=burst)


@click.command("doctor")
@click.option("--registry", "registry_name", help="Only this registry (by name).")
@click.option(
    "--registry-config",
    type=click.Path(exists=True, dir_okay=False),
    help="The registry's config.yml, to pinpoint issuer/certificate mismatches.",
)
@with_appcontext
@reports_errors
def doctor_command(registry_name, registry_config):
    """Check database, Redis, keys and every registry's wiring; explain each mismatch."""
    from app.services import diagnostics

    issuer = current_app.extensions["wharfinger.tokens"]
    runner = current_app.extensions["wharfinger.jobs"]
    findings = diagnostics.all_findings(
        current_app.config,
        issuer,
        current_app.extensions["migrate"].directory,
        getattr(runner, "connection", None),
        registry_name,
        registry_config,
    )
    for finding in findings:
        click.echo(f"{finding.label:4}  {finding.check}: {finding.message}")
    if not all(f.ok for f in findings):
        sys.exit(EXIT_ERROR)


@click.command("sync")
@click.option("--registry", "registry_name", help="Only this registry (by name).")
@click.option(
    "--strategy",
    type=click.Choice(["update", "update-delete"]),
    help="Override WHARFINGER_SYNC_STRATEGY for this pass.",
)
@with_appcontext
@reports_errors
def sync_command(registry_name, strategy):
    """Run one catalog reconciliation pass in the foreground and print what changed."""
    from app.jobs import tasks

    reports = tasks.reconcile(strategy=strategy or "update", registry_name=registry_name)
    if not reports:
        raise click.ClickException("nothing ran: no such registry, or a pass is running")
    for report in reports:
        state = "complete" if report.complete else "INCOMPLETE (nothing deleted)"
        click.echo(
            f"{report.registry}: {report.repositories} repositories, {report.tags} tags, "
            f"{report.created_tags} tags created, {report.updated_tags} updated, "
            f"{report.removed_tags} removed, {report.requests} requests, "
            f"{report.seconds:.1f} s, {state}"
        )
        for problem in report.problems:
            click.echo(f"  problem: {problem}", err=True)
    if any(not report.complete for report in reports):
        sys.exit(EXIT_ERROR)


# --- ``wharfinger api``: a client of the REST API for admins without shell access --------

# resource → (list/create path, item path, table columns); ``{id}`` is the first argument,
# ``{sub}`` the second part of ``TEAM/MEMBER`` ids.
API_RESOURCES = {
    "users": ("/users", "/users/{id}", "id username email admin enabled bot"),
    "teams": ("/teams", "/teams/{id}", "id name description users_count namespaces_count"),
    "members": (
        "/teams/{id}/members",
        "/teams/{id}/members/{sub}",
        "id username role",
    ),
    "namespaces": ("/namespaces", "/namespaces/{id}", "id name team.name visibility global"),
    "repositories": ("/repositories", "/repositories/{id}", "id full_name tags_count stars"),
    "tags": ("/tags", "/tags/{id}", "id name digest author.name repository_id"),
    "registries": ("/registries", "/registries/{id}", "id name hostname external_hostname use_ssl"),
    "application_tokens": (
        "/users/{id}/application_tokens",
        "/users/application_tokens/{id}",
        "id application read_only expires_at",
    ),
}
NEEDS_PARENT = {"members", "application_tokens"}  # their lists need the owner's id


class ApiCallFailed(click.ClickException):
    """An HTTP error from the server: one line, exit status 1."""


@click.group("api")
@click.option(
    "--server",
    envvar="WHARFINGER_API_URL",
    required=True,
    help="e.g. https://wharfinger.example.com:8443",
)
@click.option(
    "--token", envvar="WHARFINGER_API_TOKEN", help="USER:APPLICATION-TOKEN (Portus-Auth)."
)
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False),
    help="CA bundle for a self-signed server.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the server's JSON instead of a table.")
@click.pass_context
def api_group(ctx, server, token, ca_file, as_json):
    """Call a Wharfinger server's REST API (get, create, update, delete resources).

    Resources: users, teams, members (TEAM or TEAM/MEMBER), namespaces, repositories, tags,
    registries, application_tokens (USER to list or create, TOKEN to delete). Parameters
    are KEY=VALUE pairs.
    """
    ctx.obj = {
        "server": server.rstrip("/"),
        "token": token,
        "verify": ca_file or True,
        "json": as_json,
    }


def _api_call(ctx, method: str, path: str, *, params=None, body=None):
    """One request to ``/api{path}``; ClickException with the server's message on errors."""
    import requests

    options = ctx.obj
    headers = {"Accept": "application/json"}
    if options["token"]:
        headers["Portus-Auth"] = options["token"]
    try:
        response = requests.request(
            method,
            f"{options['server']}/api{path}",
            params=params,
            json=body,
            headers=headers,
            verify=options["verify"],
            timeout=60,
        )
    except requests.RequestException as exc:
        raise ApiCallFailed(f"cannot reach {options['server']}: {exc}") from None
    if response.status_code >= 400:
        try:
            message = response.json().get("message", response.reason)
        except ValueError:
            message = response.reason
        if isinstance(message, dict):  # a 422: messages per field, as Portus sent them
            message = "; ".join(
                f"{field}: {', '.join(map(str, texts))}" for field, texts in message.items()
            )
        raise ApiCallFailed(f"HTTP {response.status_code}: {message}")
    return None if response.status_code == 204 else response.json()


def _pairs(values: tuple[str, ...]) -> dict:
    """``key=value`` arguments; ``true``/``false`` become booleans."""
    result = {}
    for value in values:
        key, equals, text = value.partition("=")
        if not equals or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE")
        result[key] = {"true": True, "false": False}.get(text.lower(), text)
    return result


def _resource_path(resource: str, ident: str | None, item: bool) -> str:
    """The API path of ``resource`` (its collection, or one item)."""
    collection, single, _ = API_RESOURCES[resource]
    template = single if item else collection
    if "{id}" in template and not ident:
        raise click.UsageError(f"{resource} needs an id here")
    main, _, sub = (ident or "").partition("/")
    if "{sub}" in template and not sub:
        raise click.UsageError(f"{resource} ids are TEAM/MEMBER here")
    return "/v1" + template.format(id=main, sub=sub)


def _cell(entry: dict, column: str) -> str:
    """One table cell: a dotted key of ``entry``."""
    value = entry
    for part in column.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _show(ctx, resource: str | None, answer) -> None:
    """Print ``answer`` as JSON or as a table of the resource's columns."""
    import json

    if answer is None:
        return
    if ctx.obj["json"] or resource is None or not isinstance(answer, dict | list):
        click.echo(json.dumps(answer, indent=2, sort_keys=True))
        return
    rows = answer if isinstance(answer, list) else [answer]
    columns = API_RESOURCES[resource][2].split()
    if isinstance(answer, dict) and "plain_token" in answer:
        columns.append("plain_token")
    table = [columns] + [[_cell(row, c) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


RESOURCE = click.Choice(sorted(API_RESOURCES))


@api_group.command("get")
@click.argument("resource", type=RESOURCE)
@click.argument("ident", required=False)
@click.argument("params", nargs=-1)
@click.pass_context
def api_get(ctx, resource, ident, params):
    """List RESOURCE, or show one with its IDENT (lists fetch every page)."""
    if ident and "=" in ident:
        ident, params = None, (ident, *params)
    listing = ident is None or (resource in NEEDS_PARENT and "/" not in ident)
    query = _pairs(params)
    if listing:
        query.setdefault("all", "true")
    path = _resource_path(resource, ident, item=not listing)
    _show(ctx, resource, _api_call(ctx, "GET", path, params=query))


@api_group.command("create")
@click.argument("resource", type=RESOURCE)
@click.argument("args", nargs=-1)
@click.pass_context
def api_create(ctx, resource, args):
    """Create RESOURCE from KEY=VALUE pairs (members and tokens: TEAM or USER first)."""
    ident = args[0] if resource in NEEDS_PARENT and args else None
    body = _pairs(args[1:] if ident else args)
    path = _resource_path(resource, ident, item=False)
    _show(ctx, resource, _api_call(ctx, "POST", path, body=body))


@api_group.command("update")
@click.argument("resource", type=RESOURCE)
@click.argument("ident")
@click.argument("params", nargs=-1)
@click.pass_context
def api_update(ctx, resource, ident, params):
    """Change RESOURCE IDENT with KEY=VALUE pairs."""
    path = _resource_path(resource, ident, item=True)
    _show(ctx, resource, _api_call(ctx, "PUT", path, body=_pairs(params)))


@api_group.command("delete")
@click.argument("resource", type=RESOURCE)
@click.argument("ident")
@click.pass_context
def api_delete(ctx, resource, ident):
    """Delete RESOURCE IDENT."""
    _api_call(ctx, "DELETE", _resource_path(resource, ident, item=True))
    click.echo(f"deleted {resource} {ident}")


@api_group.command("bootstrap")
@click.argument("params", nargs=-1)
@click.pass_context
def api_bootstrap(ctx, params):
    """Create the first admin on a new server (username= email= password=); prints the
    admin's application token once."""
    answer = _api_call(ctx, "POST", "/v1/users/bootstrap", body=_pairs(params))
    _show(ctx, "application_tokens", answer)


@api_group.command("health")
@click.pass_context
def api_health(ctx):
    """The server's health checks (exit 1, with HTTP 503, when one fails)."""
    _show(ctx, None, _api_call(ctx, "GET", "/v1/health"))


@api_group.command("version")
@click.pass_context
def api_version(ctx):
    """The server's version."""
    _show(ctx, None, _api_call(ctx, "GET", "/version"))


def register_commands(app) -> None:
    """Attach every command to ``app.cli``."""
    for command in (
        init_command,
        user_group,
        registry_group,
        token_group,
        serve_command,
        worker_command,
        sync_command,
        doctor_command,
        api_group,
    ):
        app.cli.add_command(command)


def _create_app():
    """Factory used by the ``wharfinger`` group."""
    from app import create_app

    return create_app()


cli = FlaskGroup(create_app=_create_app, help="Wharfinger: registry authorization server and UI.")


def main() -> None:
    """Console-script entry point: validate settings first so errors are one line.
    ``wharfinger api ...`` is a client of a remote server and needs no settings."""
    if sys.argv[1:2] == ["api"]:
        api_group.main(args=sys.argv[2:], prog_name="wharfinger api")
    try:
        load_settings()
    except ConfigError as exc:
        click.echo(f"wharfinger: configuration error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    cli.main(prog_name="wharfinger")
