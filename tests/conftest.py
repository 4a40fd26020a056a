"""Shared fixtures in the Flask tutorial's style: ``app``, ``client``, ``runner``.

The database comes from ``WHARFINGER_TEST_DATABASE_URL`` (MariaDB or PostgreSQL: the
suite drops and re-creates that database) or is a SQLite file. The schema is built once
per session by running the migrations; every test then starts from empty tables.
"""

from __future__ import annotations

import os

import pytest

# The developer's own WHARFINGER_* settings must not leak into tests.
for _name in [
    n for n in os.environ if n.startswith("WHARFINGER_") and not n.startswith("WHARFINGER_TEST_")
]:
    del os.environ[_name]

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.registry import keys  # noqa: E402
from tests.support import databases  # noqa: E402

TEST_DATABASE_URL = os.environ.get("WHARFINGER_TEST_DATABASE_URL", "")


def pytest_collection_modifyitems(items):
    """Mark every test that uses the database, so ``-m db`` re-runs them on other servers."""
    for item in items:
        if {"app", "database_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def signing_files(tmp_path_factory):
    """One RSA-2048 token-signing key and certificate for the whole session."""
    folder = tmp_path_factory.mktemp("signing")
    key = keys.generate_private_key("RS256", rsa_bits=2048)
    cert = keys.self_signed_certificate(key, "wharfinger tests", ["localhost", "127.0.0.1"])
    (folder / "signing.key").write_bytes(keys.private_key_pem(key))
    (folder / "signing.crt").write_bytes(keys.certificate_pem(cert))
    return {"SIGNING_KEY": str(folder / "signing.key"), "SIGNING_CERT": str(folder / "signing.crt")}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A database with the migrated schema, shared by the session."""
    if TEST_DATABASE_URL:
        url = databases.recreate_database(TEST_DATABASE_URL)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'wharfinger-test.db'}"
    migrate_to_head(url, tmp_path_factory.mktemp("migrate-instance"))
    yield url
    if TEST_DATABASE_URL:
        databases.drop_database(url)


def migrate_to_head(url: str, instance_path) -> None:
    """Run every migration against ``url`` (this is how the test schema is built)."""
    from flask_migrate import upgrade

    app = create_app(
        {"DATABASE_URL": url, "INSTANCE_PATH": str(instance_path), "SECRET_KEY": "migrations"}
    )
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        db.engine.dispose()


@pytest.fixture
def app_config(database_url, signing_files, tmp_path):
    """Settings for a test app; tests may change entries before ``app`` is built."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key",
        "EVENTS_SECRET": "test-events-secret",
        "FQDN": "wharfinger.test",
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",  # cheap KDF: tests create many users
        **signing_files,
    }


@pytest.fixture
def app(app_config):
    """A fresh app over empty tables."""
    application = create_app(app_config)
    with application.app_context():
        yield application
        db.session.remove()
        databases.delete_all_rows(db.engine, db.metadata)
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client for ``app``."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner for ``app``'s commands."""
    return app.test_cli_runner()


@pytest.fixture
def plugins(app):
    """The app's plugin manager."""
    return app.extensions["wharfinger.plugins"]
