"""Settings: one table of every ``WHARFINGER_*`` variable, parsed and validated at start.

Sources, highest priority first: the ``config`` mapping given to ``create_app`` (tests),
the environment, then an optional TOML file named by ``WHARFINGER_CONFIG`` whose keys are
the setting names without the prefix, in lower case (``database_url = "..."``).
A wrong value raises ``ConfigError`` naming the variable and what is expected; the CLI and
the WSGI entry point print that one line instead of a traceback.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.models.enums import PushPolicy

PREFIX = "WHARFINGER_"


class ConfigError(ValueError):
    """A setting has a wrong value; ``str()`` is the one line shown to the operator."""

    def __init__(self, name: str, value: Any, expected: str):
        super().__init__(f"{PREFIX}{name}={redact(value)!r} is invalid: expected {expected}")
        self.name = name


def redact(value: Any) -> Any:
    """Hide a password inside a URL (``scheme://user:secret@host`` → ``user:***@``)."""
    if isinstance(value, str):
        return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", value)
    return value


def _parse_bool(value: str) -> bool:
    """Accept the usual spellings of yes and no."""
    lowered = str(value).strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("a boolean (true/false)")


_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: str) -> int:
    """Seconds from ``900``, ``900s``, ``15m``, ``1h`` (Portus's CATALOG_CRON style)."""
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError("a duration such as 900, 900s, 15m or 1h")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _parse_count(value: str) -> int:
    """A whole number of at least 0."""
    number = int(str(value).strip())
    if number < 0:
        raise ValueError("a whole number of at least 0")
    return number


def _parse_positive_int(value: str) -> int:
    """A whole number of at least 1."""
    number = int(str(value).strip())
    if number < 1:
        raise ValueError("a whole number of at least 1")
    return number


def _parse_choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    """A parser accepting exactly one of ``choices``."""

    def parse(value: str) -> str:
        if str(value) not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return str(value)

    return parse


def _parse_list(value: str) -> tuple[str, ...]:
    """Comma- or space-separated list (module paths for WHARFINGER_PLUGINS)."""
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return tuple(part for part in re.split(r"[,\s]+", str(value)) if part)


def _parse_url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    """A URL whose scheme starts with one of ``schemes``."""

    def parse(value: str) -> str:
        text = str(value).strip()
        if text.split("://", 1)[0].split("+", 1)[0] not in schemes or "://" not in text:
            raise ValueError("a URL starting with " + " or ".join(f"{s}://" for s in schemes))
        return text

    return parse


_HASH_METHOD = re.compile(r"^(scrypt(:\d+:\d+:\d+)?|pbkdf2(:sha(256|512)(:\d+)?)?)$")


def _parse_hash_method(value: str) -> str:
    """A werkzeug password-hash method string."""
    if not _HASH_METHOD.match(str(value)):
        raise ValueError("scrypt, scrypt:N:r:p, pbkdf2, or pbkdf2:sha256:ITERATIONS")
    return str(value)


@dataclass(frozen=True)
class Setting:
    """One configuration variable: its name (without prefix), default, parser and meaning."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    meaning: str
    expected: str = ""
    secret: bool = False  # may also be read from the file named by WHARFINGER_<NAME>_FILE


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "INSTANCE_PATH",
        None,
        str,
        "Folder for the SQLite database, generated keys and secrets.",
        "a folder path",
    ),
    Setting(
        "DATABASE_URL",
        None,
        _parse_url(("sqlite", "mysql", "mariadb", "postgresql", "postgres")),
        "SQLAlchemy URL. Default: SQLite file `wharfinger.db` in the instance folder. "
        "MariaDB/MySQL: `mysql+pymysql://user:pw@host/db` (utf8mb4 is forced); "
        "PostgreSQL: `postgresql+psycopg://user:pw@host/db`.",
        secret=True,
    ),
    Setting(
        "REDIS_URL",
        None,
        _parse_url(("redis", "rediss", "unix")),
        "Redis for RQ jobs and the reconciliation lock. Unset: jobs run in the web processes.",
        secret=True,
    ),
    Setting(
        "SECRET_KEY",
        None,
        str,
        "Signs sessions and CSRF tokens and keys the credential cache. Default: generated "
        "once into `secret_key` in the instance folder. Must be the same on every instance.",
        secret=True,
    ),
    Setting(
        "FQDN",
        "localhost",
        str,
        "The machine's name as clients reach it; the JWT issuer (`iss`) unless "
        "WHARFINGER_TOKEN_ISSUER is set, and a SAN of the generated certificates.",
    ),
    Setting(
        "URL",
        None,
        _parse_url(("https", "http")),
        "Base URL at which clients and the registry reach Wharfinger (the token realm is "
        "URL/v2/token, notifications go to URL/v2/webhooks/events). Default: "
        "https://FQDN:8443.",
    ),
    Setting(
        "TOKEN_ISSUER",
        None,
        str,
        "The `iss` claim; must equal the registry's `auth.token.issuer`. Default: FQDN.",
    ),
    Setting(
        "SIGNING_KEY",
        None,
        str,
        "PEM private key that signs registry tokens. Default: `token-signing.key` in the "
        "instance folder, generated by `wharfinger init`.",
    ),
    Setting(
        "SIGNING_CERT",
        None,
        str,
        "PEM certificate of the signing key; the registry's `rootcertbundle`. Default: "
        "`token-signing.crt` in the instance folder.",
    ),
    Setting(
        "SIGNING_ALGORITHM",
        "RS256",
        _parse_choice(("RS256", "ES256")),
        "JWT algorithm for newly generated keys and signing: RS256 (RSA) or ES256 (P-256).",
    ),
    Setting(
        "TLS_CERT",
        None,
        str,
        "PEM certificate for HTTPS. Default: `tls.crt` in the instance folder.",
    ),
    Setting("TLS_KEY", None, str, "PEM key for HTTPS. Default: `tls.key` in the instance folder."),
    Setting(
        "EVENTS_SECRET",
        None,
        str,
        "Shared secret the registry sends as `Authorization: Bearer <secret>` with its "
        "notifications. Default: generated once into `events_secret` in the instance folder.",
        secret=True,
    ),
    Setting(
        "TOKEN_TTL",
        900,
        parse_duration,
        "Lifetime of registry tokens (seconds or 15m/1h). At least 60 s; 15 min default "
        "so large pushes do not outlive their token.",
        "a duration of at least 60s",
    ),
    Setting(
        "PUSH_POLICY",
        PushPolicy.ALLOW_TEAMS.value,
        _parse_choice(tuple(p.value for p in PushPolicy)),
        "Who may push: `allow-teams` (owners and contributors), `allow-personal` (only "
        "into one's personal namespace) or `admin-only`. Admins may always push.",
    ),
    Setting(
        "DELETE_ENABLED",
        True,
        _parse_bool,
        "Allow deleting tags, repositories, namespaces and teams.",
    ),
    Setting(
        "DELETE_CONTRIBUTORS",
        False,
        _parse_bool,
        "Contributors may delete too (owners always may).",
    ),
    Setting("SIGNUP_ENABLED", True, _parse_bool, "Show the sign-up page."),
    Setting("FIRST_USER_ADMIN", True, _parse_bool, "The first account created becomes an admin."),
    Setting(
        "ANONYMOUS_BROWSING", True, _parse_bool, "Anonymous visitors may browse public namespaces."
    ),
    Setting(
        "LOCKOUT_ATTEMPTS",
        10,
        _parse_positive_int,
        "Failed logins in a row that lock an account (Portus: 10).",
    ),
    Setting("LOCKOUT_MINUTES", 10, _parse_positive_int, "How long a locked account stays locked."),
    Setting(
        "CREDENTIAL_CACHE_TTL",
        300,
        parse_duration,
        "How long a verified password is remembered (as a keyed hash) so repeated `docker` "
        "requests skip the password KDF. 0 disables the fast path.",
    ),
    Setting(
        "PASSWORD_HASH_METHOD",
        "scrypt",
        _parse_hash_method,
        "KDF for new password hashes, as a werkzeug method string (`scrypt`, "
        "`scrypt:32768:8:1`, `pbkdf2:sha256:600000`). Existing hashes keep working.",
    ),
    Setting(
        "SYNC_STRATEGY",
        "update",
        _parse_choice(("initial", "on-start", "update", "update-delete", "off")),
        "Catalog reconciliation: `update` (periodic, adds and updates), `update-delete` "
        "(periodic, also removes what the registry no longer has, never after a partial "
        "read), `on-start` (one update-delete pass at start), `initial` (one pass while the "
        "database has no repositories), `off`.",
    ),
    Setting(
        "SYNC_INTERVAL",
        600,
        parse_duration,
        "Time between reconciliation passes (`10s`, `5m`; Portus's CATALOG_CRON).",
        "a duration such as 10s or 5m",
    ),
    Setting(
        "EVENTS_RETENTION",
        30 * 86400,
        parse_duration,
        "How long applied and ignored registry events are kept (`30d`); failed ones stay "
        "until an admin deals with them.",
        "a duration such as 30d",
    ),
    Setting(
        "REGISTRY_CA_BUNDLE",
        None,
        str,
        "PEM bundle of CAs trusted when Wharfinger talks to registries (catalog, manifests). "
        "Default: the system's CAs. Set it for a registry with a self-signed certificate.",
    ),
    Setting(
        "PLUGINS", (), _parse_list, "Extra plugin modules to load (comma-separated import paths)."
    ),
    Setting(
        "SAFE_MODE",
        False,
        _parse_bool,
        "Start with built-in plugins only: ignore entry points and WHARFINGER_PLUGINS.",
    ),
    Setting(
        "PROXY_COUNT",
        0,
        _parse_count,
        "How many reverse proxies in front of Wharfinger set `X-Forwarded-For/-Proto/-Host/"
        "-Port` (werkzeug ProxyFix). 0: not behind a proxy, those headers are ignored.",
        "a whole number of at least 0",
    ),
    Setting(
        "METRICS",
        "localhost",
        _parse_choice(("off", "localhost", "token", "public")),
        "Who may read Prometheus metrics at `/metrics`: `off`, `localhost` (loopback "
        "clients only), `token` (`Authorization: Bearer` WHARFINGER_METRICS_TOKEN) or "
        "`public`.",
    ),
    Setting(
        "METRICS_TOKEN",
        None,
        str,
        "Bearer token for `/metrics` when WHARFINGER_METRICS is `token`.",
        secret=True,
    ),
    Setting(
        "LOG_LEVEL",
        "INFO",
        _parse_choice(("DEBUG", "INFO", "WARNING", "ERROR")),
        "Log level.",
    ),
    Setting(
        "LOG_FORMAT",
        "text",
        _parse_choice(("text", "json")),
        "`text` or `json` (one object per line); every line carries the request id.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}
FILE_SUFFIX = "_FILE"
_SECRET_FILES = {s.name + FILE_SUFFIX: s.name for s in SETTINGS if s.secret}


def _file_values(environ: Mapping[str, str]) -> dict[str, Any]:
    """Values from the optional TOML file named by WHARFINGER_CONFIG."""
    path = environ.get(PREFIX + "CONFIG")
    if not path:
        return {}
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError("CONFIG", path, f"a readable TOML file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("CONFIG", path, f"valid TOML ({exc})") from None
    unknown = sorted(
        k for k in data if k.upper() not in _BY_NAME and k.upper() not in _SECRET_FILES
    )
    if unknown:
        raise ConfigError("CONFIG", path, "only known settings; unknown: " + ", ".join(unknown))
    return {k.upper(): v for k, v in data.items()}


def _parse_setting(setting: Setting, raw: Any) -> Any:
    """Parse one raw value, turning any parser failure into a ConfigError."""
    if raw is None:
        return setting.default
    try:
        return setting.parse(raw)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            setting.name, raw, setting.expected or str(exc) or "a valid value"
        ) from None


def _read_secret_files(raw: dict[str, Any]) -> None:
    """Replace each ``<NAME>_FILE`` by ``<NAME>`` read from that file (Docker and
    Kubernetes secrets); the trailing newline is dropped."""
    for file_key, name in _SECRET_FILES.items():
        path = raw.pop(file_key, None)
        if path is None:
            continue
        if name in raw:
            raise ConfigError(
                file_key, path, f"either {PREFIX}{name} or {PREFIX}{file_key}, not both"
            )
        try:
            raw[name] = Path(str(path)).read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise ConfigError(file_key, path, f"a readable file ({reason})") from None


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Read, parse and validate every setting; returns ``{NAME: value}`` without the prefix."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = _file_values(environ)
    raw.update({k[len(PREFIX) :]: v for k, v in environ.items() if k.startswith(PREFIX)})
    for key, value in (overrides or {}).items():
        raw[key.removeprefix(PREFIX)] = value
    _read_secret_files(raw)
    values = {s.name: _parse_setting(s, raw.get(s.name)) for s in SETTINGS}
    if values["TOKEN_TTL"] < 60:
        raise ConfigError("TOKEN_TTL", raw.get("TOKEN_TTL"), "a duration of at least 60s")
    if values["METRICS"] == "token" and not values["METRICS_TOKEN"]:
        raise ConfigError("METRICS", "token", "WHARFINGER_METRICS_TOKEN to be set as well")
    extra = {k: v for k, v in raw.items() if k not in _BY_NAME and k != "CONFIG"}
    values.update(extra)  # pass-through for Flask keys given by tests (TESTING, ...)
    return values


def default_paths(instance_path: str) -> dict[str, str]:
    """Where generated files live inside the instance folder."""
    folder = Path(instance_path)
    return {
        "DATABASE_URL": f"sqlite:///{folder / 'wharfinger.db'}",
        "SIGNING_KEY": str(folder / "token-signing.key"),
        "SIGNING_CERT": str(folder / "token-signing.crt"),
        "TLS_KEY": str(folder / "tls.key"),
        "TLS_CERT": str(folder / "tls.crt"),
        # Where generated secrets are kept; not WHARFINGER_<NAME>_FILE, which the operator
        # sets to read a secret from a file of their own.
        "GENERATED_SECRET_KEY_PATH": str(folder / "secret_key"),
        "GENERATED_EVENTS_SECRET_PATH": str(folder / "events_secret"),
    }


def configuration_table() -> str:
    """The Markdown table of every setting (docs/configuration.md is checked against it)."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        default = setting.default
        shown = "(unset)" if default in (None, ()) else f"`{default}`"
        if isinstance(default, bool):
            shown = f"`{str(default).lower()}`"
        lines.append(f"| `{PREFIX}{setting.name}` | {shown} | {setting.meaning} |")
        if setting.secret:
            lines.append(
                f"| `{PREFIX}{setting.name}{FILE_SUFFIX}` | (unset) | Read {PREFIX}"
                f"{setting.name} from this file (Docker/Kubernetes secrets; the trailing "
                "newline is dropped). Not together with the variable itself. |"
            )
    return "\n".join(lines) + "\n"
