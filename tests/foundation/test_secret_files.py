"""WHARFINGER_<NAME>_FILE: secrets read from files (Docker and Kubernetes secrets)."""

from __future__ import annotations

import subprocess

import pytest

from app import create_app
from app.config import ConfigError, load_settings
from tests.support.serve import WHARFINGER, clean_env

SECRETS = {
    "SECRET_KEY": "k" * 40,
    "EVENTS_SECRET": "events-secret",
    "DATABASE_URL": "mysql+pymysql://wharf:pw@127.0.0.1/wharf",
    "REDIS_URL": "redis://:pw@127.0.0.1:6379/7",
    "METRICS_TOKEN": "metrics-token",
}


@pytest.mark.parametrize(("name", "value"), SECRETS.items())
def test_each_secret_can_come_from_a_file(tmp_path, name, value):
    path = tmp_path / name.lower()
    path.write_text(value + "\n")  # echo and most editors add the newline
    settings = load_settings(environ={f"WHARFINGER_{name}_FILE": str(path)})
    assert settings[name] == value
    assert f"{name}_FILE" not in settings


def test_the_config_file_may_name_secret_files(tmp_path):
    (tmp_path / "secret").write_text("from-a-file")
    config = tmp_path / "wharfinger.toml"
    config.write_text(f'secret_key_file = "{tmp_path / "secret"}"\n')
    assert load_settings(environ={"WHARFINGER_CONFIG": str(config)})["SECRET_KEY"] == "from-a-file"


def test_both_the_value_and_the_file_is_an_error(tmp_path):
    (tmp_path / "secret").write_text("one")
    environ = {
        "WHARFINGER_SECRET_KEY": "two",
        "WHARFINGER_SECRET_KEY_FILE": str(tmp_path / "secret"),
    }
    with pytest.raises(ConfigError) as error:
        load_settings(environ=environ)
    message = str(error.value)
    assert "WHARFINGER_SECRET_KEY_FILE" in message and "not both" in message
    assert "one" not in message.split("expected")[0] and "two" not in message
    assert "\n" not in message


@pytest.mark.parametrize("problem", ["missing", "directory", "binary"])
def test_an_unreadable_file_is_named(tmp_path, problem):
    path = tmp_path / "secret"
    if problem == "directory":
        path.mkdir()
    if problem == "binary":
        path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError) as error:
        load_settings(environ={"WHARFINGER_EVENTS_SECRET_FILE": str(path)})
    assert "WHARFINGER_EVENTS_SECRET_FILE" in str(error.value)
    assert "a readable file" in str(error.value) and "\n" not in str(error.value)


def test_the_app_uses_the_operators_file_and_generates_nothing(tmp_path, monkeypatch):
    secret = tmp_path / "run-secrets" / "secret_key"
    secret.parent.mkdir()
    secret.write_text("operator-secret\n")
    instance = tmp_path / "instance"
    monkeypatch.setenv("WHARFINGER_SECRET_KEY_FILE", str(secret))
    app = create_app({"INSTANCE_PATH": str(instance)})
    assert app.config["SECRET_KEY"] == "operator-secret"
    assert not (instance / "secret_key").exists()
    assert (instance / "events_secret").exists()  # the other secret is still generated


def test_a_missing_file_is_not_created_but_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("WHARFINGER_SECRET_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="WHARFINGER_SECRET_KEY_FILE"):
        create_app({"INSTANCE_PATH": str(tmp_path / "instance")})
    assert not (tmp_path / "absent").exists()


def test_the_command_prints_one_line_and_exits_2(tmp_path):
    env = clean_env(INSTANCE_PATH=str(tmp_path), DATABASE_URL_FILE=str(tmp_path / "absent"))
    result = subprocess.run([WHARFINGER, "doctor"], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert (
        result.stderr.strip().count("\n") == 0 and "WHARFINGER_DATABASE_URL_FILE" in result.stderr
    )
    assert "Traceback" not in result.stderr
