"""Settings: parsing, validation messages, the config file, and the documented table."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import create_app
from app.config import ConfigError, configuration_table, load_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_documented_table_matches_the_code():
    assert configuration_table() in DOCS.read_text()


def test_defaults_without_any_setting():
    settings = load_settings(environ={})
    assert settings["TOKEN_TTL"] == 900
    assert settings["PUSH_POLICY"] == "allow-teams"
    assert settings["REDIS_URL"] is None


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TOKEN_TTL", "10", "at least 60s"),
        ("TOKEN_TTL", "soon", "duration"),
        ("PUSH_POLICY", "everyone", "allow-teams"),
        ("DELETE_ENABLED", "maybe", "boolean"),
        ("DATABASE_URL", "oracle://x", "URL starting with"),
        ("REDIS_URL", "localhost:6379", "redis://"),
        ("LOCKOUT_ATTEMPTS", "0", "at least 1"),
        ("PASSWORD_HASH_METHOD", "md5", "scrypt"),
    ],
)
def test_wrong_values_name_the_setting(name, value, expected):
    with pytest.raises(ConfigError) as error:
        load_settings(environ={f"WHARFINGER_{name}": value})
    assert f"WHARFINGER_{name}" in str(error.value)
    assert expected in str(error.value)


def test_durations_and_lists():
    settings = load_settings(
        environ={"WHARFINGER_TOKEN_TTL": "15m", "WHARFINGER_PLUGINS": "a.b, c.d"}
    )
    assert settings["TOKEN_TTL"] == 900
    assert settings["PLUGINS"] == ("a.b", "c.d")


def test_config_file_and_environment_priority(tmp_path):
    path = tmp_path / "wharfinger.toml"
    path.write_text('fqdn = "from-file.example"\ntoken_ttl = "30m"\n')
    settings = load_settings(environ={"WHARFINGER_CONFIG": str(path), "WHARFINGER_TOKEN_TTL": "1h"})
    assert settings["FQDN"] == "from-file.example"
    assert settings["TOKEN_TTL"] == 3600


def test_config_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("unknown_thing = 1\n")
    with pytest.raises(ConfigError, match="unknown: unknown_thing"):
        load_settings(environ={"WHARFINGER_CONFIG": str(bad)})
    with pytest.raises(ConfigError, match="readable TOML"):
        load_settings(environ={"WHARFINGER_CONFIG": str(tmp_path / "missing.toml")})


def test_factory_generates_secret_key_once(tmp_path):
    first = create_app({"INSTANCE_PATH": str(tmp_path)})
    second = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SQLALCHEMY_DATABASE_URI"].endswith("wharfinger.db")
    assert first.config["TOKEN_ISSUER"] == "localhost"


def test_database_url_errors_hide_the_password(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_settings(environ={"WHARFINGER_DATABASE_URL": "oracle://wharf:S3cretPW@db/wharf"})
    assert "S3cretPW" not in str(error.value) and "***" in str(error.value)
    with pytest.raises(ConfigError, match="WHARFINGER_DATABASE_URL"):
        create_app(
            {
                "INSTANCE_PATH": str(tmp_path),
                "SECRET_KEY": "k",
                "DATABASE_URL": "mysql://u:pw@h:notaport/db",
            }
        )


def test_names_refuse_a_trailing_newline():
    from app.services import names
    from app.services.errors import Invalid

    for check, value in (
        (names.check_username, "alice\n"),
        (names.check_namespace_name, "ns\n"),
        (names.check_team_name, "devs\nx"),
    ):
        with pytest.raises(Invalid):
            check(value)
