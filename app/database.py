"""Database URL normalisation and per-dialect engine options."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url


def normalise_database_url(url: str) -> str:
    """Use PyMySQL with utf8mb4 for MariaDB/MySQL and psycopg 3 for PostgreSQL.

    ``mysql://`` and ``mariadb://`` get the ``+pymysql`` driver, ``postgresql://`` gets
    ``+psycopg``; MySQL URLs always get ``charset=utf8mb4`` (Portus's utf8 lost emoji and
    broke pushes, issue #1182).
    """
    if url.startswith("postgres://") or url.startswith("postgres+"):
        url = "postgresql" + url[len("postgres") :]  # the spelling Heroku and many tools use
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("mysql", "mariadb"):
        parsed = parsed.set(drivername="mysql+pymysql")
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    elif backend == "postgresql" and "+" not in parsed.drivername:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def engine_options(url: str) -> dict:
    """Pool options: pre-ping and recycle for server databases, a busy timeout for SQLite."""
    if make_url(url).get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True, "pool_recycle": 1800}


def install_sqlite_pragmas(engine: sa.Engine) -> None:
    """Turn on foreign keys (for ON DELETE CASCADE) and WAL on every SQLite connection."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
