"""Wharfinger: the authorization server and web UI beside a private container registry.

``create_app`` builds everything; importing this package creates nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from app.config import ConfigError, default_paths, load_settings

__all__ = ["ConfigError", "create_app"]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application from the environment plus ``config`` overrides.

    Raises ``ConfigError`` (one clear line) when a setting is wrong.
    """
    settings = load_settings(overrides=config)
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"] or None)
    settings["INSTANCE_PATH"] = app.instance_path
    _apply_settings(app, settings)
    _init_proxy(app)
    _init_logging(app)
    _init_extensions(app)
    _init_plugins(app)
    _init_jobs(app)
    _init_metrics(app)
    _register_blueprints(app)
    _register_commands(app)
    return app


def _apply_settings(app: Flask, settings: dict[str, Any]) -> None:
    """Fill defaults that depend on the instance folder and copy settings into app.config."""
    from app.database import engine_options, normalise_database_url
    from app.services.instance import read_or_create_secret

    for key, value in default_paths(settings["INSTANCE_PATH"]).items():
        if not settings.get(key):
            settings[key] = value
    for name in ("SECRET_KEY", "EVENTS_SECRET"):
        if not settings.get(name):
            Path(settings["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
            settings[name] = read_or_create_secret(Path(settings[f"GENERATED_{name}_PATH"]))
    settings["TOKEN_ISSUER"] = settings.get("TOKEN_ISSUER") or settings["FQDN"]
    settings["URL"] = (settings.get("URL") or f"https://{settings['FQDN']}:8443").rstrip("/")
    try:
        url = normalise_database_url(settings["DATABASE_URL"])
    except ValueError as exc:  # sqlalchemy's URL parser: bad port, bad characters
        raise ConfigError(
            "DATABASE_URL", settings["DATABASE_URL"], f"a valid URL ({exc})"
        ) from None
    app.config.update(settings)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url)
    app.config["WHARFINGER"] = settings


def _init_proxy(app: Flask) -> None:
    """Behind WHARFINGER_PROXY_COUNT proxies, take the client's address, scheme, host and
    port from their ``X-Forwarded-*`` headers; with 0 those headers are ignored."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    count = app.config["PROXY_COUNT"]
    if count:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count
        )


def _init_logging(app: Flask) -> None:
    """Log lines (text or JSON) tagged with the request id."""
    from app.logs import configure_logging

    configure_logging(app)


def _init_extensions(app: Flask) -> None:
    """Bind db, migrations and the login manager to this app."""
    from app.database import install_sqlite_pragmas
    from app.extensions import csrf, db, login_manager, migrate
    from app.services.accounts import load_session_user

    db.init_app(app)
    with app.app_context():
        install_sqlite_pragmas(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.user_loader(load_session_user)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to see that page."
    login_manager.login_message_category = "warning"
    csrf.init_app(app)
    https = app.config["URL"].startswith("https://")
    app.config.update(
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=https,
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )


def _init_plugins(app: Flask) -> None:
    """Create this app's plugin manager (built-ins first, then third-party plugins)."""
    from app.plugins.manager import PluginLoadError, build_plugin_manager
    from app.services.tokens import TokenIssuer

    try:
        manager = build_plugin_manager(app.config["PLUGINS"], safe_mode=app.config["SAFE_MODE"])
        manager.hook.configure(settings=app.config["WHARFINGER"], plugins=manager)
    except (PluginLoadError, ValueError) as exc:
        raise ConfigError("PLUGINS", ",".join(app.config["PLUGINS"]), str(exc)) from None
    app.extensions["wharfinger.plugins"] = manager
    app.extensions["wharfinger.tokens"] = TokenIssuer(app.config, manager)


def _init_jobs(app: Flask) -> None:
    """The job runner: RQ when Redis is configured, a thread of this process otherwise."""
    from app.jobs.runner import build_runner

    app.extensions["wharfinger.jobs"] = build_runner(app)


def _init_metrics(app: Flask) -> None:
    """The Prometheus recorder (its instruments are built on first use)."""
    from app.metrics import Metrics

    app.extensions["wharfinger.metrics"] = Metrics(app.extensions["wharfinger.jobs"].depth)


def _register_blueprints(app: Flask) -> None:
    """Attach every area's blueprint."""
    from app.blueprints import (
        account,
        admin,
        api,
        auth,
        dashboard,
        errors,
        main,
        metrics,
        namespaces,
        registry,
        repositories,
        teams,
    )
    from app.blueprints.web import IdConverter, install_page_helpers
    from app.extensions import csrf

    app.url_map.converters["int"] = IdConverter  # before any rule is added

    csrf.exempt(registry.bp)  # machine endpoints: Basic auth and the events secret
    csrf.exempt(api.bp)  # header credentials; the API checks CSRF itself for sessions
    for module in (
        main,
        metrics,
        registry,
        errors,
        auth,
        dashboard,
        account,
        teams,
        namespaces,
        repositories,
        admin,
        api,
    ):
        app.register_blueprint(module.bp)
    install_page_helpers(app)


def _register_commands(app: Flask) -> None:
    """Attach the ``wharfinger`` commands so ``flask --app wsgi ...`` works the same."""
    from app.cli import register_commands

    register_commands(app)
