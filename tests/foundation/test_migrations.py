"""Migrations build the schema from empty on SQLite, MariaDB and PostgreSQL, matching the models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db
from tests.conftest import TEST_DATABASE_URL
from tests.support import databases


def _scratch_url(tmp_path) -> str:
    """An empty database of the kind under test."""
    if TEST_DATABASE_URL:
        base = databases.with_database_name(TEST_DATABASE_URL, "wharfinger_test_migrations")
        return databases.recreate_database(base)
    return f"sqlite:///{tmp_path / 'scratch.db'}"


def _differences(app) -> list:
    """What autogenerate would change to make the database match the models."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_upgrade_from_empty_matches_models_and_downgrades(tmp_path, database_url):
    url = _scratch_url(tmp_path)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"})
    try:
        with app.app_context():
            directory = app.extensions["migrate"].directory
            upgrade(directory=directory)
            tables = set(sa.inspect(db.engine).get_table_names())
            assert set(db.metadata.tables) <= tables
            assert _differences(app) == []
            downgrade(directory=directory, revision="base")
            assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
            upgrade(directory=directory)
            assert _differences(app) == []
            db.engine.dispose()
    finally:
        databases.drop_database(url)


def test_mysql_urls_use_pymysql_with_utf8mb4():
    from app.database import normalise_database_url

    url = normalise_database_url("mysql://wh:pw@db.example/wharfinger")
    assert url.startswith("mysql+pymysql://wh:pw@db.example/wharfinger")
    assert "charset=utf8mb4" in url
    assert normalise_database_url("postgresql://u@h/d").startswith("postgresql+psycopg://")
