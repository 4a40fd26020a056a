"""Scratch databases for tests: SQLite files, or databases created on MariaDB/PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.database import normalise_database_url


def is_sqlite(url: str) -> bool:
    """True for SQLite URLs."""
    return make_url(url).get_backend_name() == "sqlite"


def _server_engine(url: str) -> sa.Engine:
    """An AUTOCOMMIT engine on the server's maintenance database (for CREATE/DROP DATABASE)."""
    parsed = make_url(normalise_database_url(url))
    maintenance = "postgres" if parsed.get_backend_name() == "postgresql" else None
    return sa.create_engine(parsed._replace(database=maintenance), isolation_level="AUTOCOMMIT")


def recreate_database(url: str) -> str:
    """Drop and create the database named in a server URL; returns the normalised URL."""
    parsed = make_url(normalise_database_url(url))
    name = parsed.database
    engine = _server_engine(url)
    quoted = engine.dialect.identifier_preparer.quote(name)
    with engine.connect() as connection:
        if parsed.get_backend_name() == "postgresql":
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
            connection.execute(sa.text(f"CREATE DATABASE {quoted} ENCODING 'UTF8'"))
        else:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted}"))
            connection.execute(
                sa.text(f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            )
    engine.dispose()
    return parsed.render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database named in a server URL (no-op for SQLite)."""
    if is_sqlite(url):
        return
    parsed = make_url(normalise_database_url(url))
    engine = _server_engine(url)
    quoted = engine.dialect.identifier_preparer.quote(parsed.database)
    with engine.connect() as connection:
        force = " WITH (FORCE)" if parsed.get_backend_name() == "postgresql" else ""
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted}{force}"))
    engine.dispose()


def with_database_name(url: str, name: str) -> str:
    """The same server URL pointing at another database name."""
    parsed = make_url(normalise_database_url(url))
    return parsed.set(database=name).render_as_string(hide_password=False)


def delete_all_rows(engine: sa.Engine, metadata: sa.MetaData) -> None:
    """Empty every table, children first (fast per-test isolation that works across processes)."""
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
