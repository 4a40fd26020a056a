"""/metrics protection (WHARFINGER_METRICS) and the client address behind proxies."""

from __future__ import annotations

import pytest

from app import ConfigError, create_app
from app.blueprints.metrics import is_loopback

REMOTE = {"REMOTE_ADDR": "203.0.113.9"}
FORGED = {"X-Forwarded-For": "127.0.0.1"}


def _client(app_config, **settings):
    return create_app({**app_config, **settings}).test_client()


def test_localhost_is_the_default_and_refuses_remote_clients(app_config):
    client = _client(app_config)
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    refused = client.get("/metrics", environ_base=REMOTE)
    assert refused.status_code == 403 and b"loopback" in refused.data


def test_without_a_proxy_forwarded_headers_change_nothing(app_config):
    client = _client(app_config)
    assert client.get("/metrics", environ_base=REMOTE, headers=FORGED).status_code == 403


def test_behind_a_proxy_the_forwarded_client_address_is_checked(app_config):
    client = _client(app_config, PROXY_COUNT=1)
    remote_via_proxy = {"X-Forwarded-For": "203.0.113.9"}
    assert client.get("/metrics", headers=remote_via_proxy).status_code == 403
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200


def test_token_mode_needs_the_bearer_token(app_config):
    client = _client(app_config, METRICS="token", METRICS_TOKEN="s3cret-metrics")
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    right = {"Authorization": "Bearer s3cret-metrics"}
    response = client.get("/metrics", environ_base=REMOTE, headers=right)
    assert response.status_code == 200 and b"wharfinger_job_queue_depth" in response.data


def test_public_and_off(app_config):
    assert (
        _client(app_config, METRICS="public").get("/metrics", environ_base=REMOTE).status_code
        == 200
    )
    assert _client(app_config, METRICS="off").get("/metrics").status_code == 404


def test_token_mode_without_a_token_is_a_config_error(app_config):
    with pytest.raises(ConfigError, match="WHARFINGER_METRICS_TOKEN"):
        create_app({**app_config, "METRICS": "token"})


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("", False),
        (None, False),
        ("x", False),
    ],
)
def test_is_loopback(address, loopback):
    assert is_loopback(address) is loopback
