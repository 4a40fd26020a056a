"""Liveness and readiness endpoints."""

from __future__ import annotations

from app import create_app


def test_live_and_ready(client):
    assert client.get("/-/live").get_json() == {"status": "ok"}
    ready = client.get("/-/ready")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"]["ok"] is True


def test_not_ready_without_schema_or_database(app_config, tmp_path):
    app_config["DATABASE_URL"] = f"sqlite:///{tmp_path / 'empty.db'}"
    empty = create_app(app_config).test_client().get("/-/ready")
    assert empty.status_code == 503
    assert "wharfinger init" in empty.get_json()["checks"]["database"]["message"]
    app_config["DATABASE_URL"] = "mysql+pymysql://nobody@127.0.0.1:1/x"
    down = create_app(app_config).test_client().get("/-/ready")
    assert down.status_code == 503 and down.get_json()["status"] == "unavailable"


def test_redis_down_is_reported(app_config):
    app_config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    response = create_app(app_config).test_client().get("/-/ready")
    assert response.status_code == 503
    assert "WHARFINGER_REDIS_URL" in response.get_json()["checks"]["redis"]["message"]
